import { compareDiagnostics, defaultServerSettings, emptyBuildMemory, fullChange, type BuildObservation, type PublishTiming, type ServerSettings, type SourceChange } from "../model/index.js";
import type { BalancerConfig, BalancerMembers, BuildMemory, BuildObserver, BuildSettings, ClusterView, Diagnostic, ProxySnapshot, RouteTable, SnapshotSink } from "../model/index.js";
import { buildBalancerMembers, buildSnapshot, cachedMembersBytes, hasEndpointProblem, serviceOfId, snapshotVersion, type BuildResult } from "../build/index.js";
import type { Logger } from "../util/index.js";
import { EndpointLedger } from "./endpoint-ledger.js";

/** A source of cluster objects: the manifest-file source, later the Kubernetes informers. */
export interface ConfigSource {
  /** Loads everything once (the initial list); resolves when the source is synced. */
  start(): Promise<void>;
  /** The current view and the source's own diagnostics (e.g. unparseable files). */
  current(): { view: ClusterView; diagnostics: ReadonlyArray<Diagnostic> };
  /** Called after every change that may matter, saying what changed. Must only mark dirty, never build. */
  onChange(listener: (change: SourceChange) => void): void;
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
  /** Endpoint fast lane: quiet time after the last EndpointSlice change (ms). */
  readonly endpointHoldoffMs?: number;
  /** Endpoint fast lane: a delta happens at most this long after the first unapplied change (ms). */
  readonly endpointMaxHoldoffMs?: number;
  readonly build?: BuildFunction;
  /** Told after every reconcile once its snapshot is live (status writer, Event recorder, metrics). */
  readonly observers?: ReadonlyArray<BuildObserver>;
  /**
   * Told the server settings of each route table once it is live (the controller's own log levels
   * follow the ConfigMap's `log-level`; the data plane applies the rest itself).
   */
  readonly onServerSettings?: (settings: ServerSettings) => void;
  /** Told how long each publish took (build, swap, and convergence from the first change it includes); for metrics. */
  readonly onPublish?: (timing: PublishTiming) => void;
  /** Wall clock handed to each build (certificate expiry); default Date.now. */
  readonly clock?: () => number;
}

/** setTimeout's largest delay (about 24.8 days); a later expiry is looked at again then. */
const maxTimerMs = 2 ** 31 - 1;

/**
 * The reconcile loop: source events only mark the state dirty; one loop rebuilds the whole snapshot
 * after a holdoff, keeps the builder's last-good memory, and publishes to the data plane — the route
 * table only when it changed, endpoints alone when only they changed.
 *
 * Endpoint fast lane (like an xDS EDS delta): when every change since the last build is an
 * EndpointSlice change of Services whose balancers are in the published route table, the loop
 * waits a short holdoff, resolves only those balancers' members (buildBalancerMembers, the full
 * build's own code) and publishes an EndpointDelta. The ledger keeps the endpoint table version
 * equal to what a full build gives, so the full build stays the source of truth: any other change
 * rebuilds everything, and a full build after deltas publishes nothing new. Build observers are told
 * about full builds only (a delta changes no diagnostic and no accepted Ingress).
 */
export class Reconciler {
  readonly #source: ConfigSource;
  readonly #sink: SnapshotSink;
  readonly #settings: BuildSettings;
  readonly #log: Logger;
  readonly #holdoffMs: number;
  readonly #maxHoldoffMs: number;
  readonly #endpointHoldoffMs: number;
  readonly #endpointMaxHoldoffMs: number;
  readonly #build: BuildFunction;
  readonly #observers: ReadonlyArray<BuildObserver>;
  readonly #onServerSettings: ((settings: ServerSettings) => void) | null;
  readonly #onPublish: ((timing: PublishTiming) => void) | null;
  readonly #clock: () => number;
  /** Rebuilds when the next served certificate expires, so its hosts move to the default certificate with an Event. */
  #expiryTimer: NodeJS.Timeout | null = null;
  /** performance.now() of the first change the running reconcile includes; null = none (the first build). */
  #changedAt: number | null = null;

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
  #deltas = 0;
  /** Pending since the last reconcile: a change that needs a full build, and Services whose slices changed. */
  #pendingFull = true;
  #pendingServices = new Set<string>();
  /** Diagnostics of the last full build (a slice-dependent one sends its Service's changes to the full lane). */
  #diagnostics: ReadonlyArray<Diagnostic> = [];
  readonly #ledger = new EndpointLedger();
  /** Balancer configs of the published route table by Service ("ns/name"), and by their hot-standby Service. */
  #balancersByService: { routes: string; map: Map<string, BalancerConfig[]> } | null = null;

