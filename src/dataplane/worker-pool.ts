// The all-cores data plane: N worker_threads, each a ProxyServer listening on the same port with
// reusePort (the kernel spreads connections), all mapping ONE SharedArrayBuffer scoreboard, so
// in-flight counts, elections and the round-robin cursor are shared like httpd's scoreboard.
// The main thread (primary) allocates scoreboard slots by stable identity and sends them with each
// update; route tables and endpoint updates go by postMessage (an endpoint-only update does not
// resend routes; an endpoint delta sends only the balancers it changes). Each apply resolves when EVERY worker has acknowledged it (or a later one). A
// crashed worker is respawned with the current snapshot while the others keep serving.

import { Worker } from "node:worker_threads";
import type { BalancerMembers, BalancerStateReader, BalancerView, ClearableFlag, EndpointDelta, EndpointTable, RouteTable, RuntimeState, SnapshotSink } from "../model/index.js";
import type { Logger } from "../util/index.js";
import { BusyLedger, MEMBER_BUSY, MEMBER_ELECTED, RuntimeOverrides, Scoreboard, SlotAllocator, describeBalancers, type ScoreboardCapacity, type SlotAssignment } from "./balancer/index.js";
import { HealthChecker } from "./health/index.js";
import type { FromWorker, ToWorker, WorkerInit, WorkerSnapshot } from "./worker-protocol.js";
import { createDefaultCertificate, type PemPair } from "./certificates.js";
import { createTicketKeys } from "./tls.js";
import { WorkerStats, type AccessLogFormat, type MetricJson, type WorkerStatsValues } from "./stats/index.js";

export interface WorkerPoolOptions {
  readonly workers: number;
  /** 0 = any free port (chosen by the first worker, then shared). */
  readonly port: number;
  /** TLS listener port (0 = any free port, chosen by the first worker); absent/null = no TLS listener. */
  readonly httpsPort?: number | null;
  /**
   * Default certificate (when the route table names none) and session ticket keys, handed to every
   * worker so that all present the same certificate and resume each other's sessions. Absent with
   * an `httpsPort`: `start` makes a self-signed certificate and random keys.
   */
  readonly tls?: { readonly defaultCertificate: PemPair; readonly ticketKeys: Buffer };
  readonly host?: string;
  /** `--log-level` spec for the workers' loggers, e.g. "info,proxy=debug". */
  readonly logLevel: string;
  readonly accessLog: boolean;
  /** Main-thread logger for pool events (spawn, crash, respawn). */
  readonly logger: Logger;
  /** Logger of the active health checks the primary runs ("health"); default `logger`. */
  readonly healthLogger?: Logger;
  /** Test mode: responses carry `x-proxypass-worker: <worker id>`. */
  readonly exposeWorkerId?: boolean;
  /** Worker entry; default: ./worker.js next to this module (./worker.ts when running from sources). */
  readonly entry?: URL;
  readonly scoreboard?: ScoreboardCapacity;
  /** `--max-header-size` (default 16384). */
  readonly maxHeaderSize?: number;
  /** `--access-log-format` (default json). */
  readonly accessLogFormat?: AccessLogFormat;
  /** `--trusted-proxies` (canonical CIDRs). */
  readonly trustedProxies?: ReadonlyArray<string>;
  /** `--proxy-protocol`. */
  readonly proxyProtocol?: boolean;
}

/** One worker's totals for server-status, read from its stats region (no messaging). */
export interface WorkerStatsView extends WorkerStatsValues {
  readonly id: number;
  /** False while the worker is (re)starting. */
  readonly running: boolean;
}

/** The workers' metrics for one scrape; `skipped` workers did not answer in time (or were restarting). */
export interface WorkerMetrics {
  readonly workers: ReadonlyArray<ReadonlyArray<MetricJson>>;
  readonly skipped: number;
}

interface MetricsWaiter {
  readonly resolve: (metrics: ReadonlyArray<MetricJson> | null) => void;
  readonly timer: NodeJS.Timeout;
}

interface Waiter {
  readonly seq: number;
  readonly resolve: () => void;
}

