// The endpoint fast lane with the real builder: which changes take it, what it publishes, and
// that a full build after deltas agrees with them (same versions, nothing published).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { pino } from "pino";
import { Reconciler, type ConfigSource } from "../../src/control/index.js";
import { buildSnapshot } from "../../src/build/index.js";
import { parseManifestText, toClusterView } from "../../src/files/index.js";
import {
  defaultBuildSettings,
  emptyBuildMemory,
  fullChange,
  type ClusterView,
  type Diagnostic,
  type EndpointDelta,
  type EndpointTable,
  type RouteTable,
  type SnapshotSink,
  type SourceChange,
} from "../../src/model/index.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml, type MemberSpec } from "../support/manifests.js";

type Members = Record<string, ReadonlyArray<MemberSpec>>;

function viewOf(members: Members, extra = ""): ClusterView {
  const docs = [
    ingressYaml("default", "web", [
      { host: "a.test", path: "/", service: "a", port: 80 },
      { host: "b.test", path: "/", service: "b", port: 80 },
      { host: "c.test", path: "/", service: "c", port: 80 },
    ]),
    ...["a", "b", "c"].map((s) => serviceYaml("default", s, 80)),
    ...Object.entries(members).map(([service, ms]) => endpointSlicesYaml("default", service, ms)),
  ];
  if (extra !== "") docs.push(extra);
  const parsed = parseManifestText(docs.join("---\n"), "test.yaml");
  if (!parsed.ok) throw new Error(parsed.error);
  return toClusterView(parsed.objects).view;
}

const base: Members = {
  a: [{ ip: "10.0.0.1", port: 8080, pod: "a-1" }],
  b: [{ ip: "10.0.1.1", port: 8080, pod: "b-1" }],
  c: [{ ip: "10.0.2.1", port: 8080, pod: "c-1" }],
};

class FakeSource implements ConfigSource {
  view: ClusterView;
  #listener: ((change: SourceChange) => void) | null = null;
  constructor(view: ClusterView) {
    this.view = view;
  }
  async start(): Promise<void> {}
  current(): { view: ClusterView; diagnostics: Diagnostic[] } {
    return { view: this.view, diagnostics: [] };
  }
  onChange(listener: (change: SourceChange) => void): void {
    this.#listener = listener;
  }
  emit(change: SourceChange): void {
    this.#listener?.(change);
  }
  close(): void {}
}

type Call = { kind: "routes" | "endpoints"; endpoints: string } | { kind: "delta"; endpoints: string; balancers: string[] };

class RecordingSink implements SnapshotSink {
  calls: Call[] = [];
  async applyRoutes(_routes: RouteTable, endpoints: EndpointTable): Promise<void> {
    this.calls.push({ kind: "routes", endpoints: endpoints.version });
  }
  async applyEndpoints(endpoints: EndpointTable): Promise<void> {
    this.calls.push({ kind: "endpoints", endpoints: endpoints.version });
  }
  async applyEndpointDelta(delta: EndpointDelta): Promise<void> {
    this.calls.push({ kind: "delta", endpoints: delta.version, balancers: delta.balancers.map((b) => b.balancer) });
  }
}

async function setup(members: Members = base) {
  const source = new FakeSource(viewOf(members));
  const sink = new RecordingSink();
  const reconciler = new Reconciler({ source, sink, settings: defaultBuildSettings, logger: pino({ level: "silent" }), holdoffMs: 100, maxHoldoffMs: 500, endpointHoldoffMs: 10, endpointMaxHoldoffMs: 50 });
  await reconciler.start();
  return { source, sink, reconciler };
}

const slices = (...services: string[]): SourceChange => ({ type: "endpoints", services: services.map((s) => `default/${s}`) });
const full = (view: ClusterView) => buildSnapshot(view, emptyBuildMemory, defaultBuildSettings).snapshot;

