// A dispatcher handler that collects one response (for AjpPool tests without the proxy).
import type { Dispatcher } from "undici";
import type { AjpDispatchOptions, AjpPool } from "../../../src/dataplane/ajp/index.js";
import type { AjpRequestInfo } from "../../../src/dataplane/ajp/index.js";

export interface Collected {
  readonly status: number;
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer;
  /** onRequestStart was called (the request reached a connection). */
  readonly started: boolean;
}

export class CollectingHandler implements Dispatcher.DispatchHandler {
  status = 0;
  headers: Record<string, string | string[]> = {};
  chunks: Buffer[] = [];
  started = false;
  controller: Dispatcher.DispatchController | null = null;
  readonly done: Promise<Collected>;
  #resolve!: (c: Collected) => void;
  #reject!: (err: Error) => void;
  constructor() {
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.started = true;
    this.controller = controller;
  }
  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    this.status = status;
    this.headers = { ...(headers as Record<string, string | string[]>) };
  }
  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(Buffer.from(chunk));
  }
  onResponseEnd(): void {
    this.#resolve({ status: this.status, headers: this.headers, body: Buffer.concat(this.chunks), started: this.started });
  }
  onResponseError(_c: Dispatcher.DispatchController | null, err: Error): void {
    this.#reject(err);
  }
}

export const clientInfo: AjpRequestInfo = { remoteAddr: "192.0.2.7", remotePort: 40123, localAddr: "127.0.0.1", serverName: "app.example", serverPort: 8080, tls: null, route: null };

/** One request through `pool`; resolves with the response or rejects with the handler's error. */
export function ajpRequest(pool: AjpPool, options: Partial<AjpDispatchOptions> & { path: string }): Promise<Collected> {
  const h = new CollectingHandler();
  pool.dispatch({ method: "GET", headers: ["host", "app.example"], body: null, headersTimeout: 30_000, bodyTimeout: 30_000, ajp: clientInfo, ...options } as AjpDispatchOptions, h);
  return h.done;
}

/** key=value lines of echo.jsp. */
export function lines(body: Buffer): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of body.toString("utf8").split("\n")) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const k = line.slice(0, eq);
    const v = line.slice(eq + 1).replace(/\r$/, "");
    out.set(k, [...(out.get(k) ?? []), v]);
  }
  return out;
}