class WorkerSlot {
  readonly id: number;
  worker: Worker | null = null;
  /** Highest apply sequence this worker acknowledged; -1 while (re)starting. */
  applied = -1;
  listening = false;
  crashes = 0;
  lastCrash = 0;
  /** The worker's share of each member's in-flight count; settled when it exits, reused by its respawn. */
  readonly ledger: BusyLedger;
  /** The worker's totals (server-status); kept across respawns. */
  readonly stats = new WorkerStats();
  constructor(id: number, memberCapacity: number) {
    this.id = id;
    this.ledger = new BusyLedger(memberCapacity);
  }
}

/** Hook bootstrap for running the worker from .ts sources: resolve "./x.js" to "./x.ts" when absent. */
const TS_BOOTSTRAP = `
const { registerHooks } = require("node:module");
const { workerData } = require("node:worker_threads");
registerHooks({
  resolve(specifier, context, next) {
    try { return next(specifier, context); }
    catch (err) {
      if (specifier.startsWith(".") && specifier.endsWith(".js")) return next(specifier.slice(0, -3) + ".ts", context);
      throw err;
    }
  },
});
import(workerData.__entry);
`;

function defaultEntry(): URL {
  const self = import.meta.url;
  return new URL(self.endsWith(".ts") ? "./worker.ts" : "./worker.js", self);
}

export class WorkerPool implements SnapshotSink, BalancerStateReader {
  readonly #options: WorkerPoolOptions;
  readonly #log: Logger;
  readonly #entry: URL;
  readonly #board: Scoreboard;
  readonly #allocator: SlotAllocator;
  /** Active health checks: run here, once per member, never in the workers. */
  readonly #health: HealthChecker;
  /** balancer-manager overrides, written into the scoreboard here and re-applied after every apply. */
  readonly #overrides: RuntimeOverrides;
  readonly #slots: WorkerSlot[] = [];
  #port: number;
  #httpsPort: number | null;
  #tls: { readonly defaultCertificate: PemPair; readonly ticketKeys: Buffer } | null;
  /** The self-signed default certificate being made (started at construction, so it overlaps the rest of start-up); null = not needed. */
  readonly #making: Promise<PemPair> | null;
  #current: WorkerSnapshot | null = null;
  /** Position of each balancer id in `#current.endpoints.balancers` (to merge deltas). */
  #positions = new Map<string, number>();
  #waiters: Waiter[] = [];
  #closing = false;
  #draining = false;
  #respawns = 0;
  /** Scrapes waiting for a worker's metrics, by request id. */
  readonly #metricsWaiters = new Map<number, MetricsWaiter>();
  #metricsId = 0;

  constructor(options: WorkerPoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError("workers must be a positive integer");
    this.#options = options;
    this.#log = options.logger;
    this.#entry = options.entry ?? defaultEntry();
    this.#board = Scoreboard.create(options.scoreboard);
    this.#allocator = new SlotAllocator(this.#board);
    this.#health = new HealthChecker({ scoreboard: this.#board, logger: options.healthLogger ?? options.logger });
    this.#overrides = new RuntimeOverrides(this.#board, this.#allocator);
    this.#port = options.port;
    this.#httpsPort = options.httpsPort ?? null;
    this.#tls = options.tls ?? null;
    this.#making = this.#httpsPort !== null && this.#tls === null ? createDefaultCertificate() : null;
    // Awaited by start(); a failure is reported there, not as an unhandled rejection.
    this.#making?.catch(() => undefined);
    for (let i = 0; i < options.workers; i++) this.#slots.push(new WorkerSlot(i, this.#board.memberCapacity));
  }

