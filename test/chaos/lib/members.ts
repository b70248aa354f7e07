// Echo members for the chaos suite: loopback HTTP servers that can be stopped the way pods stop
// (gracefully: refuse new connections, finish in-flight requests, close idle keep-alive ones),
// killed hard (listener closed and every connection reset: connection refused from then on), or
// hung (connections accepted and read, never answered).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type MemberMode = "serving" | "hung" | "stopped";

export class EchoMember {
  readonly name: string;
  readonly host = "127.0.0.1";
  port = 0;
  mode: MemberMode = "serving";
  requests = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Requests held by a hung member (released when it is killed). */
  readonly #held = new Set<ServerResponse>();

  constructor(name: string) {
    this.name = name;
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 30_000;
    this.#server.on("connection", (s: Socket) => {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
      s.on("error", () => {});
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(0, this.host, () => resolve());
    });
    this.port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  get key(): string {
    return `${this.host}:${this.port}`;
  }

  get openConnections(): number {
    return this.#sockets.size;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    if (this.mode === "hung") {
      req.resume();
      this.#held.add(res);
      res.on("close", () => this.#held.delete(res));
      return;
    }
    let bytes = 0;
    req.on("data", (c: Buffer) => (bytes += c.length));
    req.on("end", () => {
      const body = `${this.name} ${req.method ?? ""} ${req.url ?? ""} ${bytes}\n`;
      res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(body), "x-member": this.name });
      res.end(body);
    });
  }

  /** Accept and read, never answer (new and kept-alive connections alike). */
  hang(): void {
    this.mode = "hung";
  }

  /** A pod's SIGTERM handler: stop accepting, finish in-flight requests, close idle connections. */
  async stop(): Promise<void> {
    this.mode = "stopped";
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
    });
  }

  /** SIGKILL as the network sees it: listener gone (refused), every connection reset. */
  async kill(): Promise<void> {
    this.mode = "stopped";
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.resetAndDestroy();
    this.#held.clear();
    await closed;
  }
}

export async function startMembers(prefix: string, n: number, from = 0): Promise<EchoMember[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => new EchoMember(`${prefix}-${from + i}`).start()));
}