  constructor(options: ReconcilerOptions) {
    this.#source = options.source;
    this.#sink = options.sink;
    this.#settings = options.settings;
    this.#log = options.logger;
    this.#holdoffMs = options.holdoffMs ?? 100;
    this.#maxHoldoffMs = options.maxHoldoffMs ?? 500;
    this.#endpointHoldoffMs = options.endpointHoldoffMs ?? 10;
    this.#endpointMaxHoldoffMs = options.endpointMaxHoldoffMs ?? 50;
    this.#build = options.build ?? buildSnapshot;
    this.#observers = options.observers ?? [];
    this.#onServerSettings = options.onServerSettings ?? null;
    this.#onPublish = options.onPublish ?? null;
    this.#clock = options.clock ?? Date.now;
  }

  /** True once the first complete snapshot runs in the whole data plane. */
  get ready(): boolean {
    return this.#started && !this.#draining && this.#published !== null;
  }

  /** The snapshot the data plane runs now (null before the first publish). */
  get published(): ProxySnapshot | null {
    return this.#published;
  }

  /** Full builds so far. */
  get builds(): number {
    return this.#builds;
  }

  /** Endpoint deltas published so far (fast lane). */
  get deltas(): number {
    return this.#deltas;
  }

  /** Waits for the source's initial sync, publishes the first snapshot, then follows changes. */
  async start(): Promise<void> {
    this.#source.onChange((change) => this.markDirty(change));
    await this.#source.start();
    await this.#reconcile();
    this.#started = true;
    this.#log.info({ snapshot: this.#published?.version }, "first snapshot live in every worker");
  }