  /** Spawns the workers; resolves with the port once every worker listens. */
  async start(): Promise<number> {
    const first = this.#slots[0];
    if (first === undefined) throw new Error("no workers");
    if (this.#making !== null && this.#tls === null) this.#tls = { defaultCertificate: await this.#making, ticketKeys: createTicketKeys() };
    this.#port = await this.#spawn(first);
    await Promise.all(this.#slots.slice(1).map((s) => this.#spawn(s)));
    return this.#port;
  }

  get port(): number {
    return this.#port;
  }

  /** The TLS listener's port (known once started); null = no TLS listener. */
  get httpsPort(): number | null {
    return this.#httpsPort;
  }

  get scoreboard(): Scoreboard {
    return this.#board;
  }

  /** The primary's active health checks (results for the admin pages). */
  get healthChecker(): HealthChecker {
    return this.#health;
  }

  /** How many workers were respawned after a crash. */
  get respawns(): number {
    return this.#respawns;
  }

  /** Thread ids of the running workers (index = worker id), -1 while one is restarting. */
  threadIds(): number[] {
    return this.#slots.map((s) => (s.worker !== null && s.listening ? s.worker.threadId : -1));
  }

  /** Each worker's totals, read from the stats regions (no messaging). */
  workerStats(): WorkerStatsView[] {
    return this.#slots.map((s) => ({ id: s.id, running: s.worker !== null && s.listening, ...s.stats.read() }));
  }

  /**
   * Asks every running worker for its registry's getMetricsAsJSON(); a worker that does not answer
   * within `timeoutMs` (or is restarting) is skipped and counted.
   */
  async collectMetrics(timeoutMs = 2_000): Promise<WorkerMetrics> {
    const answers = await Promise.all(
      this.#slots.map((s) => {
        const w = s.worker;
        if (w === null || !s.listening) return Promise.resolve(null);
        const id = ++this.#metricsId;
        return new Promise<ReadonlyArray<MetricJson> | null>((resolve) => {
          const timer = setTimeout(() => {
            this.#metricsWaiters.delete(id);
            resolve(null);
          }, timeoutMs);
          this.#metricsWaiters.set(id, { resolve, timer });
          w.postMessage({ type: "metrics", id } satisfies ToWorker);
        });
      }),
    );
    const workers = answers.filter((a): a is ReadonlyArray<MetricJson> => a !== null);
    return { workers, skipped: answers.length - workers.length };
  }

  /** Busy and elected counters of a member as all workers see them; null if unknown. */
  memberStats(balancer: string, key: string): { busy: number; elected: number } | null {
    const slot = this.#allocator.memberSlot(balancer, key);
    if (slot === undefined) return null;
    return { busy: this.#board.memberField(slot, MEMBER_BUSY), elected: this.#board.memberField(slot, MEMBER_ELECTED) >>> 0 };
  }

  /** balancer-manager: replaces the runtime overrides (written into the scoreboard at once). */
  setRuntimeState(state: RuntimeState): void {
    this.#overrides.set(state);
  }

  /** BalancerStateReader: the live balancers as the admin pages show them; null before the first apply. */
  balancers(): ReadonlyArray<BalancerView> | null {
    const current = this.#current;
    if (current === null) return null;
    const entries = current.endpoints.balancers.map((b, i) => ({ id: b.balancer, members: b.members, memberSlots: current.slots.members[i] ?? [], balancerSlot: current.slots.balancers[i] ?? 0 }));
    return describeBalancers(current.routes, entries, this.#board, this.#health.results());
  }

  clearFlags(balancer: string, member: string, flags: ReadonlyArray<ClearableFlag>): boolean {
    return this.#overrides.clearFlags(balancer, member, flags);
  }

  #assign(endpoints: EndpointTable): SlotAssignment {
    const slots = this.#allocator.assign(endpoints);
    this.#warnOverflow();
    return slots;
  }

  #warnOverflow(): void {
    if (this.#allocator.takeOverflowWarning()) {
      this.#log.warn({ capacity: { members: this.#board.memberCapacity, balancers: this.#board.balancerCapacity } }, "scoreboard full: further members share an overflow slot (approximate counters)");
    }
  }

  applyRoutes(routes: RouteTable, endpoints: EndpointTable): Promise<void> {
    const slots = this.#assign(endpoints);
    const snapshot: WorkerSnapshot = { seq: slots.generation, routes, endpoints, slots };
    this.#setCurrent(snapshot);
    this.#health.update(routes, endpoints, slots);
    this.#overrides.reapply();
    this.#broadcast({ type: "routes", snapshot });
    return this.#waitFor(snapshot.seq);
  }

