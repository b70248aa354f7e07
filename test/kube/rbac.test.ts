import { afterEach, describe, expect, it } from "vitest";
import { isAllowed, rbacRules } from "../../src/kube/index.js";
import { startKubeApi, type KubeApi } from "../support/kube-api.js";
import { waitFor } from "../support/wait.js";
import { endpointSlice, ingress, ingressClass, kubeSource, service, tlsSecret, type SourceHarness } from "./kube-fixtures.js";

let api: KubeApi | null = null;
let harness: SourceHarness | null = null;
afterEach(async () => {
  await harness?.close();
  await api?.close();
});

describe("RBAC list", () => {
  it.each([
    { name: "list ingresses allowed", group: "networking.k8s.io", resource: "ingresses", verb: "list", allowed: true },
    { name: "watch TLS secrets allowed", group: "", resource: "secrets", verb: "watch", allowed: true },
    { name: "get secrets not allowed (list/watch only)", group: "", resource: "secrets", verb: "get", allowed: false },
    { name: "patch ingresses/status allowed", group: "networking.k8s.io", resource: "ingresses/status", verb: "patch", allowed: true },
    { name: "update ingresses (main resource) not allowed", group: "networking.k8s.io", resource: "ingresses", verb: "update", allowed: false },
    { name: "leases in the wrong group not allowed", group: "", resource: "leases", verb: "get", allowed: false },
  ])("$name", ({ group, resource, verb, allowed }) => {
    expect(isAllowed(rbacRules, group, resource, verb)).toBe(allowed);
  });

  it("every request the controller makes, through start, changes, faults and relists, is covered", async () => {
    api = await startKubeApi({ objects: [ingressClass(), ingress("web", "web-svc", { tlsSecret: "web-tls" }), service("web-svc"), endpointSlice("web-svc-a", "web-svc", ["10.0.0.1"]), tlsSecret("web-tls")], bookmarkIntervalMs: 200 });
    harness = kubeSource(api, { configMap: { namespace: "default", name: "settings" }, watchNamespace: "default" });
    await harness.source.start();
    const a = api;
    await waitFor(() => (a.watches().length >= 6 ? true : undefined), { what: "watches" });
    a.apply(ingress("two", "web-svc"));
    a.dropWatches();
    a.compact();
    await waitFor(() => (a.watches().length >= 6 && harness?.source.current().view.ingresses.length === 2 ? true : undefined), { timeoutMs: 5000, what: "recovered" });
    const seen = new Set<string>();
    for (const r of a.requests) {
      expect(r.verb, `${r.method} ${r.path}`).not.toBeNull();
      expect(r.group, `${r.method} ${r.path}`).not.toBeNull();
      const key = `${r.group ?? "?"}|${r.resource ?? "?"}|${r.verb ?? "?"}`;
      seen.add(key);
      expect(isAllowed(rbacRules, r.group ?? "?", r.resource ?? "?", r.verb ?? "?"), `${key} not in rbacRules`).toBe(true);
    }
    // And the implemented part of the list is not wider than what the controller does.
    for (const rule of rbacRules.filter((x) => x.implemented)) for (const verb of rule.verbs) expect(seen.has(`${rule.apiGroup}|${rule.resource}|${verb}`), `${rule.resource} ${verb} unused`).toBe(true);
  });
});