  /**
   * Records that something changed; schedules one reconcile after the holdoff (the short endpoint
   * holdoff while every pending change is an EndpointSlice change).
   */
  markDirty(change: SourceChange = fullChange): void {
    if (this.#closed) return;
    if (change.type === "endpoints") for (const service of change.services) this.#pendingServices.add(service);
    else this.#pendingFull = true;
    const now = performance.now();
    if (!this.#dirty) {
      this.#dirty = true;
      this.#firstDirtyAt = now;
    }
    if (this.#timer !== null) clearTimeout(this.#timer);
    const fast = !this.#pendingFull && this.#published !== null;
    const deadline = this.#firstDirtyAt + (fast ? this.#endpointMaxHoldoffMs : this.#maxHoldoffMs);
    const delay = Math.max(0, Math.min(fast ? this.#endpointHoldoffMs : this.#holdoffMs, deadline - now));
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
    if (this.#expiryTimer !== null) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = null;
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
    this.#changedAt = this.#dirty ? this.#firstDirtyAt : null;
    this.#dirty = false;
    const full = this.#pendingFull || this.#published === null;
    const services = this.#pendingServices;
    this.#pendingFull = false;
    this.#pendingServices = new Set();
    if (!full && (await this.#reconcileEndpoints(services))) return;
    await this.#reconcileFull();
  }

  /** The fast lane; false when these changes need a full build instead. */
  async #reconcileEndpoints(services: ReadonlySet<string>): Promise<boolean> {
    const published = this.#published;
    if (published === null) return false;
    const byService = this.#byService(published.routes);
    const configs = new Set<BalancerConfig>();
    for (const service of services) {
      const list = byService.get(service);
      if (list === undefined) return false; // no balancer of the route table: only a full build can tell
      for (const config of list) configs.add(config);
    }
    if (hasEndpointProblem(this.#diagnostics, services)) return false;
    const sorted = [...configs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    let members: BalancerMembers[] | null;
    const buildStart = performance.now();
    try {
      members = buildBalancerMembers(this.#source.current().view, sorted, this.#settings);
    } catch (err) {
      this.#log.error({ err }, "endpoint fast lane failed; rebuilding everything");
      return false;
    }
    if (members === null) return false;
    const delta = this.#ledger.apply(members);
    if (delta === null) {
      this.#log.debug({ snapshot: published.version }, "no endpoint change");
      return true;
    }
    const endpoints = this.#ledger.table();
    const next: ProxySnapshot = { version: snapshotVersion(published.routes.version, endpoints.version), routes: published.routes, endpoints };
    const swapStart = performance.now();
    try {
      await this.#sink.applyEndpointDelta(delta);
    } catch (err) {
      this.#log.error({ err, snapshot: next.version }, "publishing an endpoint delta failed; rebuilding everything");
      this.markDirty();
      return true;
    }
    this.#published = next;
    this.#deltas++;
    this.#timed("delta", buildStart, swapStart);
    this.#log.info({ snapshot: next.version, endpoints: endpoints.version, balancers: delta.balancers.length }, "endpoint delta published");
    return true;
  }

  #byService(routes: RouteTable): Map<string, BalancerConfig[]> {
    if (this.#balancersByService?.routes !== routes.version) {
      const map = new Map<string, BalancerConfig[]>();
      const add = (service: string, b: BalancerConfig): void => {
        const list = map.get(service);
        if (list === undefined) map.set(service, [b]);
        else list.push(b);
      };
      for (const b of routes.balancers) {
        add(b.service, b);
        // A hot-standby Service's endpoints are members of the balancers it stands by for.
        if (b.standby !== null) add(serviceOfId(b.standby), b);
      }
      this.#balancersByService = { routes: routes.version, map };
    }
    return this.#balancersByService.map;
  }

  async #reconcileFull(): Promise<void> {
    const { view, diagnostics: sourceDiagnostics } = this.#source.current();
    let result: BuildResult;
    const buildStart = performance.now();
    try {
      result = this.#build(view, this.#memory, { ...this.#settings, now: new Date(this.#clock()).toISOString() });
    } catch (err) {
      // The builder throws only on programmer bugs; keep serving the last snapshot.
      this.#log.error({ err }, "builder failed; last good snapshot stays live");
      return;
    }
    this.#builds++;
    this.#memory = result.memory;
    const diagnostics = [...sourceDiagnostics, ...result.diagnostics].sort(compareDiagnostics);
    this.#diagnostics = diagnostics;
    this.#report(diagnostics);
    const next = result.snapshot;
    const prev = this.#published;
    const swapStart = performance.now();
    try {
      if (prev === null || prev.routes.version !== next.routes.version) {
        await this.#sink.applyRoutes(next.routes, next.endpoints);
        this.#published = next;
        this.#timed("routes", buildStart, swapStart);
        this.#serverSettingsLive(next.routes.server ?? defaultServerSettings);
        this.#log.info(
          { snapshot: next.version, routes: next.routes.version, endpoints: next.endpoints.version, hosts: next.routes.virtualHosts.length, balancers: next.routes.balancers.length, ingresses: result.accepted.length },
          "route table published",
        );
      } else if (prev.endpoints.version !== next.endpoints.version) {
        await this.#sink.applyEndpoints(next.endpoints);
        this.#published = next;
        this.#timed("endpoints", buildStart, swapStart);
        this.#log.info({ snapshot: next.version, endpoints: next.endpoints.version }, "endpoints published");
      } else {
        this.#log.debug({ snapshot: next.version }, "no change");
      }
    } catch (err) {
      this.#log.error({ err, snapshot: next.version }, "publishing to the data plane failed; retrying");
      this.markDirty();
      return;
    }
    const memory = this.#memory;
    if (this.#published !== null) this.#ledger.reset(this.#published.endpoints, (entry) => cachedMembersBytes(memory, entry));
    this.#scheduleExpiry(next.routes);
    this.#notify({ view, diagnostics, accepted: result.accepted, snapshotVersion: next.version });
  }

  /** A full rebuild just after the earliest notAfter of the certificates the table serves. */
  #scheduleExpiry(routes: RouteTable): void {
    if (this.#expiryTimer !== null) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = null;
    if (this.#closed) return;
    let next = Infinity;
    for (const b of routes.tls?.bundles ?? []) next = Math.min(next, Date.parse(b.notAfter));
    if (!Number.isFinite(next)) return;
    const delay = Math.min(maxTimerMs, Math.max(0, next - this.#clock()) + 1000);
    this.#expiryTimer = setTimeout(() => {
      this.#expiryTimer = null;
      this.markDirty();
    }, delay);
    this.#expiryTimer.unref();
  }

  /** Reports a publish that just went live (build from `buildStart`, swap from `swapStart`). */
  #timed(kind: PublishTiming["kind"], buildStart: number, swapStart: number): void {
    if (this.#onPublish === null) return;
    const now = performance.now();
    const changedAt = this.#changedAt;
    try {
      this.#onPublish({ kind, buildSeconds: (swapStart - buildStart) / 1000, swapSeconds: (now - swapStart) / 1000, convergenceSeconds: changedAt === null ? null : (now - changedAt) / 1000 });
    } catch (err) {
      this.#log.error({ err }, "publish hook failed");
    }
  }

  #serverSettingsLive(settings: ServerSettings): void {
    if (this.#onServerSettings === null) return;
    try {
      this.#onServerSettings(settings);
    } catch (err) {
      this.#log.error({ err }, "server settings hook failed");
    }
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
