import { afterEach, describe, expect, it } from "vitest";
import type { ClusterView, SourceChange } from "../../src/model/index.js";
import { startKubeApi, type KubeApi, type KubeObjectInput } from "../support/kube-api.js";
import { defaultWatchTuning } from "../../src/kube/index.js";
import { waitFor } from "../support/wait.js";
import { endpointSlice, ingress, ingressClass, kubeSource, secret, service, tlsSecret, type SourceHarness } from "./kube-fixtures.js";

let api: KubeApi | null = null;
let harness: SourceHarness | null = null;
afterEach(async () => {
  await harness?.close();
  await api?.close();
  harness = null;
  api = null;
});

async function setup(objects: KubeObjectInput[] = [], options: Parameters<typeof kubeSource>[1] = {}): Promise<{ api: KubeApi; h: SourceHarness }> {
  api = await startKubeApi({ objects, bookmarkIntervalMs: 500 });
  harness = kubeSource(api, options);
  await harness.source.start();
  // start() resolves after the lists; wait for the watches too, so fault injection hits them.
  const a = api;
  const informers = harness.source.informers().length;
  await waitFor(() => (a.watches().length >= informers ? true : undefined), { what: "watches open" });
  return { api, h: harness };
}

const base = (): KubeObjectInput[] => [ingressClass(), ingress("web", "web-svc", { tlsSecret: "web-tls" }), service("web-svc"), endpointSlice("web-svc-abc", "web-svc", ["10.0.0.1"]), tlsSecret("web-tls")];

const names = (items: ReadonlyArray<{ metadata: { name: string } }>): string[] => items.map((i) => i.metadata.name);

/** Waits (≤ 1 s) until `check(view)` holds and onChange fired since `before`. */
async function converges(h: SourceHarness, before: number, check: (view: ClusterView) => boolean, what: string): Promise<void> {
  await waitFor(() => (h.changes() > before && check(h.source.current().view) ? true : undefined), { timeoutMs: 1000, intervalMs: 10, what });
}

