import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "../util/index.js";

export interface AdminServerOptions {
  /** True once the first complete snapshot is live in every worker, and not shutting down. */
  readonly isReady: () => boolean;
  readonly logger: Logger;
}

/** The admin listener: `/healthz` (alive) and `/readyz` (first snapshot live, not draining). */
export class AdminServer {
  readonly #server: Server;
  readonly #isReady: () => boolean;
  readonly #log: Logger;

  constructor(options: AdminServerOptions) {
    this.#isReady = options.isReady;
    this.#log = options.logger;
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 5_000;
  }

  /** Listens and resolves with the bound port. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        this.#server.off("error", reject);
        const address = this.#server.address();
        resolve(typeof address === "object" && address !== null ? address.port : port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      return reply(res, 405, "method not allowed\n");
    }
    switch (path) {
      case "/healthz":
        return reply(res, 200, "ok\n");
      case "/readyz":
        return this.#isReady() ? reply(res, 200, "ok\n") : reply(res, 503, "not ready\n");
      default:
        this.#log.debug({ path }, "admin: not found");
        return reply(res, 404, "not found\n");
    }
  }
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(body);
}
