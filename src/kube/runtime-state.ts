// Kubernetes-mode persistence of balancer-manager edits: the runtime ConfigMap
// (`--runtime-configmap`, key `state.json`) that every replica watches and any replica writes.
//
// Watch: one InformerSupervisor on the ConfigMap's namespace with a `metadata.name` field
// selector (list + watch, restarts with backoff, relists on 410), so every replica sees each new
// version within a second and applies it through its subscribers.
// Write: read (GET) the ConfigMap, apply the one edit to what it holds, and replace it with that
// resourceVersion (optimistic concurrency); 409 Conflict means another replica wrote in between:
// read again, re-apply the same edit, retry. A missing ConfigMap is created (409 AlreadyExists:
// retry likewise). So concurrent edits on different replicas all land; none is lost silently.
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from "@kubernetes/client-node";
import { compactRuntimeState, emptyRuntimeState, parseRuntimeState, serializeRuntimeState, type RuntimeState, type RuntimeStateStore } from "../model/index.js";
import type { Logger } from "../util/index.js";
import { apiCallOptions, describeApiError } from "./api-call.js";
import { KubeError, statusOf } from "./errors.js";
import { InformerSupervisor, type StoreEvent } from "./supervisor.js";
import { collectionClient, defaultWatchTuning, type WatchTuning } from "./watch.js";

/** The ConfigMap key holding the JSON state. */
export const RUNTIME_STATE_KEY = "state.json";
/** Default name of the runtime ConfigMap (in the controller's namespace); the Helm chart passes `<release>-runtime`. */
export const defaultRuntimeConfigMapName = "proxypass-ingress-runtime";

/** A write that kept conflicting, or failed otherwise. */
export class RuntimeStateWriteError extends KubeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("PPI_ERR_KUBE_RUNTIME_STATE", message, options);
  }
}

export interface ConfigMapStateStoreOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  readonly logger: Logger;
  /** Attempts of one edit before giving up (conflicts included). Default 10. */
  readonly maxAttempts?: number;
  /** Timeout of one API call (ms). Default 10 000. */
  readonly requestTimeoutMs?: number;
  readonly tuning?: WatchTuning;
}

/** What the watch decoded from one ConfigMap version: its state, or why it is invalid. */
interface Decoded {
  readonly state: RuntimeState;
  readonly error: string | null;
}

export class ConfigMapStateStore implements RuntimeStateStore {
  readonly #api: CoreV1Api;
  readonly #namespace: string;
  readonly #name: string;
  readonly #log: Logger;
  readonly #maxAttempts: number;
  readonly #requestTimeoutMs: number;
  readonly #supervisor: InformerSupervisor<Decoded>;
  readonly #listeners = new Set<(state: RuntimeState) => void>();
  readonly #abort = new AbortController();
  #state: RuntimeState = emptyRuntimeState;
  #text = serializeRuntimeState(emptyRuntimeState);
  #queue: Promise<unknown> = Promise.resolve();
  #writes = 0;
  #conflicts = 0;

