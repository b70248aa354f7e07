import { compareDiagnostics, emptyBuildMemory, type BuildObservation } from "../model/index.js";
import type { BuildMemory, BuildObserver, BuildSettings, ClusterView, Diagnostic, ProxySnapshot, SnapshotSink } from "../model/index.js";
import { buildSnapshot, type BuildResult } from "../build/index.js";
import type { Logger } from "../util/index.js";

/** A source of cluster objects: the manifest-file source, later the Kubernetes informers. */
export interface ConfigSource {
  /** Loads everything once (the initial list); resolves when the source is synced. */
  start(): Promise<void>;
  /** The current view and the source's own diagnostics (e.g. unparseable files). */
  current(): { view: ClusterView; diagnostics: ReadonlyArray<Diagnostic> };
  /** Called after every change that may matter. Must only mark dirty, never build. */
  onChange(listener: () => void): void;
  close(): Promise<void> | void;
}

export type BuildFunction = (view: ClusterView, memory: BuildMemory, settings: BuildSettings) => BuildResult;

export interface ReconcilerOptions {
  readonly source: ConfigSource;
  readonly sink: SnapshotSink;
  readonly settings: BuildSettings;
  readonly logger: Logger;
  /** Quiet time after the last change before rebuilding (ms). */
  readonly holdoffMs?: number;
  /** A rebuild happens at most this long after the first unbuilt change (ms). */
  readonly maxHoldoffMs?: number;
  readonly build?: BuildFunction;
  /** Told after every reconcile once its snapshot is live (status writer, Event recorder, metrics). */
  readonly observers?: ReadonlyArray<BuildObserver>;
}

/**
 * The reconcile loop: source events only mark the state dirty; one loop rebuilds the whole snapshot
 * after a holdoff, keeps the builder's last-good memory, and publishes to the data plane — the route
 * table only when it changed, endpoints alone when only they changed.
 */
export class Reconciler {
  readonly #source: ConfigSource;
  readonly #sink: SnapshotSink;
  readonly #settings: BuildSettings;
  readonly #log: Logger;
  readonly #holdoffMs: number;
  readonly #maxHoldoffMs: number;
  readonly #build: BuildFunction;
  readonly #observers: ReadonlyArray<BuildObserver>;

  #memory: BuildMemory = emptyBuildMemory;
  #published: ProxySnapshot | null = null;
  #reported = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #firstDirtyAt = 0;
  #dirty = false;
  #running: Promise<void> | null = null;
  #closed = false;
  #started = false;
  #draining = false;
  #builds = 0;

  constructor(options: ReconcilerOptions) {
    this.#source = options.source;
    this.#sink = options.sink;
    this.#settings = options.settings;
    this.#log = options.logger;
    this.#holdoffMs = options.holdoffMs ?? 100;
    this.#maxHoldoffMs = options.maxHoldoffMs ?? 500;
    this.#build = options.build ?? buildSnapshot;
    this.#observers = options.observers ?? [];
  }

  /** True once the first complete snapshot runs in the whole data plane. */
  get ready(): boolean {
    return this.#started && !this.#draining && this.#published !== null;
  }

  /** The snapshot the data plane runs now (null before the first publish). */
  get published(): ProxySnapshot | null {
    return this.#published;
  }

  get builds(): number {
    return this.#builds;
  }

  /** Waits for the source's initial sync, publishes the first snapshot, then follows changes. */
  async start(): Promise<void> {
    this.#source.onChange(() => this.markDirty());
    await this.#source.start();
    await this.#reconcile();
    this.#started = true;
    this.#log.info({ snapshot: this.#published?.version }, "first snapshot live in every worker");
  }

  /** Records that something changed; schedules one rebuild after the holdoff. */
  markDirty(): void {
    if (this.#closed) return;
    const now = performance.now();
    if (!this.#dirty) {
      this.#dirty = true;
      this.#firstDirtyAt = now;
    }
    if (this.#timer !== null) clearTimeout(this.#timer);
    const deadline = this.#firstDirtyAt + this.#maxHoldoffMs;
    const delay = Math.max(0, Math.min(this.#holdoffMs, deadline - now));
    this.#timer = setTimeout(() => this.#onTimer(), delay);
  }

  /** Resolves when no rebuild is pending or running (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.#dirty || this.#running !== null) {
      if (this.#running !== null) await this.#running;
      else await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  close(): void {
    this.#closed = true;
    this.#draining = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Marks the controller unready (shutdown), without stopping the data plane. */
  markUnready(): void {
    this.#draining = true;
  }

  #onTimer(): void {
    this.#timer = null;
    if (this.#running !== null) {
      // A publish is in flight; the finally-handler below rebuilds once it completes.
      return;
    }
    this.#running = this.#reconcile().finally(() => {
      this.#running = null;
      if (this.#dirty && !this.#closed && this.#timer === null) this.#onTimer();
    });
  }

  async #reconcile(): Promise<void> {
    this.#dirty = false;
    const { view, diagnostics: sourceDiagnostics } = this.#source.current();
    let result: BuildResult;
    try {
      result = this.#build(view, this.#memory, this.#settings);
    } catch (err) {
      // The builder throws only on programmer bugs; keep serving the last snapshot.
      this.#log.error({ err }, "builder failed; last good snapshot stays live");
      return;
    }
    this.#builds++;
    this.#memory = result.memory;
    const diagnostics = [...sourceDiagnostics, ...result.diagnostics].sort(compareDiagnostics);
    this.#report(diagnostics);
    const next = result.snapshot;
    const prev = this.#published;
    try {
      if (prev === null || prev.routes.version !== next.routes.version) {
        await this.#sink.applyRoutes(next.routes, next.endpoints);
        this.#published = next;
        this.#log.info(
          { snapshot: next.version, routes: next.routes.version, endpoints: next.endpoints.version, hosts: next.routes.virtualHosts.length, balancers: next.routes.balancers.length, ingresses: result.accepted.length },
          "route table published",
        );
      } else if (prev.endpoints.version !== next.endpoints.version) {
        await this.#sink.applyEndpoints(next.endpoints);
        this.#published = next;
        this.#log.info({ snapshot: next.version, endpoints: next.endpoints.version }, "endpoints published");
      } else {
        this.#log.debug({ snapshot: next.version }, "no change");
      }
    } catch (err) {
      this.#log.error({ err, snapshot: next.version }, "publishing to the data plane failed; retrying");
      this.markDirty();
      return;
    }
    this.#notify({ view, diagnostics, accepted: result.accepted, snapshotVersion: next.version });
  }

  #notify(observation: BuildObservation): void {
    for (const observer of this.#observers) {
      try {
        observer.observe(observation);
      } catch (err) {
        this.#log.error({ err }, "build observer failed");
      }
    }
  }

  /** Logs each diagnostic once while it persists (again if it goes away and comes back). */
  #report(diagnostics: ReadonlyArray<Diagnostic>): void {
    const current = new Set<string>();
    for (const d of diagnostics) {
      const key = `${d.severity}|${d.kind}|${d.object}|${d.reason}|${d.message}`;
      current.add(key);
      if (this.#reported.has(key)) continue;
      const fields = { kind: d.kind, object: d.object, reason: d.reason };
      if (d.severity === "error") this.#log.error(fields, d.message);
      else this.#log.warn(fields, d.message);
    }
    this.#reported = current;
  }
}
