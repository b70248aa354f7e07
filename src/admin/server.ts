import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "../util/index.js";
import type { Metrics } from "./metrics.js";

/** Rendering /metrics failed (a provider threw): answered 500 and logged. */
export class AdminMetricsError extends Error {
  readonly code = "PPI_ERR_ADMIN_METRICS";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AdminMetricsError";
  }
}

export interface AdminServerOptions {
  /** True once the first complete snapshot is live in every worker, and not shutting down. */
  readonly isReady: () => boolean;
  readonly logger: Logger;
  /** Served at `/metrics` (Prometheus text), open like the probes; without it `/metrics` is 404. */
  readonly metrics?: Metrics;
}

/** The admin listener: `/healthz` (alive), `/readyz` (first snapshot live, not draining), `/metrics`. */
export class AdminServer {
  readonly #server: Server;
  readonly #isReady: () => boolean;
  readonly #log: Logger;
  readonly #metrics: Metrics | null;

  constructor(options: AdminServerOptions) {
    this.#isReady = options.isReady;
    this.#log = options.logger;
    this.#metrics = options.metrics ?? null;
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
      case "/metrics":
        if (this.#metrics !== null) return this.#serveMetrics(this.#metrics, res);
        return reply(res, 404, "not found\n");
      default:
        this.#log.debug({ path }, "admin: not found");
        return reply(res, 404, "not found\n");
    }
  }

  #serveMetrics(metrics: Metrics, res: ServerResponse): void {
    const registry = metrics.registry;
    registry.metrics().then(
      (text) => reply(res, 200, text, registry.contentType),
      (cause: unknown) => {
        this.#log.error({ err: new AdminMetricsError("cannot render /metrics", { cause }) }, "admin: /metrics failed");
        if (!res.headersSent) reply(res, 500, "metrics unavailable\n");
      },
    );
  }
}

function reply(res: ServerResponse, status: number, body: string, contentType = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(body);
}
