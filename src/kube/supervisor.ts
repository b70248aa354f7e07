// Owns one watched collection's list+watch loop and the resourceVersions of its objects. It lists
// (paged), decodes each item at the border with the consumer's `decode` and drops the raw JSON, then
// watches from the list's resourceVersion: ADDED/MODIFIED/DELETED go through `decode` to the
// consumer, BOOKMARKs move the resourceVersion on, a clean stream end re-watches from the last
// resourceVersion, 410 Gone (HTTP answer or ERROR event) relists. Any other error retires the loop
// and starts a fresh one (list first) after a capped, jittered backoff. It keeps no object, only
// key → resourceVersion: the decoded objects belong to the consumer (one copy in the process).
// Every list result replaces the store (objects deleted meanwhile go away, nothing doubles), a watch
// silent longer than its timeout counts as failed (relist), and no consumer exception escapes.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../util/index.js";
import { backoffDelay, backoffStep, defaultBackoff, type BackoffOptions } from "./backoff.js";
import { KubeApiError, KubeClosedError, WatchStaleError, describeError, statusOf } from "./errors.js";
import type { CollectionClient, ListPage } from "./watch.js";

export type StoreEvent<T> =
  | {
      readonly type: "upsert";
      /** "namespace/name" ("name" for cluster-scoped objects). */
      readonly key: string;
      readonly resourceVersion: string;
      /** The new object, as `decode` returned it. */
      readonly value: T;
    }
  | {
      readonly type: "delete";
      readonly key: string;
      /** The deletion's resourceVersion (watch), or the last known one (an object missing from a relist). */
      readonly resourceVersion: string;
    };

export interface SupervisorOptions<T> {
  /** Resource name for logs ("ingresses"). */
  readonly resource: string;
  readonly logger: Logger;
  /** The list and watch calls. */
  readonly client: CollectionClient;
  /** Turns one raw object (a list item or a watch event's object) into what the consumer keeps. */
  readonly decode: (raw: unknown, key: string) => T;
  /** Receives every change of the store. Exceptions (and those of `decode`) are caught, counted and logged. */
  readonly onEvent: (event: StoreEvent<T>) => void;
  readonly backoff?: BackoffOptions;
  /** A watch without any sign of life for this long is stale: the loop is replaced (relist). */
  readonly staleAfterMs?: number;
  /** A loop that ran this long before failing resets the backoff. */
  readonly healthyAfterMs?: number;
  /** Delay before re-watching after a stream that ended cleanly at once without an event (ms). */
  readonly rewatchDelayMs?: number;
  readonly random?: () => number;
  readonly now?: () => number;
}

/** Decoded items of a list in progress; `unchanged` when the store already has that resourceVersion. */
type Listed<T> = { readonly rv: string; readonly value: T } | { readonly rv: string; readonly unchanged: true };

/** Why a watch stream ended without an error. */
interface WatchEnd {
  /** "gone": 410, relist; "ended": a clean end, re-watch from `rv`. */
  readonly kind: "ended" | "gone";
  readonly rv: string;
  /** Events the stream delivered (bookmarks included). */
  readonly events: number;
  readonly openMs: number;
}

export class InformerSupervisor<T> {
  readonly #resource: string;
  readonly #log: Logger;
  readonly #client: CollectionClient;
  readonly #decode: (raw: unknown, key: string) => T;
  readonly #onEvent: (event: StoreEvent<T>) => void;
  readonly #backoff: BackoffOptions;
  readonly #staleAfterMs: number;
  readonly #healthyAfterMs: number;
  readonly #rewatchDelayMs: number;
  readonly #random: () => number;
  readonly #now: () => number;
  /** key → resourceVersion of every object the consumer was given. */
  readonly #store = new Map<string, string>();

  #generation = 0;
  #controller: AbortController | null = null;
  #startedAt = 0;
  #lastActivity = 0;
  #attempt = 0;
  #loggedStep = -1;
  #outageLogged = false;
  #restarts = 0;
  #relists = 0;
  #handlerErrors = 0;
  #synced = false;
  #closed = false;
  #retryTimer: NodeJS.Timeout | null = null;
  #staleTimer: NodeJS.Timeout | null = null;
  readonly #syncWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];

