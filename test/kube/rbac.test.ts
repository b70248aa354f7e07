import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigMapStateStore, EventRecorder, IngressStatusWriter, LeaderElector, isAllowed, loadKubeConfig, rbacRules, resolveControllerInstance, type IngressStatusWriterOptions } from "../../src/kube/index.js";
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
    { name: "update leases allowed (renew, release)", group: "coordination.k8s.io", resource: "leases", verb: "update", allowed: true },
    { name: "delete leases not allowed", group: "coordination.k8s.io", resource: "leases", verb: "delete", allowed: false },
    { name: "update ingresses/status not allowed (merge patch only)", group: "networking.k8s.io", resource: "ingresses/status", verb: "update", allowed: false },
    { name: "get nodes allowed (status addresses)", group: "", resource: "nodes", verb: "get", allowed: true },
    { name: "list nodes not allowed", group: "", resource: "nodes", verb: "list", allowed: false },
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
    // Leader election and Ingress status, in each way of finding the addresses.
    a.apply({ apiVersion: "v1", kind: "Service", metadata: { name: "ppi-lb", namespace: "default" }, spec: { type: "ClusterIP", clusterIP: "10.96.0.99", ports: [{ port: 80 }] } });
    a.apply({ apiVersion: "v1", kind: "Pod", metadata: { name: "ppi-0", namespace: "default", labels: { app: "ppi" } }, spec: { nodeName: "node-1", containers: [{ name: "c", image: "x" }] }, status: { phase: "Running" } });
    a.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "node-1" }, status: { addresses: [{ type: "InternalIP", address: "10.1.0.1" }] } });
    const dir = mkdtempSync(join(tmpdir(), "ppi-rbac-"));
    const path = join(dir, "kubeconfig");
    writeFileSync(path, a.kubeconfig(), { mode: 0o600 });
    const { kubeConfig } = loadKubeConfig({ kubeconfigFlag: path, env: {} });
    rmSync(dir, { recursive: true, force: true });
    const logger = pino({ level: "silent" });
    const instance = resolveControllerInstance({ env: { POD_NAME: "ppi-0", POD_NAMESPACE: "default" } });
    const elector = new LeaderElector({ kubeConfig, logger, instance, leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 });
    const modes: Array<Partial<IngressStatusWriterOptions>> = [{ publishService: { namespace: "default", name: "ppi-lb" } }, {}, { podSelector: "app=ppi" }];
    const writers = modes.map((mode) => new IngressStatusWriter({ kubeConfig, logger, leadership: elector, instance, minPassIntervalMs: 10, ...mode }));
    const view = harness.source.current().view;
    for (const w of writers) {
      w.start();
      w.observe({ view, diagnostics: [], accepted: view.ingresses.map((i) => `${i.metadata.namespace}/${i.metadata.name}`).sort(), snapshotVersion: "rbac" });
    }
    elector.start();
    await waitFor(() => (writers.every((w) => w.passes >= 1) && a.requests.some((r) => r.resource === "leases" && r.verb === "update") ? true : undefined), { what: "status passes and a renewal" });
    // An Ingress changed after the writers' LIST: each reads just that one's status (the GET fallback).
    const passesBefore = writers.map((w) => w.passes);
    a.apply({ ...ingress("web", "web-svc", { tlsSecret: "web-tls", host: "changed.example.com" }), status: { loadBalancer: { ingress: [{ ip: "192.0.2.9" }] } } });
    await waitFor(() => (harness?.source.current().view.ingresses.some((i) => i.spec.rules[0]?.host === "changed.example.com") ? true : undefined), { what: "change seen" });
    const changed = harness.source.current().view;
    for (const w of writers) w.observe({ view: changed, diagnostics: [], accepted: changed.ingresses.map((i) => `${i.metadata.namespace}/${i.metadata.name}`).sort(), snapshotVersion: "rbac-2" });
    await waitFor(() => (writers.every((w, i) => w.passes > (passesBefore[i] ?? 0)) && writers.every((w) => w.reads >= 1) ? true : undefined), { what: "fallback reads" });
    await Promise.all(writers.map((w) => w.close()));
    await elector.stop();
    // Events: one created for a diagnostic, then its series patched once the interval has passed.
    let clock = Date.now();
    const events = new EventRecorder({ kubeConfig, logger, identity: instance.identity, seriesIntervalMs: 10, now: () => clock });
    const first = view.ingresses[0];
    expect(first).toBeDefined();
    const diagnostics = [{ severity: "error" as const, kind: "Ingress" as const, object: `${first?.metadata.namespace ?? ""}/${first?.metadata.name ?? ""}`, reason: "InvalidAnnotation", message: "bad value" }];
    events.observe({ view, diagnostics, accepted: [], snapshotVersion: "rbac" });
    await waitFor(() => (events.writes >= 1 ? true : undefined), { what: "event created" });
    clock += 1000;
    events.observe({ view, diagnostics, accepted: [], snapshotVersion: "rbac" });
    await waitFor(() => (events.writes >= 2 ? true : undefined), { what: "event series patched" });
    await events.close();
    expect(writers.reduce((n, w) => n + w.writes, 0)).toBeGreaterThan(0);
    // balancer-manager's runtime ConfigMap: watched, created by the first edit, then read and updated.
    const runtime = new ConfigMapStateStore({ kubeConfig, namespace: "default", name: "ppi-runtime", logger });
    await runtime.start();
    await runtime.update(() => ({ balancers: { "default/web-svc:80": { lbmethod: "random2", members: {} } } }));
    await runtime.update(() => ({ balancers: {} }));
    await runtime.close();

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
