// Owns one watched collection: its object store and the client-node informer that feeds it.
// client-node informers stop for good on any error but 410 (socket closed, non-200, refused, failed
// list) and also report their own stop() as an AbortError, so on error the supervisor retires the
// informer and starts a fresh one after a capped, jittered backoff. Every list result replaces the
// store (objects deleted meanwhile go away, nothing doubles), a watch silent longer than its timeout
// counts as failed (relist), and no consumer exception ever escapes into client-node.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "../util/index.js";
import { backoffDelay, backoffStep, defaultBackoff, type BackoffOptions } from "./backoff.js";
import { KubeClosedError, WatchStaleError, describeError } from "./errors.js";
import type { InformerFactory, InformerHooks, ListFunction, SupervisedInformer } from "./watch.js";

export interface StoreEvent {
  readonly type: "upsert" | "delete";
  /** "namespace/name" ("name" for cluster-scoped objects). */
  readonly key: string;
  /** The new object (upsert) or the last known one (delete), raw as client-node delivered it. */
  readonly object: KubernetesObject;
}

export interface SupervisorOptions {
  /** Resource name for logs ("ingresses"). */
  readonly resource: string;
  readonly logger: Logger;
  /** Lists the collection (the API call). */
  readonly list: ListFunction;
  /** Creates a fresh informer; called again on every restart. */
  readonly createInformer: InformerFactory;
  /** Receives every change of the store. Exceptions are caught, counted and logged. */
  readonly onEvent: (event: StoreEvent) => void;
  readonly backoff?: BackoffOptions;
  /** A watch without any sign of life for this long is stale: the informer is replaced (relist). */
  readonly staleAfterMs?: number;
  /** An informer that ran this long before failing resets the backoff. */
  readonly healthyAfterMs?: number;
  readonly random?: () => number;
  readonly now?: () => number;
}

export class InformerSupervisor {
  readonly #resource: string;
  readonly #log: Logger;
  readonly #listFn: ListFunction;
  readonly #create: InformerFactory;
  readonly #onEvent: (event: StoreEvent) => void;
  readonly #backoff: BackoffOptions;
  readonly #staleAfterMs: number;
  readonly #healthyAfterMs: number;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #store = new Map<string, KubernetesObject>();

  #generation = 0;
  #informer: SupervisedInformer | null = null;
  #startedAt = 0;
  #lastActivity = 0;
  #attempt = 0;
  #loggedStep = -1;
  #outageLogged = false;
  #restarts = 0;
  #handlerErrors = 0;
  #synced = false;
  #closed = false;
  #retryTimer: NodeJS.Timeout | null = null;
  #staleTimer: NodeJS.Timeout | null = null;
  readonly #syncWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];

  constructor(options: SupervisorOptions) {
    this.#resource = options.resource;
    this.#log = options.logger;
    this.#listFn = options.list;
    this.#create = options.createInformer;
    this.#onEvent = options.onEvent;
    this.#backoff = options.backoff ?? defaultBackoff;
    this.#staleAfterMs = options.staleAfterMs ?? 90_000;
    this.#healthyAfterMs = options.healthyAfterMs ?? 5_000;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => performance.now());
  }

  get resource(): string {
    return this.#resource;
  }

  /** True once a first list has been applied to the store. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Informers replaced after an error or a stale watch. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Exceptions thrown by the event consumer (caught). */
  get handlerErrors(): number {
    return this.#handlerErrors;
  }

  /** True while an informer runs (false while waiting to restart). */
  get running(): boolean {
    return this.#informer !== null;
  }

