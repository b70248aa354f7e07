// The Event recorder: every diagnostic about a Kubernetes object becomes one events.k8s.io/v1
// Event on that object, the way `kubectl describe` shows it. Like client-go's EventRecorder it
// deduplicates: a diagnostic that persists across rebuilds keeps its one Event, whose `series`
// (count, lastObservedTime) is updated at most once per interval; when the diagnostic disappears it
// is forgotten (and, while the object still exists, a Normal `Resolved` Event says so), so it is
// reported afresh if it comes back.
//
// Writes never block the reconcile loop: observe() only updates an in-memory table and queues work;
// one writer drains the queue through a token bucket (default 10 writes/s, burst 25: a storm of
// diagnostics reaches the API server at that pace, the rest waits in a bounded queue and is
// dropped, with one log line, beyond it). Failed writes are retried after a backoff and are
// logged once per failure streak; nothing here ever throws into the caller.
import {
  EventsV1Api,
  PatchStrategy,
  V1MicroTime,
  setHeaderOptions,
  type EventsV1Event,
  type KubeConfig,
  type V1ObjectReference,
} from "@kubernetes/client-node";
import type { BuildObservation, BuildObserver, ClusterView, Diagnostic } from "../model/index.js";
import type { Logger } from "../util/index.js";
import { KubeError, describeError, statusOf } from "./errors.js";

/** A write of an Event failed (wraps the API error; logged, never thrown to callers). */
export class EventWriteError extends KubeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("PPI_ERR_KUBE_EVENT_WRITE", message, options);
  }
}

/** The recorder was given unusable options (a programmer error: thrown by the constructor). */
export class EventRecorderOptionsError extends KubeError {
  constructor(message: string) {
    super("PPI_ERR_KUBE_EVENT_OPTIONS", message);
  }
}

export const defaultReportingController = "proxypass.io/ingress-controller";

export interface EventRateLimit {
  /** Tokens added per second. */
  readonly perSecond: number;
  /** Bucket size: writes allowed at once after a quiet period. */
  readonly burst: number;
}

export const defaultEventRateLimit: EventRateLimit = Object.freeze({ perSecond: 10, burst: 25 });

export interface EventRecorderOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** `reportingInstance`: this controller's identity (POD_NAME, else hostname plus a random suffix). */
  readonly identity: string;
  /** `reportingController` (default `proxypass.io/ingress-controller`). */
  readonly reportingController?: string;
  /** Token bucket for all writes (default 10/s, burst 25). */
  readonly rateLimit?: EventRateLimit;
  /** Writes waiting at most (default 256); beyond it new writes are dropped, one log line per streak. */
  readonly queueLimit?: number;
  /** A persisting diagnostic's Event series is updated at most this often (default 60 000 ms). */
  readonly seriesIntervalMs?: number;
  /** Record a Normal `Resolved` Event when a diagnostic disappears and its object still exists (default true). */
  readonly recordResolved?: boolean;
  /** Events are recorded only while this returns true (e.g. while leader). Default: always. */
  readonly isActive?: () => boolean;
  /** Clock in ms since the epoch (default Date.now): Event times, series interval, token bucket. */
  readonly now?: () => number;
  /** First retry delay of failed writes (default 2 000 ms), doubling per failure up to `retryCapMs`. */
  readonly retryMs?: number;
  /** Longest retry delay (default 30 000 ms). */
  readonly retryCapMs?: number;
  /** A write not answered within this is counted as failed (default 10 000 ms). */
  readonly requestTimeoutMs?: number;
}

/** Kinds that are Kubernetes objects, with their apiVersion. `File` diagnostics get no Event. */
type KubeKind = Exclude<Diagnostic["kind"], "File">;
const apiVersions: Readonly<Record<KubeKind, string>> = {
  Ingress: "networking.k8s.io/v1",
  IngressClass: "networking.k8s.io/v1",
  Service: "v1",
  Secret: "v1",
  ConfigMap: "v1",
  EndpointSlice: "discovery.k8s.io/v1",
};

/** Events of cluster-scoped objects go to this namespace (as client-go does). */
const clusterScopedEventNamespace = "default";
/** The API server rejects a `note` longer than 1 KiB. */
export const maxNoteBytes = 1024;
const action = "Reconcile";

interface Tracked {
  readonly key: string;
  readonly diagnostic: Diagnostic;
  /** Namespace the Event is written to. */
  readonly namespace: string;
  readonly regarding: V1ObjectReference;
  /** Builds that reported it since it appeared. */
  count: number;
  lastObserved: number;
  /** Name of the Event once created. */
  eventName: string | null;
  /** `count` as last written. */
  reportedCount: number;
  /** Time of the last successful write. */
  lastWrite: number;
  /** The last write failed: retried after the backoff. */
  failed: boolean;
  /** A write of it is in flight. */
  writing: boolean;
}

