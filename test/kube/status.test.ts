import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import {
  IngressStatusWriter,
  LeaderElector,
  loadKubeConfig,
  normaliseAddresses,
  resolveControllerInstance,
  type IngressStatusWriterOptions,
  type Leadership,
  type LoadBalancerAddress,
} from "../../src/kube/index.js";
import type { BuildObservation, ClusterView } from "../../src/model/index.js";
import { startKubeApi, type KubeApi, type KubeObjectInput } from "../support/kube-api.js";
import { waitFor } from "../support/wait.js";
import { ingress, ingressClass, kubeSource, service, type SourceHarness } from "./kube-fixtures.js";

const silent = pino({ level: process.env["PPI_TEST_LOG"] ?? "silent" });
// Lease 2 s / renew deadline 1.2 s: short, yet with room for a busy test machine (leadership churn is leader.test.ts's subject).
const timings = { leaseDurationMs: 2000, renewDeadlineMs: 1200, retryPeriodMs: 100 } as const;
const writerTimings = { minPassIntervalMs: 50, resyncIntervalMs: 200, retryMs: 100 } as const;

/** One controller replica: a KubeSource feeding a status writer, gated by its own elector. */
interface Replica {
  readonly name: string;
  readonly harness: SourceHarness;
  readonly elector: LeaderElector;
  readonly writer: IngressStatusWriter;
  /** Calls observe() with the source's current view, as the reconcile loop does after a build. */
  observe(): void;
  stop(): Promise<void>;
}

let api: KubeApi | null = null;
let replicas: Replica[] = [];
afterEach(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await api?.close();
  api = null;
  replicas = [];
});

/** Accepted = class "proxypass" (what the builder decides in production). */
function observation(view: ClusterView): BuildObservation {
  const accepted = view.ingresses.filter((i) => i.spec.ingressClassName === "proxypass").map((i) => `${i.metadata.namespace}/${i.metadata.name}`);
  return { view, diagnostics: [], accepted: accepted.sort(), snapshotVersion: "test" };
}

async function replica(a: KubeApi, name: string, options: Partial<Pick<IngressStatusWriterOptions, "publishService" | "podSelector">> = {}, env: Record<string, string> = {}): Promise<Replica> {
  const harness = kubeSource(a);
  const instance = resolveControllerInstance({ env: { POD_NAME: name, POD_NAMESPACE: "ingress", ...env } });
  const kubeConfig = harnessKubeConfig(a);
  const elector = new LeaderElector({ kubeConfig, logger: silent, instance, ...timings });
  const writer = new IngressStatusWriter({ kubeConfig, logger: silent, leadership: elector, instance, ...writerTimings, ...options });
  const observe = (): void => writer.observe(observation(harness.source.current().view));
  harness.source.onChange(observe);
  await harness.source.start();
  observe();
  writer.start();
  elector.start();
  let stopped = false;
  const r: Replica = {
    name,
    harness,
    elector,
    writer,
    observe,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await writer.close();
      await elector.stop();
      await harness.close();
    },
  };
  replicas.push(r);
  return r;
}

function harnessKubeConfig(a: KubeApi): ReturnType<typeof loadKubeConfig>["kubeConfig"] {
  const dir = mkdtempSync(join(tmpdir(), "ppi-status-"));
  const path = join(dir, "kubeconfig");
  writeFileSync(path, a.kubeconfig(), { mode: 0o600 });
  const { kubeConfig } = loadKubeConfig({ kubeconfigFlag: path, env: {} });
  rmSync(dir, { recursive: true, force: true });
  return kubeConfig;
}

function statusOf(a: KubeApi, name: string, namespace = "default"): LoadBalancerAddress[] {
  const obj = a.get("Ingress", namespace, name);
  const status = obj?.status as { loadBalancer?: { ingress?: LoadBalancerAddress[] } } | undefined;
  return normaliseAddresses(status?.loadBalancer?.ingress);
}

