// The API calls of one watched collection, through client-node and nothing else: a paged LIST
// answered as raw JSON (client-node's ObjectSerializer is skipped: it is slow and allocates typed
// copies we would parse again) and a WATCH with client-node's `Watch` (bookmarks, a server-side
// timeout, from a resourceVersion). Neither keeps anything: each page and each event goes to the
// caller, which parses it at the border and drops the raw JSON.
import { HttpMethod, IsomorphicFetchHttpLibrary, RequestContext, Watch, type KubeConfig } from "@kubernetes/client-node";
import { KubeApiError } from "./errors.js";

/** One page of a list, as the API server sent it. */
export interface ListPage {
  /** The raw items (no kind/apiVersion on a real server). */
  readonly items: ReadonlyArray<unknown>;
  /** `metadata.resourceVersion` of the list: the resourceVersion to watch from. */
  readonly resourceVersion: string;
  /** `metadata.continue`; undefined on the last page. */
  readonly continueToken: string | undefined;
}

/** The list and watch calls of one collection. */
export interface CollectionClient {
  /** One page; `continueToken` undefined for the first. Rejects with an error carrying `statusCode` on a non-200 answer. */
  list(continueToken: string | undefined, signal: AbortSignal): Promise<ListPage>;
  /**
   * Watches from `resourceVersion`, calling `onEvent` for every event (BOOKMARK and ERROR included) in
   * order. Resolves when the stream ends cleanly or `signal` aborts; rejects on an error (an HTTP
   * error answer carries `statusCode`, e.g. 410). No event is delivered after `signal` aborted.
   */
  watch(resourceVersion: string, onEvent: (type: string, object: unknown) => void, signal: AbortSignal): Promise<void>;
}

/** One watched collection. */
export interface WatchedResource {
  /** Collection path, e.g. `/apis/networking.k8s.io/v1/ingresses` or `/api/v1/namespaces/ns/services`. */
  readonly path: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

export interface WatchTuning {
  /** `timeoutSeconds` asked of the server for each watch; the server ends the stream cleanly after it. */
  readonly watchTimeoutSeconds: number;
  /** Client-side inactivity timeout of a watch stream (ms). */
  readonly requestTimeoutMs: number;
  /** Delay before re-watching after a stream that ended cleanly at once, without an event (ms). */
  readonly rewatchDelayCapMs: number;
  /** `limit` of each list page (kube-apiserver and client-go's pager: 500). */
  readonly listPageSize: number;
  /** Timeout of one list page request (ms). */
  readonly listTimeoutMs: number;
}

export const defaultWatchTuning: WatchTuning = Object.freeze({ watchTimeoutSeconds: 60, requestTimeoutMs: 120_000, rewatchDelayCapMs: 500, listPageSize: 500, listTimeoutMs: 60_000 });

/** The list and watch calls of `resource` against the KubeConfig's current cluster. */
export function collectionClient(kubeConfig: KubeConfig, resource: WatchedResource, tuning: WatchTuning = defaultWatchTuning): CollectionClient {
  const http = new IsomorphicFetchHttpLibrary();
  const selectors: Record<string, string> = {};
  if (resource.labelSelector !== undefined) selectors["labelSelector"] = resource.labelSelector;
  if (resource.fieldSelector !== undefined) selectors["fieldSelector"] = resource.fieldSelector;

  const list = async (continueToken: string | undefined, signal: AbortSignal): Promise<ListPage> => {
    const cluster = kubeConfig.getCurrentCluster();
    if (cluster === null) throw new KubeApiError(`${resource.path}: no current cluster in the Kubernetes configuration`);
    const url = new URL(cluster.server + resource.path);
    for (const [k, v] of Object.entries(selectors)) url.searchParams.set(k, v);
    url.searchParams.set("limit", String(tuning.listPageSize));
    if (continueToken !== undefined) url.searchParams.set("continue", continueToken);
    const ctx = new RequestContext(url.toString(), HttpMethod.GET);
    ctx.setHeaderParam("Accept", "application/json");
    ctx.setSignal(AbortSignal.any([signal, AbortSignal.timeout(tuning.listTimeoutMs)]));
    await kubeConfig.applySecurityAuthentication(ctx);
    const response = await http.send(ctx).toPromise();
    const text = await response.body.text();
    if (response.httpStatusCode !== 200) throw KubeApiError.fromResponse(`list ${resource.path}`, response.httpStatusCode, text);
    return parseListPage(text, resource.path);
  };

  const watch = (resourceVersion: string, onEvent: (type: string, object: unknown) => void, signal: AbortSignal): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const watcher = new Watch(kubeConfig);
      // client-node keeps this private; it is the stream's inactivity timeout.
      Reflect.set(watcher, "requestTimeoutMs", tuning.requestTimeoutMs);
      let controller: AbortController | null = null;
      let settled = false;
      const abort = (): void => controller?.abort();
      const done = (err: unknown): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        abort();
        if (err === null || err === undefined || signal.aborted) resolve();
        else reject(err);
      };
      const onAbort = (): void => done(null);
      if (signal.aborted) {
        resolve();
        return;
      }
      signal.addEventListener("abort", onAbort, { once: true });
      const query = { ...selectors, allowWatchBookmarks: true, timeoutSeconds: tuning.watchTimeoutSeconds, resourceVersion };
      const callback = (type: string, object: unknown): void => {
        if (settled) return;
        try {
          onEvent(type, object);
        } catch (err) {
          done(err);
        }
      };
      watcher.watch(resource.path, query, callback, done).then(
        (c) => {
          controller = c;
          if (settled) c.abort();
        },
        // Thrown before the request (authentication, no cluster).
        (err: unknown) => done(err),
      );
    });

  return { list, watch };
}

/** A list answer's items, resourceVersion and continue token; throws KubeApiError when it is not a list. */
export function parseListPage(text: string, what: string): ListPage {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new KubeApiError(`list ${what}: the answer is not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isRecord(body) || !Array.isArray(body["items"])) throw new KubeApiError(`list ${what}: the answer has no items`);
  const meta = isRecord(body["metadata"]) ? body["metadata"] : {};
  const rv = meta["resourceVersion"];
  const token = meta["continue"];
  return {
    items: body["items"] as unknown[],
    resourceVersion: typeof rv === "string" ? rv : "",
    continueToken: typeof token === "string" && token !== "" ? token : undefined,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
