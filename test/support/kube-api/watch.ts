/** One open watch: filters store changes for its resource/namespace/selectors and streams them as NDJSON. */
import type { ServerResponse } from "node:http";
import { apiVersionOf, type ResourceType } from "./resources.js";
import { matchesFields, matchesLabels, type FieldRequirement, type LabelRequirement } from "./selectors.js";
import type { StatusObject } from "./status.js";
import type { ChangeEvent, KubeObject } from "./store.js";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchScope {
  readonly resource: ResourceType;
  /** undefined: all namespaces (or a cluster-scoped resource). */
  readonly namespace: string | undefined;
  readonly labels: readonly LabelRequirement[];
  readonly fields: readonly FieldRequirement[];
}

export interface WatchInfo {
  readonly resource: string;
  readonly namespace: string | undefined;
  readonly labelSelector: string | undefined;
  readonly fieldSelector: string | undefined;
  readonly bookmarks: boolean;
  readonly startedAt: number;
}

export function inScope(scope: WatchScope, object: KubeObject | null): boolean {
  if (object === null) return false;
  if (scope.namespace !== undefined && object.metadata.namespace !== scope.namespace) return false;
  return matchesLabels(scope.labels, object.metadata.labels ?? {}) && matchesFields(scope.fields, object);
}

/**
 * What a watch with this scope sees of a change: like kube-apiserver, an object that moves into
 * the selector is ADDED, one that moves out is DELETED.
 */
export function project(scope: WatchScope, event: ChangeEvent): { type: "ADDED" | "MODIFIED" | "DELETED"; object: KubeObject } | null {
  if (event.resource !== scope.resource) return null;
  const now = event.type !== "DELETED" && inScope(scope, event.object);
  const before = inScope(scope, event.previous);
  if (event.type === "DELETED") return before ? { type: "DELETED", object: event.object } : null;
  if (now && before) return { type: "MODIFIED", object: event.object };
  if (now) return { type: "ADDED", object: event.object };
  if (before) return { type: "DELETED", object: event.object };
  return null;
}

export class WatchStream {
  readonly scope: WatchScope;
  readonly info: WatchInfo;
  readonly #res: ServerResponse;
  readonly #timers: Array<ReturnType<typeof setTimeout>> = [];
  #closed = false;

  constructor(res: ServerResponse, scope: WatchScope, info: WatchInfo) {
    this.#res = res;
    this.scope = scope;
    this.info = info;
    res.on("close", () => this.#cleanup());
  }

  get closed(): boolean {
    return this.#closed || this.#res.destroyed || this.#res.writableEnded;
  }

  /** Sends the 200 header at once: clients wait for it before they count the watch as open. */
  open(): void {
    this.#res.writeHead(200, { "content-type": "application/json", "cache-control": "no-cache, private", "transfer-encoding": "chunked" });
    this.#res.flushHeaders();
  }

  write(type: WatchEventType, object: KubeObject | StatusObject | Record<string, unknown>): void {
    if (this.closed) return;
    this.#res.write(`${JSON.stringify({ type, object })}\n`);
  }

  deliver(event: ChangeEvent): void {
    const seen = project(this.scope, event);
    if (seen) this.write(seen.type, seen.object);
  }

  bookmark(resourceVersion: number): void {
    this.write("BOOKMARK", { kind: this.scope.resource.kind, apiVersion: apiVersionOf(this.scope.resource), metadata: { resourceVersion: String(resourceVersion) } });
  }

  /** Every `intervalMs`, a BOOKMARK carrying `currentRv()`. */
  startBookmarks(intervalMs: number, currentRv: () => number): void {
    const timer = setInterval(() => this.bookmark(currentRv()), intervalMs);
    timer.unref();
    this.#timers.push(timer);
  }

  endAfter(ms: number): void {
    const timer = setTimeout(() => this.end(), ms);
    timer.unref();
    this.#timers.push(timer);
  }

  /** Ends the stream cleanly (final chunk sent). */
  end(): void {
    if (this.closed) return;
    this.#closed = true;
    this.#res.end();
    this.#cleanup();
  }

  /** Tears the TCP connection down without a final chunk, as a crashing API server or a LB reset would. */
  destroy(): void {
    this.#closed = true;
    this.#res.socket?.destroy();
    this.#res.destroy();
    this.#cleanup();
  }

  #cleanup(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.length = 0;
  }
}