  applyEndpoints(endpoints: EndpointTable): Promise<void> {
    if (this.#current === null) return Promise.reject(new Error("applyEndpoints before the first applyRoutes"));
    const slots = this.#assign(endpoints);
    this.#setCurrent({ seq: slots.generation, routes: this.#current.routes, endpoints, slots });
    this.#health.update(this.#current.routes, endpoints, slots);
    this.#overrides.reapply();
    this.#broadcast({ type: "endpoints", seq: slots.generation, endpoints, slots });
    return this.#waitFor(slots.generation);
  }

  /**
   * Replaces the members of the balancers `delta` names: slots are assigned for those members only,
   * and only the delta goes to each worker. The full current table (for respawned workers) is kept
   * by merging the delta into it.
   */
  applyEndpointDelta(delta: EndpointDelta): Promise<void> {
    const current = this.#current;
    if (current === null) return Promise.reject(new Error("applyEndpointDelta before the first applyRoutes"));
    const slots = this.#allocator.assignDelta(delta);
    this.#warnOverflow();
    const balancers: BalancerMembers[] = [...current.endpoints.balancers];
    const balancerSlots = [...current.slots.balancers];
    const memberSlots = [...current.slots.members];
    for (let i = 0; i < delta.balancers.length; i++) {
      const entry = delta.balancers[i];
      const at = entry === undefined ? undefined : this.#positions.get(entry.balancer);
      if (entry === undefined || at === undefined) continue; // not in the route table: workers ignore it too
      balancers[at] = entry;
      balancerSlots[at] = slots.balancers[i] ?? 0;
      memberSlots[at] = slots.members[i] ?? [];
    }
    this.#current = {
      seq: slots.generation,
      routes: current.routes,
      endpoints: { version: delta.version, balancers },
      slots: { generation: slots.generation, balancers: balancerSlots, members: memberSlots },
    };
    // Only the delta's balancers changed: their checks and overrides, nothing else, are reconciled.
    this.#health.updateDelta(current.routes, delta, slots);
    this.#overrides.reapplyTo(delta.balancers.map((b) => b.balancer));
    this.#broadcast({ type: "delta", seq: slots.generation, delta, slots });
    return this.#waitFor(slots.generation);
  }

