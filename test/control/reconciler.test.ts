import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { pino } from "pino";
import { Reconciler, type BuildFunction, type ConfigSource } from "../../src/control/index.js";
import { defaultGlobalSettings } from "../../src/build/index.js";
import {
  defaultBuildSettings,
  emptyClusterView,
  type ClusterView,
  type Diagnostic,
  fullChange,
  type EndpointDelta,
  type EndpointTable,
  type ProxySnapshot,
  type RouteTable,
  type SnapshotSink,
  type SourceChange,
} from "../../src/model/index.js";

class FakeSource implements ConfigSource {
  view: ClusterView = emptyClusterView;
  diagnostics: Diagnostic[] = [];
  #listener: ((change: SourceChange) => void) | null = null;
  async start(): Promise<void> {}
  current(): { view: ClusterView; diagnostics: Diagnostic[] } {
    return { view: this.view, diagnostics: this.diagnostics };
  }
  onChange(listener: (change: SourceChange) => void): void {
    this.#listener = listener;
  }
  emit(change: SourceChange = fullChange): void {
    this.#listener?.(change);
  }
  close(): void {}
}

class RecordingSink implements SnapshotSink {
  calls: Array<{ kind: "routes" | "endpoints" | "delta"; routes?: string; endpoints: string }> = [];
  async applyRoutes(routes: RouteTable, endpoints: EndpointTable): Promise<void> {
    this.calls.push({ kind: "routes", routes: routes.version, endpoints: endpoints.version });
  }
  async applyEndpoints(endpoints: EndpointTable): Promise<void> {
    this.calls.push({ kind: "endpoints", endpoints: endpoints.version });
  }
  async applyEndpointDelta(delta: EndpointDelta): Promise<void> {
    this.calls.push({ kind: "delta", endpoints: delta.version });
  }
}

/** A build function whose output versions the test controls. */
function scriptedBuild(state: { routes: string; endpoints: string }, counter: { n: number }): BuildFunction {
  return (_view, memory) => {
    counter.n++;
    const snapshot: ProxySnapshot = {
      version: `${state.routes}+${state.endpoints}`,
      routes: { version: state.routes, virtualHosts: [], defaultRoute: null, balancers: [] },
      endpoints: { version: state.endpoints, balancers: [] },
    };
    return { snapshot, diagnostics: [], memory, globalSettings: defaultGlobalSettings, accepted: [] };
  };
}

function setup(opts: { holdoffMs?: number; maxHoldoffMs?: number } = {}) {
  const source = new FakeSource();
  const sink = new RecordingSink();
  const state = { routes: "r1", endpoints: "e1" };
  const counter = { n: 0 };
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const reconciler = new Reconciler({ source, sink, settings: defaultBuildSettings, logger, build: scriptedBuild(state, counter), ...opts });
  return { source, sink, state, counter, reconciler, lines };
}

describe("Reconciler", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("is not ready before the first publish and ready after", async () => {
    const t = setup();
    expect(t.reconciler.ready).toBe(false);
    await t.reconciler.start();
    expect(t.reconciler.ready).toBe(true);
    expect(t.sink.calls).toEqual([{ kind: "routes", routes: "r1", endpoints: "e1" }]);
  });

  it("coalesces a burst of changes into one rebuild after the holdoff", async () => {
    const t = setup({ holdoffMs: 100, maxHoldoffMs: 500 });
    await t.reconciler.start();
    const before = t.counter.n;
    for (let i = 0; i < 5; i++) {
      t.source.emit();
      await vi.advanceTimersByTimeAsync(20);
    }
    expect(t.counter.n).toBe(before);
    await vi.advanceTimersByTimeAsync(100);
    expect(t.counter.n).toBe(before + 1);
  });

  it("rebuilds at most maxHoldoff after the first change even if changes keep coming", async () => {
    const t = setup({ holdoffMs: 100, maxHoldoffMs: 500 });
    await t.reconciler.start();
    const before = t.counter.n;
    for (let i = 0; i < 12; i++) {
      t.source.emit();
      await vi.advanceTimersByTimeAsync(50);
    }
    // 600 ms of continuous changes: at least one rebuild happened by the 500 ms bound.
    expect(t.counter.n).toBeGreaterThanOrEqual(before + 1);
  });

  it("publishes endpoints alone when only endpoints changed", async () => {
    const t = setup();
    await t.reconciler.start();
    t.state.endpoints = "e2";
    t.source.emit();
    await vi.advanceTimersByTimeAsync(150);
    expect(t.sink.calls.at(-1)).toEqual({ kind: "endpoints", endpoints: "e2" });
  });

  it("publishes the route table when routes changed", async () => {
    const t = setup();
    await t.reconciler.start();
    t.state.routes = "r2";
    t.state.endpoints = "e2";
    t.source.emit();
    await vi.advanceTimersByTimeAsync(150);
    expect(t.sink.calls.at(-1)).toEqual({ kind: "routes", routes: "r2", endpoints: "e2" });
  });

  it("publishes nothing when the rebuild changed nothing", async () => {
    const t = setup();
    await t.reconciler.start();
    t.source.emit();
    await vi.advanceTimersByTimeAsync(150);
    expect(t.sink.calls).toHaveLength(1);
    expect(t.counter.n).toBe(2);
  });

  it("keeps the last snapshot when the builder throws", async () => {
    const t = setup();
    await t.reconciler.start();
    const first = t.reconciler.published;
    const throwing = new Reconciler({
      source: t.source,
      sink: t.sink,
      settings: defaultBuildSettings,
      logger: pino({ level: "silent" }),
      build: () => {
        throw new Error("bug");
      },
    });
    await throwing.start();
    expect(throwing.published).toBeNull();
    expect(throwing.ready).toBe(false);
    expect(t.reconciler.published).toBe(first);
  });

  it("logs a diagnostic once while it persists", async () => {
    const t = setup();
    t.source.diagnostics = [{ severity: "error", kind: "File", object: "/x.yaml", reason: "ParseError", message: "bad yaml" }];
    await t.reconciler.start();
    t.source.emit();
    await vi.advanceTimersByTimeAsync(150);
    expect(t.lines.filter((l) => l.msg === "bad yaml")).toHaveLength(1);
  });

  it("tells observers after each publish, and survives an observer that throws", async () => {
    const t = setup();
    const seen: Array<{ version: string; diagnostics: number }> = [];
    const observed = new Reconciler({
      source: t.source,
      sink: t.sink,
      settings: defaultBuildSettings,
      logger: pino({ level: "silent" }),
      build: scriptedBuild(t.state, t.counter),
      observers: [
        {
          observe: () => {
            throw new Error("observer bug");
          },
        },
        { observe: (o) => void seen.push({ version: o.snapshotVersion, diagnostics: o.diagnostics.length }) },
      ],
    });
    t.source.diagnostics = [{ severity: "warning", kind: "File", object: "/x.yaml", reason: "Odd", message: "odd" }];
    await observed.start();
    expect(seen).toEqual([{ version: "r1+e1", diagnostics: 1 }]);
    t.state.endpoints = "e2";
    t.source.emit();
    await vi.advanceTimersByTimeAsync(150);
    expect(seen.at(-1)).toEqual({ version: "r1+e2", diagnostics: 1 });
  });

  it("goes unready when draining", async () => {
    const t = setup();
    await t.reconciler.start();
    t.reconciler.markUnready();
    expect(t.reconciler.ready).toBe(false);
  });
});