function statusWrites(a: KubeApi, name?: string): number {
  return a.requests.filter((r) => r.resource === "ingresses/status" && (r.verb === "patch" || r.verb === "update") && (name === undefined || r.name === name)).length;
}

async function hasStatus(a: KubeApi, name: string, want: LoadBalancerAddress[], what: string): Promise<void> {
  await waitFor(() => (JSON.stringify(statusOf(a, name)) === JSON.stringify(want) ? true : undefined), { timeoutMs: 5000, what });
}

function otherClassIngress(): KubeObjectInput {
  const obj = ingress("other", "web-svc");
  return { ...obj, spec: { ...(obj["spec"] as object), ingressClassName: "nginx" }, status: { loadBalancer: { ingress: [{ ip: "198.51.100.7" }] } } };
}

function publishService(opts: { lb?: LoadBalancerAddress[]; externalIPs?: string[]; clusterIP?: string } = {}): KubeObjectInput {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "ppi-lb", namespace: "ingress" },
    spec: { type: "LoadBalancer", clusterIP: opts.clusterIP ?? "10.96.0.99", ...(opts.externalIPs !== undefined ? { externalIPs: opts.externalIPs } : {}), ports: [{ name: "http", port: 80 }] },
    status: { loadBalancer: { ingress: opts.lb ?? [] } },
  };
}

function pod(name: string, nodeName: string, labels: Record<string, string> = { app: "ppi" }): KubeObjectInput {
  return { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "ingress", labels }, spec: { nodeName, containers: [{ name: "c", image: "x" }] }, status: { phase: "Running" } };
}

function node(name: string, addresses: Array<{ type: string; address: string }>): KubeObjectInput {
  return { apiVersion: "v1", kind: "Node", metadata: { name }, status: { addresses } };
}

const lbAddress = [{ ip: "203.0.113.10" }];
const base = (): KubeObjectInput[] => [ingressClass(), ingress("web", "web-svc"), ingress("api", "web-svc"), otherClassIngress(), service("web-svc"), publishService({ lb: lbAddress })];
const publish = { publishService: { namespace: "ingress", name: "ppi-lb" } } as const;

function leaderOf(list: readonly Replica[]): Replica | undefined {
  const leaders = list.filter((r) => r.elector.isLeader);
  if (leaders.length > 1) throw new Error("two leaders");
  return leaders[0];
}

/**
 * The stand-in stores a status before the writer has read the response and counted the write:
 * wait until the writer's count reaches `n`, then require exactly `n`.
 */
async function expectWrites(writer: { readonly writes: number } | undefined, n: number): Promise<void> {
  await waitFor(() => ((writer?.writes ?? 0) >= n ? true : undefined), { timeoutMs: 3000, what: `${n} status writes counted` });
  expect(writer?.writes).toBe(n);
}