  #setCurrent(snapshot: WorkerSnapshot): void {
    this.#current = snapshot;
    this.#positions = new Map(snapshot.endpoints.balancers.map((b, i) => [b.balancer, i]));
  }

  /**
   * Shutdown delay: every worker answers from now on with `Connection: close` (and respawned ones
   * too), so keep-alive clients reconnect, through the Service, to a replica that is ready.
   */
  drain(): void {
    this.#draining = true;
    this.#broadcast({ type: "drain" });
  }

  /** Test/operator hook: kill one worker abruptly (as a crash would); it is respawned. */
  async killWorker(id: number): Promise<void> {
    const slot = this.#slots[id];
    if (slot?.worker != null) await slot.worker.terminate();
  }

  /** Graceful shutdown: every worker stops accepting, drains for up to `graceMs`, then exits. */
  async close(graceMs = 30_000): Promise<void> {
    this.#closing = true;
    this.#health.close();
    await Promise.all(
      this.#slots.map(async (s) => {
        const w = s.worker;
        if (w === null) return;
        const exited = new Promise<void>((resolve) => w.once("exit", () => resolve()));
        w.postMessage({ type: "close", graceMs } satisfies ToWorker);
        const hard = setTimeout(() => void w.terminate(), graceMs + 2_000);
        await exited;
        clearTimeout(hard);
      }),
    );
    for (const w of this.#waiters) w.resolve();
    this.#waiters = [];
  }

  #broadcast(msg: ToWorker): void {
    for (const s of this.#slots) if (s.worker !== null && s.listening) s.worker.postMessage(msg);
  }

  #waitFor(seq: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#waiters.push({ seq, resolve });
      this.#settle();
    });
  }

  #settle(): void {
    let min = Number.POSITIVE_INFINITY;
    for (const s of this.#slots) min = Math.min(min, s.applied);
    if (min < 0 || !Number.isFinite(min)) return;
    this.#allocator.release(min);
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.seq <= min) w.resolve();
      else still.push(w);
    }
    this.#waiters = still;
  }

  #spawn(slot: WorkerSlot): Promise<number> {
    const init: WorkerInit & { __entry: string } = {
      id: slot.id,
      buffer: this.#board.buffer,
      port: this.#port,
      httpsPort: this.#httpsPort,
      tls: this.#tls === null ? null : { defaultCertificate: this.#tls.defaultCertificate, ticketKeys: new Uint8Array(this.#tls.ticketKeys) },
      host: this.#options.host ?? "0.0.0.0",
      logLevel: this.#options.logLevel,
      accessLog: this.#options.accessLog,
      exposeWorkerId: this.#options.exposeWorkerId ?? false,
      maxHeaderSize: this.#options.maxHeaderSize ?? 16_384,
      busyLedger: slot.ledger.buffer,
      stats: slot.stats.buffer,
      accessLogFormat: this.#options.accessLogFormat ?? "json",
      trustedProxies: this.#options.trustedProxies ?? [],
      proxyProtocol: this.#options.proxyProtocol ?? false,
      initial: this.#current,
      __entry: this.#entry.href,
    };
    const fromSource = this.#entry.pathname.endsWith(".ts");
    const worker = fromSource ? new Worker(TS_BOOTSTRAP, { eval: true, workerData: init }) : new Worker(this.#entry, { workerData: init });
    slot.worker = worker;
    slot.applied = -1;
    slot.listening = false;
    return new Promise<number>((resolve, reject) => {
      let started = false;
      worker.on("message", (msg: FromWorker) => {
        switch (msg.type) {
          case "listening":
            started = true;
            slot.listening = true;
            if (msg.httpsPort !== null) this.#httpsPort = msg.httpsPort;
            // Catch up on applies made while this worker was starting.
            if (this.#current !== null && this.#current.seq > msg.seq) {
              worker.postMessage({ type: "routes", snapshot: this.#current } satisfies ToWorker);
            }
            slot.applied = msg.seq;
            if (this.#draining) worker.postMessage({ type: "drain" } satisfies ToWorker);
            this.#settle();
            resolve(msg.port);
            break;
          case "ack":
            if (msg.seq > slot.applied) slot.applied = msg.seq;
            this.#settle();
            break;
          case "failed":
            reject(new Error(`worker ${slot.id} failed to listen: ${msg.message}`));
            break;
          case "closed":
            break;
          case "metrics": {
            const waiter = this.#metricsWaiters.get(msg.id);
            if (waiter === undefined) break; // too late: already skipped
            this.#metricsWaiters.delete(msg.id);
            clearTimeout(waiter.timer);
            waiter.resolve(msg.metrics);
            break;
          }
        }
      });
      worker.on("error", (err) => {
        this.#log.error({ err, worker: slot.id }, "data-plane worker error");
      });
      worker.on("exit", (code) => {
        if (slot.worker !== worker) return;
        slot.worker = null;
        slot.listening = false;
        // Its in-flight requests died with it: their busy counts must not stay in the scoreboard.
        const settled = slot.ledger.settle(this.#board);
        slot.stats.exited();
        if (settled > 0 && !this.#closing) this.#log.warn({ worker: slot.id, requests: settled }, "data-plane worker exited with requests in flight; their busy counts were released");
        if (!started) reject(new Error(`worker ${slot.id} exited with code ${code} before listening`));
        if (this.#closing) return;
        this.#respawn(slot, code);
      });
    });
  }

  #respawn(slot: WorkerSlot, code: number): void {
    const now = Date.now();
    slot.crashes = now - slot.lastCrash < 10_000 ? slot.crashes + 1 : 1;
    slot.lastCrash = now;
    const delay = slot.crashes <= 1 ? 0 : Math.min(5_000, 100 * 2 ** (slot.crashes - 2));
    this.#log.warn({ worker: slot.id, code, delayMs: delay }, "data-plane worker exited; respawning");
    slot.applied = -1;
    setTimeout(() => {
      if (this.#closing) return;
      this.#respawns++;
      this.#spawn(slot).catch((err: unknown) => this.#log.error({ err, worker: slot.id }, "data-plane worker respawn failed"));
    }, delay);
  }
}
