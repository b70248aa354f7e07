// A client-node ListWatch wired for supervision: the watch asks for bookmarks and a server-side
// timeout, reports every sign of life, never throws or rejects into client-node's un-awaited
// promise chains, and refuses to (re)open once its informer has been retired.
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";

export type ListFunction = () => Promise<KubernetesListObject<KubernetesObject>>;

/** What a supervised informer must offer (client-node's ListWatch does). */
export interface SupervisedInformer {
  on(verb: "add" | "update" | "delete", cb: (obj: KubernetesObject) => void): void;
  on(verb: "error" | "connect", cb: (err?: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Given by the supervisor to each informer it creates. */
export interface InformerHooks {
  /** The list function to use: it applies each list result to the supervisor's store. */
  readonly list: ListFunction;
  /** Any sign of life of the watch: an event (also BOOKMARK), a stream opening or ending. */
  readonly activity: () => void;
  /** An error client-node would otherwise drop or turn into an unhandled rejection. */
  readonly failure: (err: unknown) => void;
  /** False once the supervisor has retired this informer: it must not open another watch. */
  readonly isCurrent: () => boolean;
}

export type InformerFactory = (hooks: InformerHooks) => SupervisedInformer;

/** One watched collection. */
export interface WatchedResource {
  /** Watch path, e.g. `/apis/networking.k8s.io/v1/ingresses` or `/api/v1/namespaces/ns/services`. */
  readonly path: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

export interface WatchTuning {
  /** `timeoutSeconds` asked of the server for each watch; the server ends the stream cleanly after it. */
  readonly watchTimeoutSeconds: number;
  /** Client-side inactivity timeout of a watch stream (ms). */
  readonly requestTimeoutMs: number;
  /** Upper bound of client-node's own delay before re-watching after a clean stream end (ms). */
  readonly rewatchDelayCapMs: number;
}

export const defaultWatchTuning: WatchTuning = Object.freeze({ watchTimeoutSeconds: 60, requestTimeoutMs: 120_000, rewatchDelayCapMs: 500 });

class SupervisedWatch extends Watch {
  readonly #hooks: InformerHooks;
  readonly #timeoutSeconds: number;

  constructor(kubeConfig: KubeConfig, hooks: InformerHooks, tuning: WatchTuning) {
    super(kubeConfig);
    this.#hooks = hooks;
    this.#timeoutSeconds = tuning.watchTimeoutSeconds;
    // client-node keeps this private; it is the stream's inactivity timeout.
    Reflect.set(this, "requestTimeoutMs", tuning.requestTimeoutMs);
  }

  // Signature fixed by client-node (the object is whatever the server sent).
  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const hooks = this.#hooks;
    if (!hooks.isCurrent()) {
      // A retired ListWatch whose list or delay was in flight when it was stopped: end it here.
      const controller = new AbortController();
      controller.abort();
      queueMicrotask(() => settle(done, null, hooks));
      return controller;
    }
    hooks.activity();
    const onEvent = (phase: string, apiObj: unknown, watchObj?: unknown): void => {
      hooks.activity();
      if (phase !== "BOOKMARK" && phase !== "ERROR" && !hasMetadata(apiObj)) return;
      settle(() => callback(phase, apiObj, watchObj), undefined, hooks);
    };
    const onDone = (err: unknown): void => {
      if (err === null || err === undefined) hooks.activity();
      settle(done, err, hooks);
    };
    try {
      return await super.watch(path, { ...queryParams, allowWatchBookmarks: true, timeoutSeconds: this.#timeoutSeconds }, onEvent, onDone);
    } catch (err) {
      // Thrown before the request (authentication, no cluster): report it like a failed request.
      const controller = new AbortController();
      controller.abort();
      queueMicrotask(() => settle(done, err, hooks));
      return controller;
    }
  }
}

/** Calls a client-node callback that may return a promise; routes throws and rejections to the supervisor. */
function settle<A>(fn: (arg: A) => unknown, arg: A, hooks: InformerHooks): void {
  try {
    const result: unknown = fn(arg);
    if (result instanceof Promise) result.catch((err: unknown) => hooks.failure(err));
  } catch (err) {
    hooks.failure(err);
  }
}

function hasMetadata(obj: unknown): boolean {
  if (obj === null || typeof obj !== "object" || !("metadata" in obj)) return false;
  const meta = obj.metadata;
  return meta !== null && typeof meta === "object" && "name" in meta && typeof meta.name === "string";
}

/** Factory of fresh client-node ListWatch informers for one resource. */
export function listWatchFactory(kubeConfig: KubeConfig, resource: WatchedResource, tuning: WatchTuning = defaultWatchTuning): InformerFactory {
  return (hooks) =>
    new ListWatch<KubernetesObject>(
      resource.path,
      new SupervisedWatch(kubeConfig, hooks, tuning),
      hooks.list,
      false,
      resource.labelSelector,
      resource.fieldSelector,
      { delayFn: (ms) => sleep(Math.min(ms, tuning.rewatchDelayCapMs)) },
    );
}