type Work = { readonly type: "report"; readonly entry: Tracked } | { readonly type: "resolved"; readonly entry: Tracked };

/** Records an Event per diagnostic about a Kubernetes object, deduplicated and rate-limited. */
export class EventRecorder implements BuildObserver {
  readonly #api: EventsV1Api;
  readonly #log: Logger;
  readonly #identity: string;
  readonly #controller: string;
  readonly #now: () => number;
  readonly #isActive: () => boolean;
  readonly #bucket: TokenBucket;
  readonly #queueLimit: number;
  readonly #seriesIntervalMs: number;
  readonly #recordResolved: boolean;
  readonly #retryMs: number;
  readonly #retryCapMs: number;
  readonly #requestTimeoutMs: number;
  readonly #tracked = new Map<string, Tracked>();
  /** Pending writes in arrival order ("report:KEY" / "resolved:KEY"); a Map gives O(1) removal. */
  readonly #queue = new Map<string, Work>();
  #draining: Promise<void> | null = null;
  #drainTimer: NodeJS.Timeout | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #failures = 0;
  #dropped = 0;
  #writes = 0;
  #closed = false;

  constructor(options: EventRecorderOptions) {
    if (options.identity === "") throw new EventRecorderOptionsError("EventRecorder: identity (reportingInstance) must not be empty");
    const rate = options.rateLimit ?? defaultEventRateLimit;
    if (!(rate.perSecond > 0) || !(rate.burst >= 1)) throw new EventRecorderOptionsError(`EventRecorder: invalid rate limit ${rate.perSecond}/s burst ${rate.burst}`);
    this.#api = options.kubeConfig.makeApiClient(EventsV1Api);
    this.#log = options.logger;
    // The API server accepts at most 128 characters.
    this.#identity = options.identity.slice(0, 128);
    this.#controller = options.reportingController ?? defaultReportingController;
    this.#now = options.now ?? Date.now;
    this.#isActive = options.isActive ?? (() => true);
    this.#bucket = new TokenBucket(rate, this.#now);
    this.#queueLimit = Math.max(1, options.queueLimit ?? 256);
    this.#seriesIntervalMs = options.seriesIntervalMs ?? 60_000;
    this.#recordResolved = options.recordResolved ?? true;
    this.#retryMs = options.retryMs ?? 2_000;
    this.#retryCapMs = options.retryCapMs ?? 30_000;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  /** Successful API writes so far (creates and patches). */
  get writes(): number {
    return this.#writes;
  }

  /** Writes waiting for the rate limiter or the API. */
  get pending(): number {
    return this.#queue.size;
  }

  /** Diagnostics currently tracked (each has, or is about to get, one Event). */
  get tracked(): number {
    return this.#tracked.size;
  }

  observe(observation: BuildObservation): void {
    if (this.#closed) return;
    if (!this.#isActive()) {
      // A follower reports nothing; when it becomes leader it reports what is current afresh.
      this.#tracked.clear();
      this.#queue.clear();
      return;
    }
    const now = this.#now();
    const seen = new Set<string>();
    let uids: Map<string, string> | null = null;
    for (const diagnostic of observation.diagnostics) {
      if (!isKubeObject(diagnostic)) continue;
      const key = keyOf(diagnostic);
      if (seen.has(key)) continue;
      seen.add(key);
      const entry = this.#tracked.get(key);
      if (entry === undefined) {
        uids ??= indexUids(observation.view);
        const created = track(key, diagnostic, now, uids);
        this.#tracked.set(key, created);
        this.#queue.delete(`resolved:${key}`);
        this.#enqueue(`report:${key}`, { type: "report", entry: created });
        continue;
      }
      entry.count++;
      entry.lastObserved = now;
      // Queued, in flight, or waiting for the retry after a failure: nothing to add.
      if (entry.writing || entry.failed || this.#queue.has(`report:${key}`)) continue;
      if (entry.eventName === null) {
        // Never written (it was dropped from a full queue): try again.
        this.#enqueue(`report:${key}`, { type: "report", entry });
      } else if (entry.count > entry.reportedCount && now - entry.lastWrite >= this.#seriesIntervalMs) {
        this.#enqueue(`report:${key}`, { type: "report", entry });
      }
    }
    for (const [key, entry] of this.#tracked) {
      if (seen.has(key)) continue;
      this.#tracked.delete(key);
      this.#queue.delete(`report:${key}`);
      if (this.#recordResolved && entry.eventName !== null) {
        uids ??= indexUids(observation.view);
        if (uids.has(objectKey(entry.diagnostic))) this.#enqueue(`resolved:${key}`, { type: "resolved", entry });
      }
    }
    this.#kick();
  }

  /** Stops the writer: drops what is queued and waits for the write in flight. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.clear();
    this.#tracked.clear();
    if (this.#drainTimer !== null) clearTimeout(this.#drainTimer);
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#drainTimer = null;
    this.#retryTimer = null;
    await this.#draining;
  }

  #enqueue(id: string, work: Work): void {
    if (this.#queue.has(id)) return;
    if (this.#queue.size >= this.#queueLimit) {
      if (this.#dropped === 0) {
        this.#log.warn({ limit: this.#queueLimit, reason: work.entry.diagnostic.reason }, "Event queue full; dropping Events until it drains");
      }
      this.#dropped++;
      return;
    }
    this.#queue.set(id, work);
  }

  #kick(): void {
    if (this.#closed || this.#draining !== null || this.#drainTimer !== null || this.#queue.size === 0) return;
    this.#draining = this.#drain().finally(() => {
      this.#draining = null;
    });
  }

  async #drain(): Promise<void> {
    while (!this.#closed) {
      const next = this.#queue.entries().next();
      if (next.done === true) {
        if (this.#dropped > 0) {
          this.#log.info({ dropped: this.#dropped }, "Event queue drained; dropped Events are retried at the next rebuild");
          this.#dropped = 0;
        }
        return;
      }
      const [id, work] = next.value;
      if (work.type === "report" && this.#tracked.get(work.entry.key) !== work.entry) {
        this.#queue.delete(id);
        continue;
      }
      const wait = this.#bucket.take();
      if (wait > 0) {
        this.#drainTimer = setTimeout(() => {
          this.#drainTimer = null;
          this.#kick();
        }, wait);
        this.#drainTimer.unref();
        return;
      }
      this.#queue.delete(id);
      await this.#write(work);
    }
  }

  async #write(work: Work): Promise<void> {
    const entry = work.entry;
    const now = this.#now();
    entry.writing = work.type === "report";
    try {
      if (work.type === "resolved") {
        await this.#create(entry, "Normal", "Resolved", `resolved: ${entry.diagnostic.reason}: ${entry.diagnostic.message}`, now);
      } else if (entry.eventName === null) {
        const count = entry.count;
        entry.eventName = await this.#create(entry, "Warning", entry.diagnostic.reason, entry.diagnostic.message, now);
        entry.reportedCount = count;
      } else {
        const count = entry.count;
        const found = await this.#patchSeries(entry.namespace, entry.eventName, count, entry.lastObserved);
        if (!found) {
          // Expired (Events have a TTL) or deleted: start a new one.
          entry.eventName = null;
          this.#queue.set(`report:${entry.key}`, work);
        }
        entry.reportedCount = count;
      }
      entry.lastWrite = now;
      entry.failed = false;
      this.#writes++;
      this.#succeeded();
    } catch (err) {
      this.#failed(work, err);
    } finally {
      if (work.type === "report") entry.writing = false;
    }
  }

  async #create(entry: Tracked, type: "Warning" | "Normal", reason: string, note: string, now: number): Promise<string> {
    const base = entry.regarding.name ?? "object";
    const body: EventsV1Event = {
      metadata: { generateName: `${base.length > 200 ? base.slice(0, 200) : base}.`, namespace: entry.namespace },
      eventTime: new V1MicroTime(now),
      type,
      reason,
      note: truncateNote(note),
      action,
      regarding: entry.regarding,
      reportingController: this.#controller,
      reportingInstance: this.#identity,
    };
    const created = await this.#bounded(this.#api.createNamespacedEvent({ namespace: entry.namespace, body }), "create");
    const name = created.metadata?.name;
    if (name === undefined || name === "") throw new EventWriteError("the API server created an Event without a name");
    return name;
  }

  /** Merge-patches the series; false when the Event no longer exists. */
  async #patchSeries(namespace: string, name: string, count: number, lastObserved: number): Promise<boolean> {
    const body = { series: { count, lastObservedTime: new V1MicroTime(lastObserved) } };
    try {
      await this.#bounded(this.#api.patchNamespacedEvent({ name, namespace, body }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch)), "patch");
      return true;
    } catch (err) {
      if (statusOf(err) === 404 || (err instanceof EventWriteError && statusOf(err.cause) === 404)) return false;
      throw err;
    }
  }

  /** Resolves with the API answer or rejects after `requestTimeoutMs`. */
  #bounded<T>(request: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EventWriteError(`Event ${what}: no answer within ${this.#requestTimeoutMs} ms`)), this.#requestTimeoutMs);
      timer.unref();
    });
    request.catch(() => undefined);
    return Promise.race([request, timeout]).finally(() => clearTimeout(timer));
  }

  #succeeded(): void {
    if (this.#failures > 0) {
      this.#log.info({ failures: this.#failures }, "Event writes succeed again");
      this.#failures = 0;
    }
  }

  #failed(work: Work, err: unknown): void {
    this.#failures++;
    const error = err instanceof EventWriteError ? err : new EventWriteError(`Event write failed: ${describeError(err)}`, { cause: err });
    if (this.#failures === 1) {
      this.#log.warn({ err: error, reason: work.entry.diagnostic.reason, object: work.entry.diagnostic.object }, "cannot write Events; retrying with backoff (logged once until they succeed)");
    } else {
      this.#log.debug({ err: error, failures: this.#failures }, "Event write failed again");
    }
    // A Resolved Event is not retried; a report is, while its diagnostic persists.
    if (work.type !== "report") return;
    work.entry.failed = true;
    if (this.#retryTimer !== null || this.#closed) return;
    const delay = Math.min(this.#retryCapMs, this.#retryMs * 2 ** Math.min(this.#failures - 1, 16));
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      for (const [key, entry] of this.#tracked) {
        if (!entry.failed) continue;
        entry.failed = false;
        this.#enqueue(`report:${key}`, { type: "report", entry });
      }
      this.#kick();
    }, delay);
    this.#retryTimer.unref();
  }
}

