import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  EventsV1Api,
  KubeConfig,
  ListWatch,
  NetworkingV1Api,
  PatchStrategy,
  V1MicroTime,
  VersionApi,
  Watch,
  makeInformer,
  setHeaderOptions,
  type V1Ingress,
} from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startKubeApi, type KubeApi, type KubeObjectInput } from "./kube-api.js";
import { waitFor } from "./wait.js";

const INGRESSES = "/apis/networking.k8s.io/v1/ingresses";

function ingress(name: string, extra: Partial<KubeObjectInput> & { labels?: Record<string, string> } = {}): KubeObjectInput {
  const { labels, ...rest } = extra;
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name, namespace: "apps", ...(labels ? { labels } : {}) },
    spec: { ingressClassName: "proxypass", rules: [{ host: `${name}.example.com` }] },
    ...rest,
  };
}

function clientConfig(api: KubeApi): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  return kc;
}

/** An informer on all Ingresses whose callbacks append to a log, plus its raw errors. */
function ingressInformer(api: KubeApi, opts: { requestTimeoutMs?: number } = {}) {
  const kc = clientConfig(api);
  const net = kc.makeApiClient(NetworkingV1Api);
  const watch = new Watch(kc);
  // `requestTimeoutMs` (30 s) is private in the typings; set it to show the inactivity re-watch quickly.
  if (opts.requestTimeoutMs !== undefined) Reflect.set(watch, "requestTimeoutMs", opts.requestTimeoutMs);
  const informer = new ListWatch<V1Ingress>(INGRESSES, watch, () => net.listIngressForAllNamespaces(), false);
  const log: string[] = [];
  const errors: unknown[] = [];
  informer.on("add", (o) => log.push(`add ${o.metadata?.name ?? ""}`));
  informer.on("update", (o) => log.push(`update ${o.metadata?.name ?? ""}`));
  informer.on("delete", (o) => log.push(`delete ${o.metadata?.name ?? ""}`));
  informer.on("connect", () => log.push("connect"));
  informer.on("error", (err) => {
    errors.push(err);
    log.push("error");
  });
  return { informer, log, errors };
}

async function untilWatching(api: KubeApi, count = 1): Promise<void> {
  await waitFor(() => (api.watches().length === count ? true : undefined), { what: `${count} open watch(es)` });
}

function requestSummary(api: KubeApi): string[] {
  return api.requests.map((r) => `${r.verb ?? r.method}${r.query.resourceVersion ? `@${r.query.resourceVersion}` : ""}=${r.status}`);
}

function errorShape(err: unknown): { name: string; message: string; statusCode?: unknown; code?: unknown; causeCode?: unknown } {
  if (!(err instanceof Error)) return { name: typeof err, message: String(err) };
  const cause: unknown = err.cause;
  return {
    name: err.name,
    message: err.message.split("\n")[0] ?? "",
    ...("statusCode" in err ? { statusCode: err.statusCode } : {}),
    ...("code" in err ? { code: err.code } : {}),
    ...(cause instanceof Error && "code" in cause ? { causeCode: cause.code } : {}),
  };
}

