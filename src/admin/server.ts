import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "../util/index.js";
import type { Metrics } from "./metrics.js";
import { isSameOrigin, type AccessDecision, type AdminAccess } from "./access.js";
import { BALANCER_MANAGER_PATH, type BalancerManager } from "./balancer-manager.js";
import { PAGE_CSP } from "./balancer-manager-page.js";
import type { ClusterMetrics } from "./cluster-metrics.js";
import { CONFIG_PATH, renderConfig, type ConfigViewSource } from "./config-view.js";
import { SERVER_STATUS_CSP, SERVER_STATUS_PATH, parseRefresh, type ServerStatus } from "./server-status.js";

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
  /** Who may use the protected pages and the CSRF nonce; default loopback only, no token. */
  readonly access?: AdminAccess;
  /** Served at `/balancer-manager` (protected); without it the path is 404. */
  readonly balancerManager?: BalancerManager;
  /** `/metrics` across the workers (aggregated with the primary's registry); without it `/metrics` serves `metrics` alone. */
  readonly clusterMetrics?: ClusterMetrics;
  /** Served at `/server-status` (protected); without it the path is 404. */
  readonly serverStatus?: ServerStatus;
  /** Served at `/config` (protected, sanitized); without it the path is 404. */
  readonly config?: ConfigViewSource;
}

/**
 * The admin listener: `/healthz` (alive), `/readyz` (first snapshot live, not draining), `/metrics`
 * (open), and `/balancer-manager` (protected: allowed client address or bearer token; changes are
 * POSTs with the nonce and a same-origin Origin/Referer).
 */
export class AdminServer {
  readonly #server: Server;
  readonly #isReady: () => boolean;
  readonly #log: Logger;
  readonly #metrics: Metrics | null;
  readonly #access: AdminAccess | null;
  readonly #manager: BalancerManager | null;
  readonly #cluster: ClusterMetrics | null;
  readonly #status: ServerStatus | null;
  readonly #config: ConfigViewSource | null;

  constructor(options: AdminServerOptions) {
    this.#isReady = options.isReady;
    this.#log = options.logger;
    this.#metrics = options.metrics ?? null;
    this.#access = options.access ?? null;
    this.#manager = options.balancerManager ?? null;
    this.#cluster = options.clusterMetrics ?? null;
    this.#status = options.serverStatus ?? null;
    this.#config = options.config ?? null;
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
    if (path === BALANCER_MANAGER_PATH && this.#manager !== null && this.#access !== null) return this.#protected(this.#access, this.#manager, req, res);
    if (path === SERVER_STATUS_PATH && this.#status !== null && this.#access !== null) return this.#serveStatus(this.#access, this.#status, req, res);
    if (path === CONFIG_PATH && this.#config !== null && this.#access !== null) return this.#serveConfig(this.#access, this.#config, req, res);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return reply(res, 405, "method not allowed\n");
    }
    switch (path) {
      case "/healthz":
        return reply(res, 200, "ok\n");
      case "/readyz":
        return this.#isReady() ? reply(res, 200, "ok\n") : reply(res, 503, "not ready\n");
      case "/metrics":
        if (this.#cluster !== null) return this.#serveClusterMetrics(this.#cluster, res);
        if (this.#metrics !== null) return this.#serveMetrics(this.#metrics, res);
        return reply(res, 404, "not found\n");
      default:
        this.#log.debug({ path }, "admin: not found");
        return reply(res, 404, "not found\n");
    }
  }

  /** The access guard of the protected pages: security headers, then the client check (403 when refused). */
  #guard(access: AdminAccess, req: IncomingMessage, res: ServerResponse, path: string, csp: string): AccessDecision {
    res.setHeader("x-frame-options", "DENY");
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("referrer-policy", "same-origin");
    res.setHeader("content-security-policy", csp);
    const decision = access.check({ remoteAddress: req.socket.remoteAddress, authorization: req.headers.authorization });
    if (!decision.allowed) {
      this.#log.warn({ client: req.socket.remoteAddress ?? "unknown", path, reason: decision.reason }, "admin: access denied");
      reply(res, 403, "forbidden: allowed for loopback, --admin-allow-cidrs or the --admin-token-file bearer token\n");
    }
    return decision;
  }

  /** Read-only protected pages answer GET and HEAD only. */
  #readOnly(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method === "GET" || req.method === "HEAD") return true;
    res.setHeader("allow", "GET, HEAD");
    reply(res, 405, "method not allowed\n");
    return false;
  }

  #serveStatus(access: AdminAccess, status: ServerStatus, req: IncomingMessage, res: ServerResponse): void {
    if (!this.#guard(access, req, res, SERVER_STATUS_PATH, SERVER_STATUS_CSP).allowed || !this.#readOnly(req, res)) return;
    const url = new URL(req.url ?? "/", "http://admin");
    // httpd accepts "?auto" and "auto" anywhere in the query (e.g. "?refresh=5&auto").
    if (url.searchParams.has("auto")) return reply(res, 200, status.renderAuto(), "text/plain; charset=ISO-8859-1");
    const refresh = parseRefresh(url.searchParams.get("refresh"));
    if (refresh !== null) res.setHeader("refresh", String(refresh));
    reply(res, 200, status.renderHtml(refresh), "text/html; charset=utf-8");
  }

  #serveConfig(access: AdminAccess, config: ConfigViewSource, req: IncomingMessage, res: ServerResponse): void {
    if (!this.#guard(access, req, res, CONFIG_PATH, PAGE_CSP).allowed || !this.#readOnly(req, res)) return;
    reply(res, 200, renderConfig(config), "application/json; charset=utf-8");
  }

  #serveClusterMetrics(cluster: ClusterMetrics, res: ServerResponse): void {
    cluster.render().then(
      ({ text, contentType }) => reply(res, 200, text, contentType),
      (cause: unknown) => {
        this.#log.error({ err: new AdminMetricsError("cannot render /metrics", { cause }) }, "admin: /metrics failed");
        if (!res.headersSent) reply(res, 500, "metrics unavailable\n");
      },
    );
  }

  #protected(access: AdminAccess, manager: BalancerManager, req: IncomingMessage, res: ServerResponse): void {
    const client = req.socket.remoteAddress ?? "unknown";
    const decision = this.#guard(access, req, res, BALANCER_MANAGER_PATH, PAGE_CSP);
    if (!decision.allowed) return;
    if (req.method === "GET" || req.method === "HEAD") return manager.serveView(req, res);
    if (req.method !== "POST") {
      res.setHeader("allow", "GET, HEAD, POST");
      return reply(res, 405, "method not allowed\n");
    }
    if (!isSameOrigin({ origin: req.headers.origin, referer: req.headers.referer, host: req.headers.host })) {
      this.#log.warn({ client, origin: req.headers.origin ?? null, referer: req.headers.referer ?? null }, "admin: cross-origin change refused");
      return reply(res, 403, "forbidden: cross-origin request\n");
    }
    manager.serveChange(req, res, { client, token: decision.via === "token" }).catch((err: unknown) => {
      this.#log.error({ err }, "admin: balancer-manager failed");
      if (!res.headersSent) reply(res, 500, "internal error\n");
    });
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