  /** The stored objects, in key order. */
  list(): ReadonlyArray<KubernetesObject> {
    return [...this.#store.keys()].sort().flatMap((k) => {
      const o = this.#store.get(k);
      return o === undefined ? [] : [o];
    });
  }

  get size(): number {
    return this.#store.size;
  }

  /** Starts the first informer (it keeps retrying until close). */
  start(): void {
    if (this.#closed || this.#informer !== null || this.#retryTimer !== null) return;
    const interval = Math.max(50, Math.min(1000, Math.floor(this.#staleAfterMs / 4)));
    this.#staleTimer = setInterval(() => this.#checkStale(), interval);
    this.#staleTimer.unref();
    this.#launch();
  }

  /** Resolves after the first list has been applied; rejects with KubeClosedError if closed before. */
  whenSynced(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    if (this.#closed) return Promise.reject(new KubeClosedError(`${this.#resource}: closed before the initial list`));
    return new Promise((resolve, reject) => this.#syncWaiters.push({ resolve, reject }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#generation++;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    if (this.#staleTimer !== null) clearInterval(this.#staleTimer);
    this.#retryTimer = null;
    this.#staleTimer = null;
    const informer = this.#informer;
    this.#informer = null;
    for (const waiter of this.#syncWaiters.splice(0)) waiter.reject(new KubeClosedError(`${this.#resource}: closed before the initial list`));
    if (informer !== null) await informer.stop().catch(() => undefined);
  }

  #launch(): void {
    this.#retryTimer = null;
    if (this.#closed) return;
    const generation = ++this.#generation;
    const current = (): boolean => generation === this.#generation && !this.#closed;
    const hooks: InformerHooks = {
      list: () => this.#list(generation),
      activity: () => {
        if (current()) this.#lastActivity = this.#now();
      },
      failure: (err) => this.#fail(generation, err),
      isCurrent: current,
    };
    let informer: SupervisedInformer;
    try {
      informer = this.#create(hooks);
    } catch (err) {
      this.#informer = null;
      this.#scheduleRestart(err);
      return;
    }
    const upsert = (obj: KubernetesObject): void => {
      if (current()) this.#upsert(obj);
    };
    informer.on("add", upsert);
    informer.on("update", upsert);
    informer.on("delete", (obj) => {
      if (current()) this.#delete(obj);
    });
    informer.on("error", (err) => this.#fail(generation, err));
    informer.on("connect", () => hooks.activity());
    this.#informer = informer;
    this.#startedAt = this.#now();
    this.#lastActivity = this.#startedAt;
    informer.start().catch((err: unknown) => this.#fail(generation, err));
  }

  async #list(generation: number) {
    if (generation !== this.#generation || this.#closed) throw new KubeClosedError(`${this.#resource}: informer retired`);
    const result = await this.#listFn();
    if (generation !== this.#generation || this.#closed) throw new KubeClosedError(`${this.#resource}: informer retired`);
    this.#lastActivity = this.#now();
    this.#replaceAll(result.items);
    if (this.#outageLogged) {
      this.#log.info({ resource: this.#resource, restarts: this.#restarts, objects: this.#store.size }, "watch recovered: relisted");
      this.#outageLogged = false;
    }
    if (!this.#synced) {
      this.#synced = true;
      this.#log.debug({ resource: this.#resource, objects: this.#store.size }, "initial list done");
      for (const waiter of this.#syncWaiters.splice(0)) waiter.resolve();
    }
    return result;
  }

  /** Makes the store equal to a list result: deletes first, then adds and changes, each in key order. */
  #replaceAll(items: ReadonlyArray<KubernetesObject>): void {
    const next = new Map<string, KubernetesObject>();
    for (const item of items) {
      const key = keyOf(item);
      if (key !== null) next.set(key, item);
    }
    for (const key of [...this.#store.keys()].sort()) {
      const old = this.#store.get(key);
      if (old !== undefined && !next.has(key)) {
        this.#store.delete(key);
        this.#emit({ type: "delete", key, object: old });
      }
    }
    for (const key of [...next.keys()].sort()) {
      const obj = next.get(key);
      if (obj !== undefined) this.#upsert(obj);
    }
  }

  #upsert(obj: KubernetesObject): void {
    const key = keyOf(obj);
    if (key === null) return;
    const old = this.#store.get(key);
    const rv = obj.metadata?.resourceVersion;
    if (old !== undefined && rv !== undefined && rv !== "" && old.metadata?.resourceVersion === rv) return;
    this.#store.set(key, obj);
    this.#emit({ type: "upsert", key, object: obj });
  }

  #delete(obj: KubernetesObject): void {
    const key = keyOf(obj);
    if (key === null) return;
    const old = this.#store.get(key);
    if (old === undefined) return;
    this.#store.delete(key);
    this.#emit({ type: "delete", key, object: obj });
  }

  #emit(event: StoreEvent): void {
    try {
      this.#onEvent(event);
    } catch (err) {
      this.#handlerErrors++;
      this.#log.error({ err, resource: this.#resource, object: event.key }, "event handler failed; the store keeps the change");
    }
  }

  #checkStale(): void {
    if (this.#informer === null || this.#closed) return;
    const silentMs = this.#now() - this.#lastActivity;
    if (silentMs > this.#staleAfterMs) {
      this.#fail(this.#generation, new WatchStaleError(`${this.#resource}: watch silent for ${Math.round(silentMs)} ms; relisting`));
    }
  }

  #fail(generation: number, err: unknown): void {
    // Errors of retired informers (their own stop() reports an AbortError) are expected.
    if (generation !== this.#generation || this.#closed) return;
    this.#generation++;
    const informer = this.#informer;
    this.#informer = null;
    if (informer !== null) informer.stop().catch(() => undefined);
    if (this.#now() - this.#startedAt >= this.#healthyAfterMs) {
      this.#attempt = 0;
      this.#loggedStep = -1;
    }
    this.#scheduleRestart(err);
  }

  #scheduleRestart(err: unknown): void {
    const delay = backoffDelay(this.#backoff, this.#attempt, this.#random);
    const step = backoffStep(this.#backoff, this.#attempt);
    const fields = { resource: this.#resource, err: describeError(err), attempt: this.#attempt + 1, retryInMs: delay, restarts: this.#restarts + 1 };
    if (step > this.#loggedStep) {
      this.#loggedStep = step;
      this.#outageLogged = true;
      this.#log.warn(fields, "watch failed; restarting a fresh informer (the last known objects stay in service)");
    } else {
      this.#log.debug(fields, "watch failed again; restarting");
    }
    this.#attempt++;
    this.#restarts++;
    this.#retryTimer = setTimeout(() => this.#launch(), delay);
  }
}

/** "namespace/name", or "name" for cluster-scoped objects; null without a name. */
export function keyOf(obj: KubernetesObject): string | null {
  const name = obj.metadata?.name;
  if (name === undefined || name === "") return null;
  const ns = obj.metadata?.namespace;
  return ns === undefined || ns === "" ? name : `${ns}/${name}`;
}