describe("KubeSource against the stand-in API server", () => {
  it("start() resolves only after every informer completed its initial list", async () => {
    api = await startKubeApi({ objects: base() });
    const release = api.failRequests((r) => r.verb === "list" && r.resource === "endpointslices", 503);
    harness = kubeSource(api);
    let started = false;
    const starting = harness.source.start().then(() => {
      started = true;
    });
    const a = api;
    await waitFor(() => (a.requests.filter((r) => r.verb === "list" && r.resource === "endpointslices").length >= 2 ? true : undefined), { what: "endpointslice list retried" });
    expect(started).toBe(false);
    expect(harness.source.synced).toBe(false);
    release();
    await starting;
    expect(harness.source.synced).toBe(true);
    const { view, diagnostics } = harness.source.current();
    expect(names(view.ingresses)).toEqual(["web"]);
    expect(names(view.endpointSlices)).toEqual(["web-svc-abc"]);
    expect(names(view.secrets)).toEqual(["web-tls"]);
    expect(names(view.ingressClasses)).toEqual(["proxypass"]);
    expect(diagnostics).toEqual([]);
    expect(harness.source.restarts()["endpointslices"]).toBeGreaterThanOrEqual(1);
  });

  it("normalises list results: kind and apiVersion set, timestamps as strings", async () => {
    const { h } = await setup(base());
    const ing = h.source.current().view.ingresses[0];
    expect(ing?.kind).toBe("Ingress");
    expect(ing?.apiVersion).toBe("networking.k8s.io/v1");
    expect(typeof ing?.metadata.creationTimestamp).toBe("string");
    expect(ing?.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  it("lists in pages of the tuning's page size (limit, then continue)", async () => {
    const many = Array.from({ length: 7 }, (_, i) => ingress(`ing-${i}`, "web-svc"));
    const { api: a, h } = await setup([...base(), ...many], { watchTuning: { ...defaultWatchTuning, listPageSize: 3 } });
    expect(names(h.source.current().view.ingresses)).toEqual([...many.map((i) => i.metadata.name ?? ""), "web"].sort());
    const lists = a.requests.filter((r) => r.verb === "list" && r.resource === "ingresses");
    expect(lists.map((r) => [r.query["limit"], r.query["continue"] !== undefined])).toEqual([
      ["3", false],
      ["3", true],
      ["3", true],
    ]);
  });

  const changes: Array<{ name: string; act: (api: KubeApi) => void; check: (v: ClusterView) => boolean }> = [
    { name: "Ingress created", act: (a) => a.apply(ingress("new", "web-svc")), check: (v) => names(v.ingresses).includes("new") },
    { name: "Ingress updated", act: (a) => a.apply(ingress("web", "web-svc", { host: "changed.example.com", tlsSecret: "web-tls" })), check: (v) => v.ingresses[0]?.spec.rules[0]?.host === "changed.example.com" },
    { name: "Ingress deleted", act: (a) => a.remove("Ingress", "default", "web"), check: (v) => v.ingresses.length === 0 },
    { name: "referenced Service updated", act: (a) => a.apply(service("web-svc", { port: 81 })), check: (v) => v.services[0]?.spec.ports[0]?.port === 81 },
    { name: "referenced Service deleted", act: (a) => a.remove("Service", "default", "web-svc"), check: (v) => v.services.length === 0 },
    { name: "EndpointSlice created", act: (a) => a.apply(endpointSlice("web-svc-def", "web-svc", ["10.0.0.2"])), check: (v) => v.endpointSlices.length === 2 },
    { name: "EndpointSlice updated", act: (a) => a.apply(endpointSlice("web-svc-abc", "web-svc", ["10.0.0.9"])), check: (v) => v.endpointSlices[0]?.endpoints[0]?.addresses[0] === "10.0.0.9" },
    { name: "EndpointSlice deleted", act: (a) => a.remove("EndpointSlice", "default", "web-svc-abc"), check: (v) => v.endpointSlices.length === 0 },
    { name: "referenced Secret updated", act: (a) => a.apply(tlsSecret("web-tls", "bmV3")), check: (v) => v.secrets[0]?.data["tls.crt"] === "bmV3" },
    { name: "referenced Secret deleted", act: (a) => a.remove("Secret", "default", "web-tls"), check: (v) => v.secrets.length === 0 },
    { name: "Secret created after its Ingress", act: (a) => a.apply(ingress("late", "web-svc", { tlsSecret: "late-tls" })), check: (v) => names(v.ingresses).includes("late") },
  ];
  it.each(changes)("$name reaches current() and fires onChange within 1 s", async ({ act, check }) => {
    const { api: a, h } = await setup(base());
    const before = h.changes();
    act(a);
    await converges(h, before, check, "change");
  });

  const hints: Array<{ name: string; act: (api: KubeApi) => void; hint: SourceChange }> = [
    { name: "EndpointSlice updated: its Service, endpoints only", act: (a) => a.apply(endpointSlice("web-svc-abc", "web-svc", ["10.0.0.9"])), hint: { type: "endpoints", services: ["default/web-svc"] } },
    { name: "EndpointSlice created: its Service, endpoints only", act: (a) => a.apply(endpointSlice("web-svc-def", "web-svc", ["10.0.0.2"])), hint: { type: "endpoints", services: ["default/web-svc"] } },
    { name: "EndpointSlice deleted: its Service, endpoints only", act: (a) => a.remove("EndpointSlice", "default", "web-svc-abc"), hint: { type: "endpoints", services: ["default/web-svc"] } },
    { name: "EndpointSlice moved to another Service: both Services", act: (a) => a.apply(endpointSlice("web-svc-abc", "other", ["10.0.0.1"])), hint: { type: "endpoints", services: ["default/other", "default/web-svc"] } },
    { name: "Ingress updated: full", act: (a) => a.apply(ingress("web", "web-svc", { host: "changed.example.com", tlsSecret: "web-tls" })), hint: { type: "full", kind: "Ingress" } },
    { name: "referenced Service updated: full", act: (a) => a.apply(service("web-svc", { port: 81 })), hint: { type: "full", kind: "Service" } },
    { name: "referenced Secret updated: full", act: (a) => a.apply(tlsSecret("web-tls", "bmV3")), hint: { type: "full", kind: "Secret" } },
  ];
  it.each(hints)("change hint — $name", async ({ act, hint }) => {
    const { api: a, h } = await setup(base());
    const seen: SourceChange[] = [];
    h.source.onChange((change) => seen.push(change));
    act(a);
    await waitFor(() => (seen.length > 0 ? true : undefined), { timeoutMs: 1000, what: "change hint" });
    expect(seen).toEqual([hint]);
  });

  it("an unreferenced Service, EndpointSlice or Secret does not fire onChange", async () => {
    const { api: a, h } = await setup(base());
    const before = h.changes();
    a.apply(service("other"));
    a.apply(endpointSlice("other-xyz", "other", ["10.0.1.1"]));
    a.apply(tlsSecret("other-tls"));
    await waitFor(() => (names(h.source.current().view.services).includes("other") && h.source.current().view.endpointSlices.length === 2 ? true : undefined), { timeoutMs: 1000, what: "unreferenced objects stored" });
    // A referenced change afterwards proves the watch order: once it is seen, the others were too.
    a.apply(ingress("marker", "web-svc"));
    await converges(h, before, (v) => names(v.ingresses).includes("marker"), "marker");
    expect(h.changes()).toBe(before + 1);
    expect(names(h.source.current().view.secrets)).toEqual(["web-tls"]);
  });

  it("an Opaque Secret named by auth-secret reaches the view (only the data keys the builder reads), follows its updates and deletion; unreferenced ones never do", async () => {
    const auth = { "proxypass.io/auth-type": "basic", "proxypass.io/auth-secret": "htpasswd" };
    const { api: a, h } = await setup([...base(), secret("htpasswd", { auth: "dTpoYXNo", kubeconfig: "c2VjcmV0" }), secret("unrelated", { auth: "eDp5" }), secret("release", { release: "SDRzSQ==" }, { type: "helm.sh/release.v1" })]);
    // Listed and watched whatever the type, except Helm's release records.
    const secretCalls = a.requests.filter((r) => r.resource === "secrets");
    expect(secretCalls.length).toBeGreaterThanOrEqual(2);
    for (const r of secretCalls) expect(r.query["fieldSelector"]).toBe("type!=helm.sh/release.v1");
    // web-tls, htpasswd and unrelated: the Helm release record is not listed.
    expect(h.source.informers().find((i) => i.kind === "Secret")?.objects).toBe(3);
    expect(names(h.source.current().view.secrets)).toEqual(["web-tls"]);

    let before = h.changes();
    a.apply(ingress("web", "web-svc", { tlsSecret: "web-tls", annotations: auth }));
    await converges(h, before, (v) => names(v.secrets).includes("htpasswd"), "referenced Opaque Secret in the view");
    const stored = h.source.current().view.secrets.find((s) => s.metadata.name === "htpasswd");
    expect(stored?.type).toBe("Opaque");
    expect(stored?.data).toEqual({ auth: "dTpoYXNo" });

    before = h.changes();
    a.apply(secret("htpasswd", { auth: "djI6aGFzaA==" }));
    await converges(h, before, (v) => v.secrets.find((s) => s.metadata.name === "htpasswd")?.data["auth"] === "djI6aGFzaA==", "update");
    before = h.changes();
    a.apply(secret("unrelated", { auth: "eDp6" }));
    a.apply(secret("release", { release: "SDRzSg==" }, { type: "helm.sh/release.v1" }));
    a.apply(ingress("marker", "web-svc"));
    await converges(h, before, (v) => names(v.ingresses).includes("marker"), "marker");
    expect(h.changes()).toBe(before + 1);
    expect(names(h.source.current().view.secrets)).toEqual(["htpasswd", "web-tls"]);

    before = h.changes();
    a.remove("Secret", "default", "htpasswd");
    await converges(h, before, (v) => !names(v.secrets).includes("htpasswd"), "deletion");
  });

  it("an invalid object becomes a diagnostic, not a crash", async () => {
    const { api: a, h } = await setup(base());
    const before = h.changes();
    a.apply(ingress("bad", "web-svc", { pathType: "Bogus" }));
    await converges(h, before, () => h.source.current().diagnostics.length === 1, "diagnostic");
    expect(h.source.current().diagnostics[0]).toMatchObject({ kind: "Ingress", object: "default/bad", reason: "InvalidObject", severity: "error" });
    expect(names(h.source.current().view.ingresses)).toEqual(["web"]);
  });

  it("a dropped watch recovers without losing or duplicating a change", async () => {
    const { api: a, h } = await setup(base());
    expect(a.dropWatches()).toBeGreaterThanOrEqual(5);
    a.apply(ingress("after-drop", "web-svc"));
    a.remove("Ingress", "default", "web");
    await waitFor(() => (names(h.source.current().view.ingresses).join() === "after-drop" ? true : undefined), { timeoutMs: 5000, what: "recovery after drop" });
    expect(h.source.restarts()["ingresses"]).toBeGreaterThanOrEqual(1);
    const before = h.changes();
    a.apply(ingress("later", "web-svc"));
    await converges(h, before, (v) => names(v.ingresses).join() === "after-drop,later", "watching again");
  });

  it("410 Gone relists and deletions during the gap disappear", async () => {
    const { api: a, h } = await setup(base());
    const release = a.failRequests((r) => r.verb === "watch", 503);
    a.dropWatches();
    a.remove("Ingress", "default", "web");
    a.apply(ingress("during-gap", "web-svc"));
    a.compact({ expireWatches: true });
    release();
    await waitFor(() => (names(h.source.current().view.ingresses).join() === "during-gap" ? true : undefined), { timeoutMs: 5000, what: "relist after 410" });
    // 410 on an open watch (ERROR event) too.
    const before = h.changes();
    a.compact({ expireWatches: true });
    a.apply(ingress("after-compact", "web-svc"));
    await waitFor(() => (h.changes() > before && names(h.source.current().view.ingresses).join() === "after-compact,during-gap" ? true : undefined), { timeoutMs: 5000, what: "after compact" });
  });

  /** The Ingress list and watch requests since `from`, as `verb[@resourceVersion]=status`. */
  const ingressRequests = (a: KubeApi, from: number): string[] =>
    a.requests
      .slice(from)
      .filter((r) => r.resource === "ingresses")
      .map((r) => `${r.verb ?? r.method}${r.query["resourceVersion"] ? `@${r.query["resourceVersion"]}` : ""}=${r.status}`);

  // Each fault returns the Ingress requests it expects from then on (resourceVersions known only then).
  const faults: Array<{ name: string; fault: (a: KubeApi, rv: string) => () => string[]; restarts: number }> = [
    {
      name: "a cleanly ended watch is re-opened from the last resourceVersion, without a list",
      fault: (a, rv) => {
        a.endWatches();
        return () => [`watch@${rv}=200`];
      },
      restarts: 0,
    },
    {
      name: "an ERROR 410 event after a change relists at once, then watches from the list's resourceVersion",
      fault: (a) => {
        a.apply(ingress("web", "web-svc", { host: "changed.example.com", tlsSecret: "web-tls" }));
        a.compact();
        return () => ["list=200", `watch@${a.resourceVersion}=200`];
      },
      restarts: 0,
    },
    {
      name: "an HTTP 410 when a re-watch starts relists at once",
      fault: (a) => {
        a.apply(ingress("web", "web-svc", { host: "changed.example.com", tlsSecret: "web-tls" }));
        const changed = a.resourceVersion;
        a.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "unrelated" } });
        a.compact({ expireWatches: false });
        a.endWatches();
        return () => [`watch@${changed}=410`, "list=200", `watch@${a.resourceVersion}=200`];
      },
      restarts: 0,
    },
    {
      name: "a 410 on the resourceVersion of a list not a second old counts as a failure: backoff, then relist",
      fault: (a) => {
        a.compact();
        return () => ["list=200", `watch@${a.resourceVersion}=200`];
      },
      restarts: 1,
    },
  ];
  it.each(faults)("$name", async ({ fault, restarts }) => {
    // No bookmarks during the test: the watch's resourceVersion stays the list's.
    api = await startKubeApi({ objects: base(), bookmarkIntervalMs: 60_000 });
    harness = kubeSource(api);
    await harness.source.start();
    const a = api;
    await waitFor(() => (a.watches().length >= 5 ? true : undefined), { what: "watches open" });
    const rv = a.requests.filter((r) => r.resource === "ingresses" && r.verb === "watch").at(-1)?.query["resourceVersion"] ?? "";
    const from = a.requests.length;
    const want = fault(a, rv);
    await waitFor(() => (ingressRequests(a, from).join() === want().join() && a.watches().some((w) => w.resource === "ingresses") ? true : undefined), {
      timeoutMs: 3000,
      what: `Ingress requests ${want().join()}`,
    });
    expect(harness.source.restarts()["ingresses"]).toBe(restarts);
  });

  it("an outage keeps the last view and reconverges within 5 s after", async () => {
    const { api: a, h } = await setup(base());
    const last = h.source.current().view;
    await a.stop();
    a.remove("Ingress", "default", "web");
    a.apply(ingress("during-outage", "web-svc"));
    await new Promise((r) => setTimeout(r, 3000));
    expect(h.source.current().view).toBe(last);
    expect(h.source.synced).toBe(true);
    const backAt = Date.now();
    await a.start();
    await waitFor(() => (names(h.source.current().view.ingresses).join() === "during-outage" ? true : undefined), { timeoutMs: 5000, intervalMs: 20, what: "reconverged" });
    expect(Date.now() - backAt).toBeLessThan(5000);
    expect(Object.values(h.source.restarts()).every((n) => n >= 1)).toBe(true);
  }, 20_000);

  it("--watch-namespace restricts namespaced watches; --configmap watches one ConfigMap", async () => {
    const cm = (name: string): KubeObjectInput => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "ops" }, data: { k: name } });
    const { api: a, h } = await setup([...base(), ingress("elsewhere", "x", { namespace: "other" }), cm("settings"), cm("unrelated")], { watchNamespace: "default", configMap: { namespace: "ops", name: "settings" } });
    expect(names(h.source.current().view.ingresses)).toEqual(["web"]);
    expect(names(h.source.current().view.configMaps)).toEqual(["settings"]);
    const watches = a.watches();
    expect(watches.filter((w) => w.resource !== "ingressclasses" && w.resource !== "configmaps").every((w) => w.namespace === "default")).toBe(true);
    const before = h.changes();
    a.apply({ ...cm("settings"), data: { k: "v2" } });
    await converges(h, before, (v) => v.configMaps[0]?.data["k"] === "v2", "configmap change");
  });
});