  constructor(options: ConfigMapStateStoreOptions) {
    this.#api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#namespace = options.namespace;
    this.#name = options.name;
    this.#log = options.logger;
    this.#maxAttempts = options.maxAttempts ?? 10;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    const path = `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/configmaps`;
    this.#supervisor = new InformerSupervisor<Decoded>({
      resource: "configmaps (runtime state)",
      logger: options.logger,
      client: collectionClient(options.kubeConfig, { path, fieldSelector: `metadata.name=${options.name}` }, options.tuning ?? defaultWatchTuning),
      decode: (raw) => decodeConfigMap(raw),
      onEvent: (event) => this.#onEvent(event),
    });
  }

  /** "NS/NAME" of the ConfigMap. */
  get target(): string {
    return `${this.#namespace}/${this.#name}`;
  }

  /** Successful writes by this store. */
  get writes(): number {
    return this.#writes;
  }

  /** 409 answers this store retried. */
  get conflicts(): number {
    return this.#conflicts;
  }

  /** Starts watching; resolves once the ConfigMap was listed (its state is then current()). */
  async start(): Promise<void> {
    this.#supervisor.start();
    await this.#supervisor.whenSynced();
  }

  current(): RuntimeState {
    return this.#state;
  }

  subscribe(listener: (state: RuntimeState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  update(edit: (state: RuntimeState) => RuntimeState): Promise<RuntimeState> {
    const run = this.#queue.then(() => this.#write(edit));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.#queue;
    this.#abort.abort();
    await this.#supervisor.close();
  }

  async #write(edit: (state: RuntimeState) => RuntimeState): Promise<RuntimeState> {
    let lastError: unknown = null;
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      const existing = await this.#read();
      let base = emptyRuntimeState;
      if (existing !== null) {
        const decoded = decodeConfigMap(existing);
        if (decoded.error !== null) this.#log.warn({ configMap: this.target, reason: decoded.error }, "runtime ConfigMap is invalid: this edit replaces its content");
        base = decoded.state;
      }
      const next = compactRuntimeState(edit(base));
      const text = serializeRuntimeState(next);
      try {
        if (existing === null) {
          const body: V1ConfigMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: this.#name, namespace: this.#namespace, labels: { "app.kubernetes.io/component": "balancer-manager" } }, data: { [RUNTIME_STATE_KEY]: text } };
          await this.#api.createNamespacedConfigMap({ namespace: this.#namespace, body }, apiCallOptions(this.#signal()));
        } else {
          const body: V1ConfigMap = { ...existing, data: { ...existing.data, [RUNTIME_STATE_KEY]: text } };
          await this.#api.replaceNamespacedConfigMap({ name: this.#name, namespace: this.#namespace, body }, apiCallOptions(this.#signal()));
        }
      } catch (err) {
        if (statusOf(err) === 409) {
          // Another replica wrote since our read: read again and re-apply this one edit.
          this.#conflicts++;
          lastError = err;
          this.#log.debug({ configMap: this.target, attempt }, "runtime ConfigMap changed meanwhile: re-reading and re-applying the edit");
          continue;
        }
        throw new RuntimeStateWriteError(`cannot write the runtime ConfigMap ${this.target}: ${describeApiError(err)}`, { cause: err });
      }
      this.#writes++;
      this.#accept(next, text);
      return next;
    }
    throw new RuntimeStateWriteError(`cannot write the runtime ConfigMap ${this.target}: still conflicting after ${this.#maxAttempts} attempts`, { cause: lastError });
  }

  async #read(): Promise<V1ConfigMap | null> {
    try {
      return await this.#api.readNamespacedConfigMap({ name: this.#name, namespace: this.#namespace }, apiCallOptions(this.#signal()));
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw new RuntimeStateWriteError(`cannot read the runtime ConfigMap ${this.target}: ${describeApiError(err)}`, { cause: err });
    }
  }

  #signal(): AbortSignal {
    return AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#requestTimeoutMs)]);
  }

  #onEvent(event: StoreEvent<Decoded>): void {
    if (event.type === "delete") {
      this.#log.info({ configMap: this.target }, "runtime ConfigMap deleted: no balancer-manager overrides");
      this.#accept(emptyRuntimeState, serializeRuntimeState(emptyRuntimeState));
      return;
    }
    const { state, error } = event.value;
    if (error !== null) this.#log.error({ configMap: this.target, reason: error }, `invalid runtime ConfigMap (${error}): no balancer-manager overrides until it is fixed or overwritten`);
    this.#accept(state, serializeRuntimeState(state));
  }

  /** Takes a new state (own write or watched); subscribers hear only real changes. */
  #accept(state: RuntimeState, text: string): void {
    if (text === this.#text) return;
    this.#text = text;
    this.#state = state;
    for (const l of this.#listeners) l(state);
  }
}

function decodeConfigMap(raw: unknown): Decoded {
  const data = raw !== null && typeof raw === "object" && "data" in raw ? (raw as { data?: unknown }).data : undefined;
  const text = data !== null && typeof data === "object" ? (data as Record<string, unknown>)[RUNTIME_STATE_KEY] : undefined;
  if (text === undefined) return { state: emptyRuntimeState, error: null };
  if (typeof text !== "string") return { state: emptyRuntimeState, error: `${RUNTIME_STATE_KEY} is not a string` };
  try {
    return { state: parseRuntimeState(text), error: null };
  } catch (err) {
    return { state: emptyRuntimeState, error: err instanceof Error ? err.message : String(err) };
  }
}