describe("Reconciler endpoint fast lane", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("publishes a delta of only the changed balancer after the short holdoff, with the full build's versions", async () => {
    const t = await setup();
    const builds = t.reconciler.builds;
    t.source.view = viewOf({ ...base, a: [{ ip: "10.0.0.2", port: 8080, pod: "a-2" }] });
    t.source.emit(slices("a"));
    await vi.advanceTimersByTimeAsync(9);
    expect(t.sink.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2);
    const expected = full(t.source.view);
    expect(t.sink.calls.at(-1)).toEqual({ kind: "delta", endpoints: expected.endpoints.version, balancers: ["default/a:80"] });
    expect(t.reconciler.builds).toBe(builds);
    expect(t.reconciler.deltas).toBe(1);
    expect(t.reconciler.published?.version).toBe(expected.version);
    expect(t.reconciler.published?.endpoints).toEqual(expected.endpoints);
  });

  it("N deltas followed by a full rebuild give the same version and publish nothing more", async () => {
    const t = await setup();
    let members = base;
    for (let i = 2; i < 7; i++) {
      const service = ["a", "b", "c"][i % 3] ?? "a";
      members = { ...members, [service]: [{ ip: `10.0.9.${i}`, port: 8080, pod: `p-${i}` }, { ip: "10.0.9.1", port: 8080, pod: "p-1", ready: i % 2 === 0 }] };
      t.source.view = viewOf(members);
      t.source.emit(slices(service));
      await vi.advanceTimersByTimeAsync(20);
    }
    expect(t.reconciler.deltas).toBe(5);
    const calls = t.sink.calls.length;
    const afterDeltas = t.reconciler.published?.version;
    const builds = t.reconciler.builds;
    t.source.emit(fullChange);
    await vi.advanceTimersByTimeAsync(150);
    expect(t.reconciler.builds).toBe(builds + 1);
    expect(t.sink.calls).toHaveLength(calls);
    expect(t.reconciler.published?.version).toBe(afterDeltas);
    expect(afterDeltas).toBe(full(t.source.view).version);
  });

  it("coalesces a burst of slice changes of several Services into one delta", async () => {
    const t = await setup();
    t.source.view = viewOf({ ...base, a: [], b: [{ ip: "10.0.1.9", port: 8080, pod: "b-9" }] });
    for (const s of ["a", "b", "a", "b"]) {
      t.source.emit(slices(s));
      await vi.advanceTimersByTimeAsync(3);
    }
    expect(t.reconciler.deltas).toBe(0);
    await vi.advanceTimersByTimeAsync(10);
    expect(t.reconciler.deltas).toBe(1);
    expect(t.sink.calls.at(-1)).toMatchObject({ kind: "delta", balancers: ["default/a:80", "default/b:80"] });
  });

  it("bounds the burst: a delta at most endpointMaxHoldoff after the first change", async () => {
    const t = await setup();
    t.source.view = viewOf({ ...base, a: [] });
    for (let i = 0; i < 12; i++) {
      t.source.emit(slices("a"));
      await vi.advanceTimersByTimeAsync(5);
    }
    expect(t.reconciler.deltas).toBe(1);
  });

  it("publishes nothing when the members did not change", async () => {
    const t = await setup();
    t.source.emit(slices("a"));
    await vi.advanceTimersByTimeAsync(20);
    expect(t.sink.calls).toHaveLength(1);
    expect(t.reconciler.deltas).toBe(0);
  });

  const fallbacks: Array<{ name: string; changes: SourceChange[]; members?: Members; extra?: string }> = [
    { name: "an Ingress change with a slice change in the same burst", changes: [slices("a"), { type: "full", kind: "Ingress" }] },
    { name: "a Service change", changes: [{ type: "full", kind: "Service" }] },
    { name: "a slice of a Service no balancer uses", changes: [slices("unknown")] },
    { name: "a slice change of a Service with and without a balancer", changes: [slices("a", "unknown")] },
    { name: "a slice whose port name no longer matches (a diagnostic appears)", changes: [slices("a")], extra: endpointSlicesYaml("default", "a", [{ ip: "10.0.0.5", port: 9090, pod: "a-5" }], "other") },
  ];
  it.each(fallbacks)("falls back to a full build: $name", async ({ changes, extra }) => {
    const t = await setup();
    const builds = t.reconciler.builds;
    t.source.view = viewOf(extra === undefined ? { ...base, a: [{ ip: "10.0.0.7", port: 8080, pod: "a-7" }] } : { b: base.b ?? [], c: base.c ?? [] }, extra);
    for (const change of changes) t.source.emit(change);
    await vi.advanceTimersByTimeAsync(150);
    expect(t.reconciler.deltas).toBe(0);
    expect(t.reconciler.builds).toBe(builds + 1);
    expect(t.reconciler.published?.version).toBe(full(t.source.view).version);
  });

  it("sends a Service with a slice-dependent diagnostic to the full lane until it clears", async () => {
    const wrongPort = endpointSlicesYaml("default", "a", [{ ip: "10.0.0.5", port: 9090, pod: "a-5" }], "other");
    const source = new FakeSource(viewOf({ b: base.b ?? [], c: base.c ?? [] }, wrongPort));
    const sink = new RecordingSink();
    const reconciler = new Reconciler({ source, sink, settings: defaultBuildSettings, logger: pino({ level: "silent" }) });
    await reconciler.start();
    source.view = viewOf(base);
    source.emit(slices("a"));
    await vi.advanceTimersByTimeAsync(150);
    expect(reconciler.deltas).toBe(0);
    expect(reconciler.builds).toBe(2);
    source.view = viewOf({ ...base, a: [] });
    source.emit(slices("a"));
    await vi.advanceTimersByTimeAsync(20);
    expect(reconciler.deltas).toBe(1);
  });
});