  constructor(options: SupervisorOptions<T>) {
    this.#resource = options.resource;
    this.#log = options.logger;
    this.#client = options.client;
    this.#decode = options.decode;
    this.#onEvent = options.onEvent;
    this.#backoff = options.backoff ?? defaultBackoff;
    this.#staleAfterMs = options.staleAfterMs ?? 90_000;
    this.#healthyAfterMs = options.healthyAfterMs ?? 5_000;
    this.#rewatchDelayMs = options.rewatchDelayMs ?? 500;
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

  /** Loops replaced after an error or a stale watch. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Relists after 410 Gone (not errors: the loop goes on). */
  get relists(): number {
    return this.#relists;
  }

  /** Exceptions thrown by `decode` or the event consumer (caught). */
  get handlerErrors(): number {
    return this.#handlerErrors;
  }

  /** True while a loop runs (false while waiting to restart). */
  get running(): boolean {
    return this.#controller !== null;
  }

  /** The stored keys, sorted. */
  keys(): ReadonlyArray<string> {
    return [...this.#store.keys()].sort();
  }

  /** The stored resourceVersion of `key`, if any. */
  resourceVersionOf(key: string): string | undefined {
    return this.#store.get(key);
  }

  get size(): number {
    return this.#store.size;
  }

  /** Starts the first loop (it keeps retrying until close). */
  start(): void {
    if (this.#closed || this.#controller !== null || this.#retryTimer !== null) return;
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
    this.#controller?.abort();
    this.#controller = null;
    for (const waiter of this.#syncWaiters.splice(0)) waiter.reject(new KubeClosedError(`${this.#resource}: closed before the initial list`));
  }

  #current(generation: number): boolean {
    return generation === this.#generation && !this.#closed;
  }

  #launch(): void {
    this.#retryTimer = null;
    if (this.#closed) return;
    const generation = ++this.#generation;
    const controller = new AbortController();
    this.#controller = controller;
    this.#startedAt = this.#now();
    this.#lastActivity = this.#startedAt;
    this.#run(generation, controller.signal).catch((err: unknown) => this.#fail(generation, err));
  }

  /** list, then watch for as long as it goes: re-watch after a clean end, relist after 410. */
  async #run(generation: number, signal: AbortSignal): Promise<void> {
    let rv = await this.#list(generation, signal);
    let listedAt = this.#now();
    let fromList = true;
    for (;;) {
      const end = await this.#watch(generation, rv, signal);
      if (!this.#current(generation)) return;
      if (end.kind === "gone") {
        // The resourceVersion of a list not a second old is gone already: relisting at once could
        // loop, so this counts as a failure (backoff, then relist).
        if (fromList && end.events === 0 && this.#now() - listedAt < 1000) throw new KubeApiError(`${this.#resource}: resourceVersion ${rv} of a fresh list is gone`, 410);
        this.#relists++;
        this.#log.debug({ resource: this.#resource, resourceVersion: rv }, "watch resourceVersion gone (410); relisting");
        rv = await this.#list(generation, signal);
        listedAt = this.#now();
        fromList = true;
        continue;
      }
      fromList = fromList && end.events === 0;
      rv = end.rv;
      if (end.events === 0 && end.openMs < 1000) {
        await sleep(this.#rewatchDelayMs, undefined, { signal, ref: false }).catch(() => undefined);
        if (!this.#current(generation)) return;
      }
    }
  }

  /** Lists every page, decoding items as they come, then makes the store equal to the result. */
  async #list(generation: number, signal: AbortSignal): Promise<string> {
    const next = new Map<string, Listed<T>>();
    let token: string | undefined;
    let rv = "";
    let expired = false;
    for (;;) {
      let page: ListPage;
      try {
        page = await this.#client.list(token, signal);
      } catch (err) {
        // A continue token gone stale (410, e.g. compacted meanwhile): list again from the start, once.
        if (token === undefined || expired || statusOf(err) !== 410 || !this.#current(generation)) throw err;
        expired = true;
        token = undefined;
        next.clear();
        continue;
      }
      if (!this.#current(generation)) throw new KubeClosedError(`${this.#resource}: loop retired`);
      this.#lastActivity = this.#now();
      for (const item of page.items) {
        const meta = metaOf(item);
        if (meta === null) continue;
        if (meta.rv !== "" && this.#store.get(meta.key) === meta.rv) {
          next.set(meta.key, { rv: meta.rv, unchanged: true });
          continue;
        }
        const value = this.#decodeSafe(item, meta.key);
        if (value !== undefined) next.set(meta.key, { rv: meta.rv, value: value.value });
      }
      if (token === undefined) rv = page.resourceVersion;
      token = page.continueToken;
      if (token === undefined) break;
    }
    this.#replaceAll(next);
    if (this.#outageLogged) {
      this.#log.info({ resource: this.#resource, restarts: this.#restarts, objects: this.#store.size }, "watch recovered: relisted");
      this.#outageLogged = false;
    }
    if (!this.#synced) {
      this.#synced = true;
      this.#log.debug({ resource: this.#resource, objects: this.#store.size }, "initial list done");
      for (const waiter of this.#syncWaiters.splice(0)) waiter.resolve();
    }
    return rv;
  }

  /** Makes the store equal to a list result: deletes first, then adds and changes, each in key order. */
  #replaceAll(next: ReadonlyMap<string, Listed<T>>): void {
    for (const key of [...this.#store.keys()].sort()) {
      const old = this.#store.get(key);
      if (old !== undefined && !next.has(key)) {
        this.#store.delete(key);
        this.#emit({ type: "delete", key, resourceVersion: old });
      }
    }
    for (const key of [...next.keys()].sort()) {
      const listed = next.get(key);
      if (listed === undefined || "unchanged" in listed) continue;
      this.#store.set(key, listed.rv);
      this.#emit({ type: "upsert", key, resourceVersion: listed.rv, value: listed.value });
    }
  }

  /** One watch stream from `rv`. */
  async #watch(generation: number, rv: string, signal: AbortSignal): Promise<WatchEnd> {
    const own = new AbortController();
    const streamSignal = AbortSignal.any([signal, own.signal]);
    let last = rv;
    let events = 0;
    const state: { stop: KubeApiError | null } = { stop: null };
    const openedAt = this.#now();
    this.#lastActivity = openedAt;
    const onEvent = (type: string, object: unknown): void => {
      if (!this.#current(generation) || state.stop !== null) return;
      this.#lastActivity = this.#now();
      if (type !== "ERROR") events++;
      switch (type) {
        case "ADDED":
        case "MODIFIED": {
          const meta = metaOf(object);
          if (meta === null) return;
          if (meta.rv !== "") last = meta.rv;
          this.#upsert(meta.key, meta.rv, object);
          return;
        }
        case "DELETED": {
          const meta = metaOf(object);
          if (meta === null) return;
          if (meta.rv !== "") last = meta.rv;
          if (!this.#store.has(meta.key)) return;
          this.#store.delete(meta.key);
          this.#emit({ type: "delete", key: meta.key, resourceVersion: meta.rv });
          return;
        }
        case "BOOKMARK": {
          const bookmarkRv = resourceVersionOf(object);
          if (bookmarkRv !== "") last = bookmarkRv;
          return;
        }
        case "ERROR": {
          state.stop = KubeApiError.fromStatus(`watch ${this.#resource}`, object);
          own.abort();
          return;
        }
        default:
          return;
      }
    };
    let err: unknown = null;
    try {
      await this.#client.watch(rv, onEvent, streamSignal);
    } catch (e) {
      err = e;
    }
    const end = (kind: WatchEnd["kind"]): WatchEnd => ({ kind, rv: last, events, openMs: this.#now() - openedAt });
    if (!this.#current(generation)) return end("ended");
    err = state.stop ?? err;
    if (err !== null) {
      if (statusOf(err) === 410) return end("gone");
      throw err;
    }
    this.#lastActivity = this.#now();
    return end("ended");
  }

  #upsert(key: string, rv: string, raw: unknown): void {
    if (rv !== "" && this.#store.get(key) === rv) return;
    const decoded = this.#decodeSafe(raw, key);
    if (decoded === undefined) return;
    this.#store.set(key, rv);
    this.#emit({ type: "upsert", key, resourceVersion: rv, value: decoded.value });
  }

  /** `decode`, counting and logging an exception (the object is then skipped; a relist retries it). */
  #decodeSafe(raw: unknown, key: string): { value: T } | undefined {
    try {
      return { value: this.#decode(raw, key) };
    } catch (err) {
      this.#handlerErrors++;
      this.#log.error({ err, resource: this.#resource, object: key }, "decoding an object failed; it is skipped");
      return undefined;
    }
  }

  #emit(event: StoreEvent<T>): void {
    try {
      this.#onEvent(event);
    } catch (err) {
      this.#handlerErrors++;
      this.#log.error({ err, resource: this.#resource, object: event.key }, "event handler failed; the store keeps the change");
    }
  }

  #checkStale(): void {
    if (this.#controller === null || this.#closed) return;
    const silentMs = this.#now() - this.#lastActivity;
    if (silentMs > this.#staleAfterMs) {
      this.#fail(this.#generation, new WatchStaleError(`${this.#resource}: watch silent for ${Math.round(silentMs)} ms; relisting`));
    }
  }

  #fail(generation: number, err: unknown): void {
    // Errors of retired loops (aborted by their retirement) are expected.
    if (!this.#current(generation)) return;
    this.#generation++;
    this.#controller?.abort();
    this.#controller = null;
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
      this.#log.warn(fields, "watch failed; relisting after a backoff (the last known objects stay in service)");
    } else {
      this.#log.debug(fields, "watch failed again; relisting after a backoff");
    }
    this.#attempt++;
    this.#restarts++;
    this.#retryTimer = setTimeout(() => this.#launch(), delay);
  }
}

/** "namespace/name", or "name" for cluster-scoped objects; null without a name. */
export function keyOf(obj: unknown): string | null {
  return metaOf(obj)?.key ?? null;
}

/** Key and resourceVersion of a raw object; null when it has no name. */
function metaOf(obj: unknown): { key: string; rv: string } | null {
  if (obj === null || typeof obj !== "object" || !("metadata" in obj)) return null;
  const meta = obj.metadata;
  if (meta === null || typeof meta !== "object") return null;
  const name = "name" in meta ? meta.name : undefined;
  if (typeof name !== "string" || name === "") return null;
  const ns = "namespace" in meta ? meta.namespace : undefined;
  const rv = "resourceVersion" in meta ? meta.resourceVersion : undefined;
  return { key: typeof ns === "string" && ns !== "" ? `${ns}/${name}` : name, rv: typeof rv === "string" ? rv : "" };
}

function resourceVersionOf(obj: unknown): string {
  if (obj === null || typeof obj !== "object" || !("metadata" in obj)) return "";
  const meta = obj.metadata;
  if (meta === null || typeof meta !== "object" || !("resourceVersion" in meta)) return "";
  return typeof meta.resourceVersion === "string" ? meta.resourceVersion : "";
}