/** Opens a raw watch with fetch and collects its NDJSON events. */
async function rawWatch(api: KubeApi, path: string, query: Record<string, string>) {
  const url = new URL(api.url + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const controller = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${api.token}` }, signal: controller.signal });
  const events: Array<{ type: string; object: Record<string, unknown> }> = [];
  const done = (async () => {
    if (!res.body || res.status !== 200) return "not-200";
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for await (const chunk of res.body) {
        buffered += decoder.decode(chunk as Uint8Array, { stream: true });
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          events.push(JSON.parse(buffered.slice(0, nl)) as (typeof events)[number]);
          buffered = buffered.slice(nl + 1);
        }
      }
      return "ended";
    } catch {
      return "failed";
    }
  })();
  return { res, events, done, close: () => controller.abort() };
}

describe("kube-api stand-in", () => {
  let api: KubeApi;
  const stoppers: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    api = await startKubeApi({ bookmarkIntervalMs: 100 });
  });

  afterEach(async () => {
    for (const stop of stoppers.splice(0)) await stop();
    await api.close();
  });

  describe("with client-node informers", () => {
    it("sees ADDED, MODIFIED and DELETED from apply/remove after the initial list", async () => {
      api.apply(ingress("first"));
      const kc = clientConfig(api);
      const net = kc.makeApiClient(NetworkingV1Api);
      const informer = makeInformer<V1Ingress>(kc, INGRESSES, () => net.listIngressForAllNamespaces());
      const log: string[] = [];
      informer.on("add", (o) => log.push(`add ${o.metadata?.name ?? ""} ${o.metadata?.resourceVersion ?? ""}`));
      informer.on("update", (o) => log.push(`update ${o.metadata?.name ?? ""} gen=${o.metadata?.generation ?? 0}`));
      informer.on("delete", (o) => log.push(`delete ${o.metadata?.name ?? ""}`));
      await informer.start();
      stoppers.push(() => informer.stop());
      await untilWatching(api);

      api.apply(ingress("second"));
      api.apply(ingress("first", { spec: { ingressClassName: "proxypass", rules: [{ host: "changed.example.com" }] } }));
      api.remove("Ingress", "apps", "second");
      await waitFor(() => (log.length === 4 ? true : undefined), { what: "4 informer events" });

      expect(log).toEqual(["add first 1", "add second 2", "update first gen=2", "delete second"]);
      expect(informer.list("apps").map((o) => o.metadata?.name)).toEqual(["first"]);
      expect(requestSummary(api)).toEqual(["list=200", "watch@1=200"]);
    });

    // What client-node 2.0.1's own informer does under each fault: the stand-in must make these faults observable to any client (src/kube runs its own list+watch over client-node's HTTP client).
    it.each([
      {
        name: "a cleanly ended watch is re-opened from the last resourceVersion, without a list or an error",
        fault: (a: KubeApi) => void a.endWatches(),
        outcome: "rewatch",
        requests: ["watch@2=200"],
      },
      {
        name: "an ERROR 410 event mid-stream (compact) makes it re-list, then watch from the list's resourceVersion",
        fault: (a: KubeApi) => a.compact(),
        outcome: "relist",
        requests: ["list=200", "watch@2=200"],
      },
      {
        name: "an HTTP 410 when the watch starts makes it re-list",
        fault: (a: KubeApi) => {
          // A change the informer does not see, then a cut: its resourceVersion (2) is now too old.
          a.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "unrelated", namespace: "apps" } });
          a.compact({ expireWatches: false });
          a.endWatches();
        },
        outcome: "relist",
        requests: ["watch@2=410", "list=200", "watch@3=200"],
      },
      {
        name: "an abruptly dropped watch socket stops it with TypeError 'terminated' (cause UND_ERR_SOCKET)",
        fault: (a: KubeApi) => void a.dropWatches(),
        outcome: "error",
        requests: [],
        error: { name: "TypeError", message: "terminated", causeCode: "UND_ERR_SOCKET" },
      },
      {
        name: "a 5xx answer to the watch stops it with an Error carrying statusCode",
        fault: (a: KubeApi) => {
          a.failRequests(1, 503);
          a.endWatches();
        },
        outcome: "error",
        requests: ["watch@2=503"],
        error: { name: "Error", message: "Service Unavailable", statusCode: 503 },
      },
      {
        name: "a failed re-list stops it with an ApiException carrying code",
        fault: (a: KubeApi) => {
          a.failRequests((r) => r.verb === "list", 500);
          a.compact();
        },
        outcome: "error",
        requests: ["list=500"],
        error: { name: "Error", message: "HTTP-Code: 500", code: 500 },
      },
    ])("$name", async ({ fault, outcome, requests, error }) => {
      api.apply(ingress("first"));
      const { informer, log, errors } = ingressInformer(api);
      await informer.start();
      stoppers.push(() => informer.stop());
      await untilWatching(api);
      api.apply(ingress("second"));
      await waitFor(() => (log.includes("add second") ? true : undefined));
      api.clearRequests();
      log.length = 0;

      fault(api);
      if (outcome === "error") {
        await waitFor(() => (errors.length > 0 ? true : undefined), { what: "informer error" });
        expect(errorShape(errors[0])).toEqual(error);
        expect(api.watches()).toHaveLength(0);
      } else {
        await untilWatching(api);
        // Changes made after recovery arrive once.
        api.apply(ingress("third"));
        await waitFor(() => (log.includes("add third") ? true : undefined), { what: "add third" });
        expect(errors).toEqual([]);
        expect(log.filter((l) => l.startsWith("add"))).toEqual(["add third"]);
      }
      await waitFor(() => (requestSummary(api).length >= requests.length ? true : undefined));
      expect(requestSummary(api)).toEqual(requests);
    });

    it("re-list after 410 reports objects deleted while it was not watching, and nothing twice", async () => {
      api.apply(ingress("kept"));
      api.apply(ingress("gone"));
      const { informer, log, errors } = ingressInformer(api);
      await informer.start();
      stoppers.push(() => informer.stop());
      await untilWatching(api);
      log.length = 0;

      await api.stop(); // the informer errors out and stops (TypeError 'terminated')
      await waitFor(() => (errors.length === 1 ? true : undefined));
      api.remove("Ingress", "apps", "gone");
      api.apply(ingress("new"));
      api.compact();
      await api.start();
      await informer.start(); // keeps its cache and resourceVersion: watch@2 -> 410 -> list
      await untilWatching(api);
      expect(log).toEqual(["error", "connect", "connect", "delete gone", "add new"]);
    });

    it("stop() emits an AbortError 'error', and so does a start() on a running informer", async () => {
      const { informer, errors } = ingressInformer(api);
      await informer.start();
      await untilWatching(api);
      await informer.start();
      await waitFor(() => (errors.length === 1 ? true : undefined));
      await informer.stop();
      await waitFor(() => (errors.length === 2 ? true : undefined));
      expect(errors.map(errorShape).map((e) => e.name)).toEqual(["AbortError", "AbortError"]);
    });

    it("re-opens a silent watch after Watch.requestTimeoutMs (30 s by default) without an error", async () => {
      const { informer, errors } = ingressInformer(api, { requestTimeoutMs: 300 });
      await informer.start();
      stoppers.push(() => informer.stop());
      await waitFor(() => (api.requests.filter((r) => r.verb === "watch").length >= 3 ? true : undefined), { what: "3 watches" });
      expect(errors).toEqual([]);
      expect(api.requests.filter((r) => r.verb === "list")).toHaveLength(1);
    });

    it("backs off 0, 1 s, 2 s... between re-watches of streams that end with no event in between", async () => {
      const { informer } = ingressInformer(api);
      await informer.start();
      stoppers.push(() => informer.stop());
      const opened: number[] = [];
      for (let i = 0; i < 3; i++) {
        await untilWatching(api);
        opened.push(performance.now());
        api.endWatches();
      }
      await untilWatching(api);
      opened.push(performance.now());
      const gaps = opened.slice(1).map((t, i) => t - (opened[i] ?? t));
      expect(gaps[0]).toBeLessThan(gaps[1] ?? 0); // the first re-watch is immediate: shorter than the 1 s step
      expect(gaps[1]).toBeGreaterThan(900);
      expect(gaps[2]).toBeGreaterThan(1900);
    });

    it("a connection refused stops it with TypeError 'fetch failed' (cause ECONNREFUSED)", async () => {
      await api.stop();
      const { informer, errors } = ingressInformer(api);
      await informer.start();
      await waitFor(() => (errors.length === 1 ? true : undefined));
      expect(errorShape(errors[0])).toMatchObject({ name: "TypeError", message: "fetch failed", causeCode: "ECONNREFUSED" });
    });
  });

  describe("REST verbs through client-node APIs", () => {
    it("answers 409 Conflict to a PUT with a stale resourceVersion (Lease)", async () => {
      const leases = clientConfig(api).makeApiClient(CoordinationV1Api);
      const created = await leases.createNamespacedLease({
        namespace: "ops",
        body: { metadata: { name: "proxypass-leader" }, spec: { holderIdentity: "a", leaseDurationSeconds: 15, renewTime: new V1MicroTime() } },
      });
      const renewed = await leases.replaceNamespacedLease({ name: "proxypass-leader", namespace: "ops", body: { ...created, spec: { ...created.spec, holderIdentity: "a", renewTime: new V1MicroTime() } } });
      expect(Number(renewed.metadata?.resourceVersion)).toBeGreaterThan(Number(created.metadata?.resourceVersion));
      const stale = leases.replaceNamespacedLease({ name: "proxypass-leader", namespace: "ops", body: { ...created, spec: { ...created.spec, holderIdentity: "b" } } });
      await expect(stale).rejects.toMatchObject({ code: 409 });
      const err = await stale.catch((e: unknown) => e);
      expect(err instanceof ApiException && JSON.parse(String(err.body))).toMatchObject({ kind: "Status", reason: "Conflict", code: 409 });
      expect(api.get("Lease", "ops", "proxypass-leader")?.spec).toMatchObject({ holderIdentity: "a" });
    });

    it("rejects a Lease renewTime without 6 fractional digits (a plain Date) with 400, like a real server", async () => {
      const leases = clientConfig(api).makeApiClient(CoordinationV1Api);
      await expect(leases.createNamespacedLease({ namespace: "ops", body: { metadata: { name: "l" }, spec: { renewTime: new Date() } } })).rejects.toMatchObject({ code: 400 });
    });

    it("merge-patches /status without touching spec, and a main-resource PUT ignores status", async () => {
      api.apply(ingress("web"));
      const net = clientConfig(api).makeApiClient(NetworkingV1Api);
      const status = { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } };
      const patched = await net.patchNamespacedIngressStatus(
        { name: "web", namespace: "apps", body: { status, spec: { ingressClassName: "other" } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      expect(patched.status).toEqual(status);
      expect(patched.spec?.ingressClassName).toBe("proxypass");
      expect(patched.metadata?.generation).toBe(1);

      const replaced = await net.replaceNamespacedIngress({ name: "web", namespace: "apps", body: { ...patched, status: { loadBalancer: {} } } });
      expect(replaced.status).toEqual(status);
      expect(replaced.metadata?.resourceVersion).toBe(patched.metadata?.resourceVersion); // no-op: no new version

      const rv = api.resourceVersion;
      await net.patchNamespacedIngressStatus({ name: "web", namespace: "apps", body: { status } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
      expect(api.resourceVersion).toBe(rv); // writing the same status again changes nothing
      expect(api.requests.at(-1)).toMatchObject({ verb: "patch", resource: "ingresses/status", group: "networking.k8s.io", contentType: PatchStrategy.MergePatch, status: 200 });
    });

    it("applies the default PATCH content type (JSON Patch, RFC 6902) and bumps generation on spec change", async () => {
      api.apply(ingress("web", { labels: { tier: "front" } }));
      const net = clientConfig(api).makeApiClient(NetworkingV1Api);
      const patched = await net.patchNamespacedIngress({
        name: "web",
        namespace: "apps",
        body: [
          { op: "test", path: "/metadata/labels/tier", value: "front" },
          { op: "add", path: "/metadata/labels/team", value: "edge" },
          { op: "replace", path: "/spec/rules/0/host", value: "www.example.com" },
        ],
      });
      expect(patched.metadata?.labels).toEqual({ tier: "front", team: "edge" });
      expect(patched.spec?.rules?.[0]?.host).toBe("www.example.com");
      expect(patched.metadata?.generation).toBe(2);
      expect(api.requests.at(-1)?.contentType).toBe(PatchStrategy.JsonPatch);
      const failedTest = net.patchNamespacedIngress({ name: "web", namespace: "apps", body: [{ op: "test", path: "/metadata/labels/tier", value: "back" }] });
      await expect(failedTest).rejects.toMatchObject({ code: 422 });
    });

    it("refuses server-side apply with 415", async () => {
      api.apply(ingress("web"));
      const net = clientConfig(api).makeApiClient(NetworkingV1Api);
      const ssa = net.patchNamespacedIngress({ name: "web", namespace: "apps", body: {}, fieldManager: "t" }, setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply));
      await expect(ssa).rejects.toMatchObject({ code: 415 });
    });

    it.each([
      { name: "a=b", selector: "tier=front", want: ["a", "c"] },
      { name: "a!=b (matches objects without the label too)", selector: "tier!=front", want: ["b", "d"] },
      { name: "exists", selector: "tier", want: ["a", "b", "c"] },
      { name: "not exists", selector: "!tier", want: ["d"] },
      { name: "in", selector: "tier in (front, back)", want: ["a", "b", "c"] },
      { name: "notin", selector: "tier notin (front)", want: ["b", "d"] },
      { name: "comma is AND", selector: "tier=front,team=edge", want: ["c"] },
    ])("lists Services by label selector: $name", async ({ selector, want }) => {
      const labels: Record<string, Record<string, string>> = { a: { tier: "front" }, b: { tier: "back" }, c: { tier: "front", team: "edge" }, d: {} };
      for (const [name, l] of Object.entries(labels)) api.apply({ apiVersion: "v1", kind: "Service", metadata: { name, namespace: "apps", labels: l }, spec: { ports: [{ port: 80 }] } });
      api.apply({ apiVersion: "v1", kind: "Service", metadata: { name: "other-ns", namespace: "elsewhere", labels: { tier: "front" } } });
      const core = clientConfig(api).makeApiClient(CoreV1Api);
      const list = await core.listNamespacedService({ namespace: "apps", labelSelector: selector });
      expect(list.items.map((s) => s.metadata?.name)).toEqual(want);
      expect(list.metadata?.resourceVersion).toBe(api.resourceVersion);
    });

    it("lists Secrets by field selector type= and metadata.name=, and rejects an unsupported field with 400", async () => {
      api.apply({ apiVersion: "v1", kind: "Secret", type: "kubernetes.io/tls", metadata: { name: "tls", namespace: "apps" }, data: { "tls.crt": "", "tls.key": "" } });
      api.apply({ apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name: "opaque", namespace: "apps" }, data: {} });
      const core = clientConfig(api).makeApiClient(CoreV1Api);
      const tls = await core.listSecretForAllNamespaces({ fieldSelector: "type=kubernetes.io/tls" });
      expect(tls.items.map((s) => s.metadata?.name)).toEqual(["tls"]);
      const byName = await core.listNamespacedSecret({ namespace: "apps", fieldSelector: "metadata.name=opaque" });
      expect(byName.items.map((s) => s.metadata?.name)).toEqual(["opaque"]);
      await expect(core.listNamespacedSecret({ namespace: "apps", fieldSelector: "data.x=y" })).rejects.toMatchObject({ code: 400 });
    });

    it.each([
      { name: "404 NotFound for a missing object", call: (c: CoreV1Api) => c.readNamespacedConfigMap({ name: "nope", namespace: "apps" }), code: 404, reason: "NotFound" },
      { name: "409 AlreadyExists for a second create", call: (c: CoreV1Api) => c.createNamespacedConfigMap({ namespace: "apps", body: { metadata: { name: "cm" } } }), code: 409, reason: "AlreadyExists" },
      { name: "422 Invalid for a missing name", call: (c: CoreV1Api) => c.createNamespacedConfigMap({ namespace: "apps", body: { metadata: {} } }), code: 422, reason: "Invalid" },
      { name: "404 NotFound for deleting a missing object", call: (c: CoreV1Api) => c.deleteNamespacedConfigMap({ name: "nope", namespace: "apps" }), code: 404, reason: "NotFound" },
    ])("answers $name with a Status body", async ({ call, code, reason }) => {
      api.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm", namespace: "apps" }, data: { a: "1" } });
      const err = await call(clientConfig(api).makeApiClient(CoreV1Api)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiException);
      expect(err instanceof ApiException && JSON.parse(String(err.body))).toMatchObject({ kind: "Status", status: "Failure", code, reason });
    });

    it("creates events.k8s.io/v1 Events with MicroTime eventTime and requires the reporting fields", async () => {
      const events = clientConfig(api).makeApiClient(EventsV1Api);
      const body = {
        metadata: { generateName: "web." },
        eventTime: new V1MicroTime(),
        reportingController: "proxypass.io/ingress-controller",
        reportingInstance: "pod-1",
        action: "Build",
        reason: "InvalidAnnotation",
        type: "Warning",
        note: "proxypass.io/lbmethod: unknown value",
        regarding: { kind: "Ingress", namespace: "apps", name: "web", apiVersion: "networking.k8s.io/v1" },
      };
      const created = await events.createNamespacedEvent({ namespace: "apps", body });
      expect(created.metadata?.name).toMatch(/^web\.[0-9a-f]{5}$/);
      expect(api.list("Event", "apps")[0]?.eventTime).toMatch(/\.\d{6}Z$/);
      await expect(events.createNamespacedEvent({ namespace: "apps", body: { ...body, eventTime: new Date() } })).rejects.toMatchObject({ code: 400 });
      await expect(events.createNamespacedEvent({ namespace: "apps", body: { ...body, action: undefined } as unknown as typeof body })).rejects.toMatchObject({ code: 422 });
    });

    it("serves discovery and version, and requires the kubeconfig's token", async () => {
      const kc = clientConfig(api);
      const version = await kc.makeApiClient(VersionApi).getCode();
      expect(version.major).toBe("1");
      const apis = (await (await fetch(`${api.url}/apis`, { headers: { authorization: `Bearer ${api.token}` } })).json()) as { groups: Array<{ name: string }> };
      expect(apis.groups.map((g) => g.name).sort()).toEqual(["coordination.k8s.io", "discovery.k8s.io", "events.k8s.io", "networking.k8s.io"]);
      expect((await fetch(`${api.url}/api/v1/pods`)).status).toBe(401);
    });

    it("writes a kubeconfig file that client-node loads", async () => {
      const dir = await mkdtemp(join(tmpdir(), "kube-api-"));
      try {
        const kc = new KubeConfig();
        kc.loadFromFile(await api.writeKubeconfig(dir));
        expect(kc.getCurrentCluster()?.server).toBe(api.url);
        const nodes = await kc.makeApiClient(CoreV1Api).listNode();
        expect(nodes.items).toEqual([]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe("watch protocol", () => {
    it("sends BOOKMARKs carrying only kind, apiVersion and resourceVersion when asked, and none otherwise", async () => {
      api.apply(ingress("web"));
      const asked = await rawWatch(api, INGRESSES, { watch: "1", resourceVersion: api.resourceVersion, allowWatchBookmarks: "true" });
      const notAsked = await rawWatch(api, INGRESSES, { watch: "1", resourceVersion: api.resourceVersion });
      await waitFor(() => (asked.events.length >= 2 ? true : undefined), { what: "2 bookmarks" });
      asked.close();
      notAsked.close();
      expect(asked.events[0]).toEqual({ type: "BOOKMARK", object: { kind: "Ingress", apiVersion: "networking.k8s.io/v1", metadata: { resourceVersion: "1" } } });
      expect(notAsked.events).toEqual([]);
    });

    it("ends the stream cleanly at timeoutSeconds", async () => {
      const w = await rawWatch(api, INGRESSES, { watch: "true", timeoutSeconds: "1" });
      const started = performance.now();
      expect(await w.done).toBe("ended");
      expect(performance.now() - started).toBeGreaterThan(900);
    });

    it("replays changes after the given resourceVersion, and sends ADDED for current state without one", async () => {
      api.apply(ingress("a"));
      const from = api.resourceVersion;
      api.apply(ingress("b"));
      api.remove("Ingress", "apps", "a");
      const replay = await rawWatch(api, "/apis/networking.k8s.io/v1/namespaces/apps/ingresses", { watch: "1", resourceVersion: from });
      const fresh = await rawWatch(api, INGRESSES, { watch: "1" });
      await waitFor(() => (replay.events.length === 2 && fresh.events.length === 1 ? true : undefined));
      replay.close();
      fresh.close();
      expect(replay.events.map((e) => `${e.type} ${String((e.object.metadata as Record<string, unknown>).name)}`)).toEqual(["ADDED b", "DELETED a"]);
      expect(fresh.events.map((e) => e.type)).toEqual(["ADDED"]);
    });

    it("turns a label change that leaves the selector into DELETED, and one that enters into ADDED", async () => {
      api.apply(ingress("web", { labels: { class: "mine" } }));
      const w = await rawWatch(api, INGRESSES, { watch: "1", resourceVersion: api.resourceVersion, labelSelector: "class=mine" });
      await untilWatching(api);
      api.apply(ingress("web", { labels: { class: "theirs" } }));
      api.apply(ingress("web", { labels: { class: "mine" } }));
      await waitFor(() => (w.events.length === 2 ? true : undefined));
      w.close();
      expect(w.events.map((e) => e.type)).toEqual(["DELETED", "ADDED"]);
    });

    it.each([
      { name: "HTTP 410 Status by default", goneOnWatchStart: "status" as const, http: 410, events: [] as string[] },
      { name: "200 with one ERROR event (code 410) in event mode", goneOnWatchStart: "event" as const, http: 200, events: ["ERROR 410"] },
    ])("answers a watch from a compacted resourceVersion with $name", async ({ goneOnWatchStart, http, events }) => {
      const local = await startKubeApi({ goneOnWatchStart });
      try {
        local.apply(ingress("a"));
        local.apply(ingress("b"));
        local.compact();
        const w = await rawWatch(local, INGRESSES, { watch: "1", resourceVersion: "1" });
        await w.done;
        expect(w.res.status).toBe(http);
        expect(w.events.map((e) => `${e.type} ${String(e.object.code)}`)).toEqual(events);
        const ok = await rawWatch(local, INGRESSES, { watch: "1", resourceVersion: local.resourceVersion });
        expect(ok.res.status).toBe(200);
        ok.close();
      } finally {
        await local.close();
      }
    });

    it("drops the oldest history past historyLimit, so old resourceVersions answer 410", async () => {
      const local = await startKubeApi({ historyLimit: 2 });
      try {
        for (const n of ["a", "b", "c", "d"]) local.apply(ingress(n));
        const old = await rawWatch(local, INGRESSES, { watch: "1", resourceVersion: "1" });
        const recent = await rawWatch(local, INGRESSES, { watch: "1", resourceVersion: "2" });
        expect(old.res.status).toBe(410);
        expect(recent.res.status).toBe(200);
        recent.close();
      } finally {
        await local.close();
      }
    });
  });

  describe("faults and bookkeeping", () => {
    it("stop() refuses connections and start() listens on the same port with the objects kept", async () => {
      api.apply(ingress("web"));
      const port = api.port;
      await api.stop();
      await expect(fetch(`${api.url}/version`)).rejects.toThrow();
      await api.start();
      expect(api.port).toBe(port);
      const net = clientConfig(api).makeApiClient(NetworkingV1Api);
      expect((await net.readNamespacedIngress({ name: "web", namespace: "apps" })).metadata?.name).toBe("web");
    });

    it("failRequests(n) fails the next n requests; a predicate fails until cancelled", async () => {
      const core = clientConfig(api).makeApiClient(CoreV1Api);
      api.failRequests(2, 503);
      await expect(core.listNode()).rejects.toMatchObject({ code: 503 });
      await expect(core.listNode()).rejects.toMatchObject({ code: 503 });
      await expect(core.listNode()).resolves.toBeDefined();
      const cancel = api.failRequests((r) => r.resource === "pods");
      await expect(core.listPodForAllNamespaces()).rejects.toMatchObject({ code: 500 });
      await expect(core.listPodForAllNamespaces()).rejects.toMatchObject({ code: 500 });
      await expect(core.listNode()).resolves.toBeDefined();
      cancel();
      await expect(core.listPodForAllNamespaces()).resolves.toBeDefined();
    });

    it("logs each request with its RBAC verb, group, resource, namespace and name", async () => {
      const kc = clientConfig(api);
      await kc.makeApiClient(CoreV1Api).readNamespacedPod({ name: "p", namespace: "apps" }).catch(() => undefined);
      await kc.makeApiClient(CoreV1Api).listNode();
      await kc.makeApiClient(NetworkingV1Api).listIngressClass();
      expect(api.requests.map(({ verb, group, resource, namespace, name, status }) => ({ verb, group, resource, namespace, name, status }))).toEqual([
        { verb: "get", group: "", resource: "pods", namespace: "apps", name: "p", status: 404 },
        { verb: "list", group: "", resource: "nodes", namespace: undefined, name: undefined, status: 200 },
        { verb: "list", group: "networking.k8s.io", resource: "ingressclasses", namespace: undefined, name: undefined, status: 200 },
      ]);
    });

    it("sets server metadata and list items carry no kind, as on a real server", async () => {
      const stored = api.apply({ apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice", metadata: { name: "web-1", namespace: "apps", labels: { "kubernetes.io/service-name": "web" } }, addressType: "IPv4", endpoints: [] });
      expect(stored.metadata).toMatchObject({ name: "web-1", namespace: "apps", resourceVersion: "1", generation: 1 });
      expect(stored.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(stored.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const res = await fetch(`${api.url}/apis/discovery.k8s.io/v1/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb`, { headers: { authorization: `Bearer ${api.token}` } });
      const body = (await res.json()) as { kind: string; apiVersion: string; items: Array<Record<string, unknown>> };
      expect(body.kind).toBe("EndpointSliceList");
      expect(body.apiVersion).toBe("discovery.k8s.io/v1");
      expect(body.items[0]).not.toHaveProperty("kind");
    });
  });
});
