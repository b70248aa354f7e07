// A scripted stand-in for client-node's ListWatch, for supervisor unit tests: start() lists through
// the supervisor's hook and replays the items as "add" callbacks, like ListWatch does; stop()
// reports an AbortError like ListWatch does.
import { Writable } from "node:stream";
import type { KubernetesObject } from "@kubernetes/client-node";
import { pino, type Logger } from "pino";
import type { InformerHooks, SupervisedInformer } from "../../src/kube/index.js";

type ObjectCallback = (obj: KubernetesObject) => void;
type ErrorCallback = (err?: unknown) => void;

export class FakeInformer implements SupervisedInformer {
  readonly hooks: InformerHooks;
  readonly #adds: ObjectCallback[] = [];
  readonly #updates: ObjectCallback[] = [];
  readonly #deletes: ObjectCallback[] = [];
  readonly #errors: ErrorCallback[] = [];
  started = false;
  stopped = false;

  constructor(hooks: InformerHooks) {
    this.hooks = hooks;
  }

  on(verb: "add" | "update" | "delete", cb: ObjectCallback): void;
  on(verb: "error" | "connect", cb: ErrorCallback): void;
  on(verb: string, cb: ObjectCallback | ErrorCallback): void {
    if (verb === "add") this.#adds.push(cb as ObjectCallback);
    else if (verb === "update") this.#updates.push(cb as ObjectCallback);
    else if (verb === "delete") this.#deletes.push(cb as ObjectCallback);
    else if (verb === "error") this.#errors.push(cb as ErrorCallback);
  }

  async start(): Promise<void> {
    this.started = true;
    try {
      const list = await this.hooks.list();
      for (const item of list.items) for (const cb of this.#adds) cb(item);
    } catch (err) {
      this.error(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const abort = new Error("This operation was aborted");
    abort.name = "AbortError";
    this.error(abort);
  }

  add(obj: KubernetesObject): void {
    this.hooks.activity();
    for (const cb of this.#adds) cb(obj);
  }

  update(obj: KubernetesObject): void {
    this.hooks.activity();
    for (const cb of this.#updates) cb(obj);
  }

  remove(obj: KubernetesObject): void {
    this.hooks.activity();
    for (const cb of this.#deletes) cb(obj);
  }

  error(err: unknown): void {
    for (const cb of this.#errors) cb(err);
  }
}

export function obj(name: string, resourceVersion: string, namespace = "default"): KubernetesObject {
  return { apiVersion: "v1", kind: "Service", metadata: { name, namespace, resourceVersion } };
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