/** Classic token bucket over an injected clock: `take()` returns 0 when a token was taken, else ms to wait. */
class TokenBucket {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(rate: EventRateLimit, now: () => number) {
    this.#perMs = rate.perSecond / 1000;
    this.#burst = rate.burst;
    this.#now = now;
    this.#tokens = rate.burst;
    this.#at = now();
  }

  take(): number {
    const now = this.#now();
    if (now > this.#at) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs);
      this.#at = now;
    }
    if (this.#tokens >= 1) {
      this.#tokens--;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.#perMs));
  }
}

function keyOf(d: Diagnostic): string {
  return `${d.kind}\u0000${d.object}\u0000${d.reason}\u0000${d.message}`;
}

function objectKey(d: { readonly kind: string; readonly object: string }): string {
  return `${d.kind}\u0000${d.object}`;
}

/** "namespace/name", or "name" for a cluster-scoped object. */
function splitObject(object: string): { namespace: string | undefined; name: string } {
  const slash = object.indexOf("/");
  if (slash <= 0) return { namespace: undefined, name: slash === 0 ? object.slice(1) : object };
  return { namespace: object.slice(0, slash), name: object.slice(slash + 1) };
}

function isKubeObject(d: Diagnostic): d is Diagnostic & { readonly kind: KubeKind } {
  return d.kind !== "File";
}

function track(key: string, diagnostic: Diagnostic & { readonly kind: KubeKind }, now: number, uids: ReadonlyMap<string, string>): Tracked {
  const kind = diagnostic.kind;
  const { namespace, name } = splitObject(diagnostic.object);
  const uid = uids.get(objectKey(diagnostic));
  const regarding: V1ObjectReference = {
    apiVersion: apiVersions[kind],
    kind,
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(uid !== undefined && uid !== "" ? { uid } : {}),
  };
  return {
    key,
    diagnostic,
    namespace: namespace ?? clusterScopedEventNamespace,
    regarding,
    count: 1,
    lastObserved: now,
    eventName: null,
    reportedCount: 0,
    lastWrite: now,
    failed: false,
    writing: false,
  };
}

/** kind + "ns/name" (or "name") → uid, for every object of the view (present ones only). */
function indexUids(view: ClusterView): Map<string, string> {
  const uids = new Map<string, string>();
  const add = (kind: string, items: ReadonlyArray<{ readonly metadata: { readonly name: string; readonly namespace?: string; readonly uid?: string | undefined } }>): void => {
    for (const item of items) {
      const m = item.metadata;
      uids.set(objectKey({ kind, object: m.namespace === undefined ? m.name : `${m.namespace}/${m.name}` }), m.uid ?? "");
    }
  };
  add("Ingress", view.ingresses);
  add("IngressClass", view.ingressClasses);
  add("Service", view.services);
  add("EndpointSlice", view.endpointSlices);
  add("Secret", view.secrets);
  add("ConfigMap", view.configMaps);
  return uids;
}

/** Cuts a note to at most 1 KiB of UTF-8, on a code point boundary, marking the cut. */
export function truncateNote(note: string): string {
  if (Buffer.byteLength(note, "utf8") <= maxNoteBytes) return note;
  const marker = "…";
  const budget = maxNoteBytes - Buffer.byteLength(marker, "utf8");
  let bytes = 0;
  let out = "";
  for (const ch of note) {
    const n = Buffer.byteLength(ch, "utf8");
    if (bytes + n > budget) break;
    bytes += n;
    out += ch;
  }
  return out + marker;
}