describe("Reconciler endpoint fast lane: hot standby, canary backends and zones", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** web (a.test -> a, hot-standby spare:80) and a canary of it (-> v2). */
  function standbyView(members: Members, zoneHints = false): ClusterView {
    const hinted = (service: string, ms: ReadonlyArray<MemberSpec>, zones: ReadonlyArray<string>): string => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${service}-s, namespace: default, labels: { kubernetes.io/service-name: ${service} } }
ports: [{ name: http, port: 8080 }]
endpoints:
${ms.map((m, i) => `  - { addresses: ["${m.ip}"], conditions: { ready: ${m.ready ?? true} }, targetRef: { kind: Pod, name: ${m.pod} }, hints: { forZones: [{ name: ${zones[i] ?? "zone-a"} }] } }`).join("\n")}
`;
    const docs = [
      ingressYaml("default", "web", [{ host: "a.test", path: "/", service: "a", port: 80 }], { "proxypass.io/hot-standby": "spare:80" }),
      ingressYaml("default", "web-canary", [{ host: "a.test", path: "/", service: "v2", port: 80 }], { "proxypass.io/canary": "true", "proxypass.io/canary-weight": "10" }),
      ...["a", "spare", "v2"].map((s) => serviceYaml("default", s, 80)),
      ...Object.entries(members).map(([service, ms]) =>
        zoneHints ? hinted(service, ms, ms.map((m) => (m.pod.endsWith("-b") ? "zone-b" : "zone-a"))) : endpointSlicesYaml("default", service, ms),
      ),
    ];
    const parsed = parseManifestText(docs.join("---\n"), "test.yaml");
    if (!parsed.ok) throw new Error(parsed.error);
    return toClusterView(parsed.objects).view;
  }

  const members: Members = {
    a: [{ ip: "10.0.0.1", port: 8080, pod: "a-1" }],
    spare: [{ ip: "10.0.5.1", port: 8080, pod: "spare-1" }],
    v2: [{ ip: "10.0.6.1", port: 8080, pod: "v2-1" }],
  };

  async function start(view: ClusterView, settings = defaultBuildSettings) {
    const source = new FakeSource(view);
    const sink = new RecordingSink();
    const reconciler = new Reconciler({ source, sink, settings, logger: pino({ level: "silent" }), holdoffMs: 100, maxHoldoffMs: 500, endpointHoldoffMs: 10, endpointMaxHoldoffMs: 50 });
    await reconciler.start();
    return { source, sink, reconciler, settings };
  }

  it("a hot-standby Service's endpoint change reaches the snapshot as a delta of the balancer it stands by for; a full rebuild after it publishes nothing new", async () => {
    const t = await start(standbyView(members));
    expect(t.reconciler.published?.routes.balancers.find((b) => b.id === "default/a:80")?.standby).toBe("default/spare:80");
    t.source.view = standbyView({ ...members, spare: [{ ip: "10.0.5.2", port: 8080, pod: "spare-2" }, { ip: "10.0.0.1", port: 8080, pod: "a-1" }] });
    t.source.emit(slices("spare"));
    await vi.advanceTimersByTimeAsync(20);
    const expected = full(t.source.view);
    expect(t.reconciler.deltas).toBe(1);
    expect(t.sink.calls.at(-1)).toEqual({ kind: "delta", endpoints: expected.endpoints.version, balancers: ["default/a:80"] });
    const a = t.reconciler.published?.endpoints.balancers.find((b) => b.balancer === "default/a:80");
    expect(a?.members.map((m) => [m.key, m.standby])).toEqual([
      ["10.0.0.1:8080", false],
      ["10.0.5.2:8080", true],
    ]);
    expect(t.reconciler.published?.version).toBe(expected.version);
    const calls = t.sink.calls.length;
    const builds = t.reconciler.builds;
    t.source.emit(fullChange);
    await vi.advanceTimersByTimeAsync(150);
    expect(t.reconciler.builds).toBe(builds + 1);
    expect(t.sink.calls).toHaveLength(calls);
    expect(t.reconciler.published?.version).toBe(expected.version);
  });

  it("a canary backend's endpoint change is a delta of the canary balancer", async () => {
    const t = await start(standbyView(members));
    t.source.view = standbyView({ ...members, v2: [{ ip: "10.0.6.2", port: 8080, pod: "v2-2" }] });
    t.source.emit(slices("v2"));
    await vi.advanceTimersByTimeAsync(20);
    const expected = full(t.source.view);
    expect(t.sink.calls.at(-1)).toEqual({ kind: "delta", endpoints: expected.endpoints.version, balancers: ["default/v2:80"] });
    expect(t.reconciler.published?.version).toBe(expected.version);
  });

  it("a hot standby that did not resolve sends its Service's endpoint changes to a full build", async () => {
    const t = await start(standbyView({ a: members.a ?? [], v2: members.v2 ?? [] }));
    const view = standbyView(members);
    const withoutSpareService = { ...view, services: view.services.filter((s) => s.metadata.name !== "spare") };
    t.source.view = withoutSpareService;
    const builds = t.reconciler.builds;
    t.source.emit(slices("spare"));
    await vi.advanceTimersByTimeAsync(150);
    expect(t.reconciler.deltas).toBe(0);
    expect(t.reconciler.builds).toBe(builds + 1);
  });

  it("with a zone, a delta carries the lbsets a full build gives", async () => {
    const settings = { ...defaultBuildSettings, zone: "zone-a" };
    const t = await start(standbyView(members, true), settings);
    t.source.view = standbyView({ ...members, a: [{ ip: "10.0.0.1", port: 8080, pod: "a-1" }, { ip: "10.0.0.2", port: 8080, pod: "a-2-b" }] }, true);
    t.source.emit(slices("a"));
    await vi.advanceTimersByTimeAsync(20);
    const expected = buildSnapshot(t.source.view, emptyBuildMemory, settings).snapshot;
    expect(t.reconciler.deltas).toBe(1);
    expect(t.reconciler.published?.endpoints).toEqual(expected.endpoints);
    const a = t.reconciler.published?.endpoints.balancers.find((b) => b.balancer === "default/a:80");
    expect(a?.members.map((m) => [m.key, m.lbset, m.standby])).toEqual([
      ["10.0.0.1:8080", 0, false],
      ["10.0.0.2:8080", 1, false],
      ["10.0.5.1:8080", 0, true],
    ]);
  });
});