describe("IngressStatusWriter against the stand-in API server", () => {
  it("two replicas: only the leader writes, statuses mirror the publish Service, other classes untouched", async () => {
    const a = (api = await startKubeApi({ objects: base() }));
    const list = [await replica(a, "ppi-a", publish), await replica(a, "ppi-b", publish)];
    await hasStatus(a, "web", lbAddress, "web status");
    await hasStatus(a, "api", lbAddress, "api status");
    const leader = leaderOf(list);
    const follower = list.find((r) => r !== leader);
    expect(leader).toBeDefined();
    expect(list.reduce((n, r) => n + r.elector.transitions, 0), "leadership changed hands").toBe(1);
    await expectWrites(leader?.writer, 2);
    expect(follower?.writer.writes).toBe(0);
    expect(statusWrites(a)).toBe(2);
    // The other class's Ingress: its status (another controller's) stays, and nothing ever read or wrote it.
    expect(statusOf(a, "other")).toEqual([{ ip: "198.51.100.7" }]);
    expect(a.requests.filter((r) => r.resource === "ingresses/status" && r.name === "other")).toEqual([]);
  });

  it("no flapping: repeated builds, unrelated spec changes and resyncs write nothing more", async () => {
    const a = (api = await startKubeApi({ objects: base() }));
    const r = await replica(a, "ppi-a", publish);
    await hasStatus(a, "web", lbAddress, "web status");
    await hasStatus(a, "api", lbAddress, "api status");
    const writes = statusWrites(a);
    expect(writes).toBe(2);
    // Several builds with nothing changed: passes run, none writes.
    for (let i = 0; i < 5; i++) {
      const passes = r.writer.passes;
      r.observe();
      await waitFor(() => (r.writer.passes > passes ? true : undefined), { what: `pass ${i}` });
    }
    // A spec change bumps the resourceVersion: the writer re-reads the status and finds it right.
    const reads = a.requests.filter((x) => x.resource === "ingresses/status" && x.verb === "get" && x.name === "web").length;
    a.apply({ ...ingress("web", "web-svc", { host: "changed.example.com" }), status: { loadBalancer: { ingress: lbAddress } } });
    await waitFor(() => (a.requests.filter((x) => x.resource === "ingresses/status" && x.verb === "get" && x.name === "web").length > reads ? true : undefined), { what: "re-read" });
    // Resyncs (every 200 ms) re-resolve the addresses, and write nothing either.
    const gets = a.requests.filter((x) => x.resource === "services" && x.verb === "get").length;
    await waitFor(() => (a.requests.filter((x) => x.resource === "services" && x.verb === "get").length >= gets + 3 ? true : undefined), { what: "resyncs" });
    expect(statusWrites(a)).toBe(writes);
    await expectWrites(r?.writer, 2);
  });

  it("a status someone else changed is put right; a storm of builds costs a few passes", async () => {
    const a = (api = await startKubeApi({ objects: base() }));
    const r = await replica(a, "ppi-a", publish);
    await hasStatus(a, "web", lbAddress, "web status");
    const passes = r.writer.passes;
    for (let i = 0; i < 200; i++) r.observe();
    a.apply({ ...ingress("web", "web-svc"), status: { loadBalancer: { ingress: [{ ip: "192.0.2.1" }] } } });
    await hasStatus(a, "web", lbAddress, "web status restored");
    // 200 observe() calls in one tick coalesce into one pending pass.
    expect(r.writer.passes - passes).toBeLessThan(10);
  });

  it.each([
    { name: "load-balancer ingress (hostname) wins over external IPs", svc: publishService({ lb: [{ hostname: "lb.example.com" }], externalIPs: ["192.0.2.5"] }), want: [{ hostname: "lb.example.com" }] },
    { name: "external IPs when there is no load-balancer ingress (sorted)", svc: publishService({ externalIPs: ["192.0.2.6", "192.0.2.5"] }), want: [{ ip: "192.0.2.5" }, { ip: "192.0.2.6" }] },
    { name: "cluster IP as the last resort", svc: publishService({ clusterIP: "10.96.7.7" }), want: [{ ip: "10.96.7.7" }] },
  ])("publish Service: $name", async ({ svc, want }) => {
    const a = (api = await startKubeApi({ objects: [ingressClass(), ingress("web", "web-svc"), service("web-svc"), svc] }));
    await replica(a, "ppi-a", publish);
    await hasStatus(a, "web", want, "web status");
  });

  it.each([
    {
      name: "own pod (POD_NAME): its node's ExternalIP is preferred over InternalIP",
      options: {},
      objects: [pod("ppi-a", "node-1")],
      want: [{ ip: "203.0.113.1" }],
    },
    {
      name: "pod selector: every controller pod's node, InternalIP where a node has no ExternalIP",
      options: { podSelector: "app=ppi" },
      objects: [pod("ppi-a", "node-1"), pod("ppi-b", "node-2"), pod("unrelated", "node-3", { app: "other" })],
      want: [{ ip: "10.1.0.2" }, { ip: "203.0.113.1" }],
    },
  ])("node addresses: $name", async ({ options, objects, want }) => {
    const nodes = [
      node("node-1", [{ type: "InternalIP", address: "10.1.0.1" }, { type: "ExternalIP", address: "203.0.113.1" }, { type: "Hostname", address: "node-1" }]),
      node("node-2", [{ type: "InternalIP", address: "10.1.0.2" }]),
      node("node-3", [{ type: "ExternalIP", address: "203.0.113.3" }]),
    ];
    const a = (api = await startKubeApi({ objects: [ingressClass(), ingress("web", "web-svc"), service("web-svc"), ...objects, ...nodes] }));
    await replica(a, "ppi-a", options);
    await hasStatus(a, "web", want, "web status");
  });

  it("without POD_NAME, selector or publish Service nothing is written (and nothing throws)", async () => {
    const a = (api = await startKubeApi({ objects: [ingressClass(), ingress("web", "web-svc"), service("web-svc")] }));
    const harness = kubeSource(a);
    await harness.source.start();
    const kubeConfig = harnessKubeConfig(a);
    const leadership: Leadership = { isLeader: true, onStartedLeading: () => () => undefined, onStoppedLeading: () => () => undefined };
    const writer = new IngressStatusWriter({ kubeConfig, logger: silent, leadership, instance: resolveControllerInstance({ env: {} }), ...writerTimings });
    writer.start();
    writer.observe(observation(harness.source.current().view));
    await waitFor(() => (writer.passes >= 2 ? true : undefined), { what: "failed passes retried" });
    expect(statusWrites(a)).toBe(0);
    await writer.close();
    await harness.close();
  });

  it("an Ingress that stops being accepted gets the status it was given cleared; others keep theirs", async () => {
    const a = (api = await startKubeApi({ objects: base() }));
    await replica(a, "ppi-a", publish);
    await hasStatus(a, "web", lbAddress, "web status");
    await hasStatus(a, "api", lbAddress, "api status");
    // web moves to another class: its status (ours) is cleared.
    const moved = ingress("web", "web-svc");
    a.apply({ ...moved, spec: { ...(moved["spec"] as object), ingressClassName: "nginx" }, status: { loadBalancer: { ingress: lbAddress } } });
    await hasStatus(a, "web", [], "web cleared");
    // api moves too, but another controller already wrote its own address there: left alone.
    const api2 = ingress("api", "web-svc");
    const writes = statusWrites(a, "api");
    a.apply({ ...api2, spec: { ...(api2["spec"] as object), ingressClassName: "nginx" }, status: { loadBalancer: { ingress: [{ ip: "198.51.100.8" }] } } });
    await waitFor(() => (a.requests.some((x) => x.resource === "ingresses/status" && x.verb === "get" && x.name === "api" && x.status === 200) ? true : undefined), { what: "api read" });
    const r = replicas[0];
    if (r === undefined) throw new Error("no replica");
    const passes = r.writer.passes;
    await waitFor(() => (r.writer.passes > passes + 1 ? true : undefined), { what: "more passes" });
    expect(statusOf(a, "api")).toEqual([{ ip: "198.51.100.8" }]);
    expect(statusWrites(a, "api")).toBe(writes);
    expect(statusOf(a, "other")).toEqual([{ ip: "198.51.100.7" }]);
  });

  it("kill the leader: the other replica takes over and keeps statuses right", async () => {
    const a = (api = await startKubeApi({ objects: base() }));
    const list = [await replica(a, "ppi-a", publish), await replica(a, "ppi-b", publish)];
    await hasStatus(a, "web", lbAddress, "web status");
    await hasStatus(a, "api", lbAddress, "api status");
    expect(list.reduce((n, r) => n + r.elector.transitions, 0), "leadership changed hands").toBe(1);
    const first = leaderOf(list);
    if (first === undefined) throw new Error("no leader");
    const second = list.find((r) => r !== first);
    if (second === undefined) throw new Error("no second");
    // Crash: no release, the lease must expire.
    await first.writer.close();
    await first.elector.stop({ release: false });
    await first.harness.close();
    await waitFor(() => (second.elector.isLeader ? true : undefined), { timeoutMs: timings.leaseDurationMs + 1000, what: "takeover" });
    // The new leader's full pass finds everything right: no write.
    const passes = second.writer.passes;
    await waitFor(() => (second.writer.passes > passes ? true : undefined), { what: "full pass" });
    expect(second.writer.writes).toBe(0);
    // Changes after the takeover are written by the new leader: the publish Service moves, a new Ingress appears.
    const moved = [{ ip: "203.0.113.20" }];
    a.apply(publishService({ lb: moved }));
    a.apply(ingress("new", "web-svc"));
    await hasStatus(a, "web", moved, "web follows the publish Service");
    await hasStatus(a, "api", moved, "api follows the publish Service");
    await hasStatus(a, "new", moved, "new Ingress");
    await expectWrites(second?.writer, 3);
    await expectWrites(first?.writer, 2);
    expect(statusOf(a, "other")).toEqual([{ ip: "198.51.100.7" }]);
  });

  it.each([
    { name: "all namespaces", watchNamespace: undefined, pageSize: undefined, pages: 1 },
    { name: "--watch-namespace", watchNamespace: "default", pageSize: undefined, pages: 1 },
    { name: "pages of 128", watchNamespace: undefined, pageSize: 128, pages: 3 },
  ])("first pass at scale ($name): one paged LIST, no per-Ingress GET, only differing statuses written; a second pass writes nothing", async ({ watchNamespace, pageSize, pages }) => {
    // 300 accepted Ingresses: every third already right, every third someone else's address, the rest without status.
    const differing = new Set<string>();
    const ingresses: KubeObjectInput[] = [];
    for (let i = 0; i < 300; i++) {
      const name = `ing-${String(i).padStart(3, "0")}`;
      const status = i % 3 === 0 ? lbAddress : i % 3 === 1 ? [{ ip: "192.0.2.1" }] : [];
      if (i % 3 !== 0) differing.add(name);
      ingresses.push({ ...ingress(name, "web-svc"), status: { loadBalancer: { ingress: status } } });
    }
    const elsewhere = { ...ingress("elsewhere", "web-svc", { namespace: "team-b" }), status: { loadBalancer: { ingress: lbAddress } } };
    const a = (api = await startKubeApi({ objects: [ingressClass(), service("web-svc"), publishService({ lb: lbAddress }), ...ingresses, elsewhere] }));
    const harness = kubeSource(a, watchNamespace === undefined ? {} : { watchNamespace });
    await harness.source.start();
    const inView = 300 + (watchNamespace === undefined ? 1 : 0);
    await waitFor(() => (harness.source.current().view.ingresses.length === inView ? true : undefined), { what: "view" });
    const leadership: Leadership = { isLeader: true, onStartedLeading: () => () => undefined, onStoppedLeading: () => () => undefined };
    const writer = new IngressStatusWriter({
      kubeConfig: harnessKubeConfig(a),
      logger: silent,
      leadership,
      instance: resolveControllerInstance({ env: { POD_NAME: "ppi-a", POD_NAMESPACE: "ingress" } }),
      ...writerTimings,
      ...publish,
      watchNamespace,
      ...(pageSize !== undefined ? { listPageSize: pageSize } : {}),
      rateLimit: { perSecond: 10_000, burst: 10_000 },
    });
    try {
      a.clearRequests();
      writer.start();
      writer.observe(observation(harness.source.current().view));
      await waitFor(() => (writer.passes >= 1 ? true : undefined), { timeoutMs: 10_000, what: "first pass" });
      const first = [...a.requests];
      // The writer's lists (the informer's own lists carry no limit).
      const lists = first.filter((r) => r.resource === "ingresses" && r.verb === "list" && r.query["limit"] !== undefined);
      expect(lists.length, JSON.stringify(lists.map((r) => r.path + JSON.stringify(r.query)))).toBe(pages);
      expect(lists.length).toBeLessThanOrEqual(Math.ceil(300 / (pageSize ?? 500)) + 2);
      expect(writer.lists).toBe(lists.length);
      expect(lists.filter((r) => r.query["continue"] !== undefined).length).toBe(pages - 1);
      for (const r of lists) {
        expect(r.query["limit"]).toBe(String(pageSize ?? 500));
        expect(r.namespace).toBe(watchNamespace);
      }
      expect(first.filter((r) => r.resource === "ingresses/status" && r.verb === "get")).toEqual([]);
      expect(writer.reads).toBe(0);
      const patched = first.filter((r) => r.resource === "ingresses/status" && r.verb === "patch").map((r) => r.name ?? "");
      expect(new Set(patched)).toEqual(differing);
      expect(patched.length).toBe(differing.size);
      expect(writer.writes, `writes of the first pass (pass errors would show in the log)`).toBe(200);
      for (const name of ["ing-000", "ing-001", "ing-002", "ing-299"]) expect(statusOf(a, name)).toEqual(lbAddress);
      expect(statusOf(a, "elsewhere", "team-b")).toEqual(lbAddress);

      // Second pass, once the watch delivered the written statuses' resourceVersions: nothing read, listed or written.
      await waitFor(() => (harness.source.current().view.ingresses.every((i) => i.metadata.resourceVersion === a.get("Ingress", i.metadata.namespace, i.metadata.name)?.metadata.resourceVersion) ? true : undefined), { what: "view caught up" });
      a.clearRequests();
      const passes = writer.passes;
      writer.observe(observation(harness.source.current().view));
      await waitFor(() => (writer.passes > passes ? true : undefined), { what: "second pass" });
      expect(a.requests.filter((r) => r.resource === "ingresses/status" || (r.resource === "ingresses" && r.verb === "list" && r.query["limit"] !== undefined))).toEqual([]);
      expect(writer.writes).toBe(200);

      // An Ingress changed after the list: the fallback reads just that one.
      a.apply({ ...ingress("ing-000", "web-svc", { host: "changed.example.com" }), status: { loadBalancer: { ingress: [{ ip: "192.0.2.9" }] } } });
      await waitFor(() => (harness.source.current().view.ingresses.some((i) => i.spec.rules[0]?.host === "changed.example.com") ? true : undefined), { what: "change seen" });
      writer.observe(observation(harness.source.current().view));
      await hasStatus(a, "ing-000", lbAddress, "ing-000 put right");
      expect(a.requests.filter((r) => r.resource === "ingresses/status" && r.verb === "get").map((r) => r.name)).toEqual(["ing-000"]);
      expect(a.requests.filter((r) => r.resource === "ingresses" && r.verb === "list" && r.query["limit"] !== undefined)).toEqual([]);
      await expectWrites(writer, 201);
    } finally {
      await writer.close();
      await harness.close();
    }
  });

  it("stops writing the moment leadership is lost", async () => {
    const a = (api = await startKubeApi({ objects: base() }));
    const r = await replica(a, "ppi-a", publish);
    await hasStatus(a, "web", lbAddress, "web status");
    // Another holder takes the Lease (as after a network partition): this replica must stop.
    a.apply({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "proxypass-ingress-leader", namespace: "ingress" },
      spec: { holderIdentity: "someone-else", leaseDurationSeconds: 60, renewTime: new Date().toISOString().replace("Z", "000Z"), leaseTransitions: 5 },
    });
    await waitFor(() => (r.elector.isLeader ? undefined : true), { what: "lost" });
    const writes = statusWrites(a);
    a.apply(publishService({ lb: [{ ip: "203.0.113.30" }] }));
    a.apply(ingress("new", "web-svc"));
    const passes = r.writer.passes;
    r.observe();
    await new Promise((resolve) => setTimeout(resolve, 4 * writerTimings.resyncIntervalMs));
    expect(r.writer.passes).toBe(passes);
    expect(statusWrites(a)).toBe(writes);
  });
});
