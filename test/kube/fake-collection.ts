// A scripted stand-in for the list and watch calls of one collection, for supervisor unit tests:
// list() answers through the test's function, each watch() is a FakeWatch the test drives (events,
// a clean end, an error) and that records whether its loop aborted it.
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import type { CollectionClient, ListPage } from "../../src/kube/index.js";

export type ListScript = (continueToken: string | undefined, signal: AbortSignal) => Promise<ListPage>;

export class FakeWatch {
  readonly resourceVersion: string;
  readonly signal: AbortSignal;
  readonly #onEvent: (type: string, object: unknown) => void;
  readonly #resolve: () => void;
  readonly #reject: (err: unknown) => void;

  constructor(resourceVersion: string, onEvent: (type: string, object: unknown) => void, signal: AbortSignal, resolve: () => void, reject: (err: unknown) => void) {
    this.resourceVersion = resourceVersion;
    this.#onEvent = onEvent;
    this.signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
    signal.addEventListener("abort", () => resolve(), { once: true });
  }

  get aborted(): boolean {
    return this.signal.aborted;
  }

  /** Delivers an event as the API server would; also after an abort, to prove the supervisor ignores it. */
  event(type: string, object: unknown): void {
    this.#onEvent(type, object);
  }

  add(o: unknown): void {
    this.event("ADDED", o);
  }

  update(o: unknown): void {
    this.event("MODIFIED", o);
  }

  remove(o: unknown): void {
    this.event("DELETED", o);
  }

  bookmark(resourceVersion: string): void {
    this.event("BOOKMARK", { kind: "Service", apiVersion: "v1", metadata: { resourceVersion } });
  }

  /** An ERROR event carrying a Status (code 410: the resourceVersion is gone). */
  status(code: number): void {
    this.event("ERROR", { kind: "Status", apiVersion: "v1", status: "Failure", code, reason: code === 410 ? "Expired" : "InternalError", message: `status ${code}` });
  }

  /** The stream ends cleanly (the server's timeoutSeconds). */
  end(): void {
    this.#resolve();
  }

  /** The stream fails (socket reset, HTTP error answer). */
  fail(err: unknown): void {
    this.#reject(err);
  }
}

export class FakeCollection implements CollectionClient {
  readonly watches: FakeWatch[] = [];
  readonly lists: Array<{ continueToken: string | undefined; signal: AbortSignal }> = [];
  readonly #script: ListScript;

  constructor(script: ListScript) {
    this.#script = script;
  }

  list(continueToken: string | undefined, signal: AbortSignal): Promise<ListPage> {
    this.lists.push({ continueToken, signal });
    return this.#script(continueToken, signal);
  }

  watch(resourceVersion: string, onEvent: (type: string, object: unknown) => void, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.watches.push(new FakeWatch(resourceVersion, onEvent, signal, resolve, reject));
    });
  }

  /** The latest watch. */
  get latest(): FakeWatch | undefined {
    return this.watches[this.watches.length - 1];
  }
}

export function obj(name: string, resourceVersion: string, namespace = "default"): { apiVersion: string; kind: string; metadata: { name: string; namespace: string; resourceVersion: string } } {
  return { apiVersion: "v1", kind: "Service", metadata: { name, namespace, resourceVersion } };
}

export function listOf(items: unknown[], resourceVersion = "1", continueToken?: string): ListPage {
  return { items, resourceVersion, continueToken };
}

export interface CapturedLogger {
  readonly logger: Logger;
  readonly lines: Array<{ level: number; msg: string; [k: string]: unknown }>;
}

export function captureLogger(): CapturedLogger {
  const lines: CapturedLogger["lines"] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") lines.push(JSON.parse(line) as CapturedLogger["lines"][number]);
      cb();
    },
  });
  return { logger: pino({ level: "trace" }, stream), lines };
}
