// One in-process data plane: the runtime (router + balancers) and a node:http server. Applying a
// route table compiles a new Router and swaps one reference; a request reads that reference once
// and keeps it. Endpoint-only updates reconcile balancer members and never recompile routes.
//
// Standalone (tests, --workers 1 in-process) it owns its scoreboard and slot allocator; inside a
// worker it maps the shared scoreboard and applies slot assignments made by the primary.
//
// Each route table carries the server settings (client timeouts, keep-alive, access log, log
// levels); applying the table sets them on the running server: Node reads them per connection
// event, so no listener restarts and no connection drops.

import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { defaultServerSettings, type BalancerStateReader, type BalancerView, type ClearableFlag, type EndpointDelta, type EndpointTable, type RouteTable, type RuntimeState, type ServerSettings, type SnapshotSink } from "../model/index.js";
import { CidrMatcher, type LogLevelControl, type Logger } from "../util/index.js";
import { BalancerRegistry, RuntimeOverrides, Scoreboard, SlotAllocator, describeBalancers, type SlotAssignment } from "./balancer/index.js";
import { createDefaultCertificate, type PemPair } from "./certificates.js";
import { proxySourceOf } from "./proxy-protocol.js";
import { Forwarder, type ProxyRequest, type ProxyResponse } from "./forward.js";
import { PlainFrontend, TlsFrontend, type FrontendHandlers, type Http1Settings } from "./frontend.js";
import type { H2ProxyRequest, H2ProxyResponse } from "./h2.js";
import { TlsContexts, createTicketKeys } from "./tls.js";
import { HealthChecker } from "./health/index.js";
import { compileRoutes, type Router } from "./router.js";
import { LimiterRegistry } from "./perimeter.js";
import { DEFAULT_UPSTREAM_OPTIONS, type LiveUpstreamOptions, type UpstreamOptions } from "./upstream.js";
import { WorkerStats, type AccessLogFormat, type AccessLogSink, type RouteStatsRegistry } from "./stats/index.js";
import { TunnelProxy } from "./websocket.js";
import { ConnectProxy } from "./connect.js";

export interface ProxyServerOptions {
  /** Component logger ("proxy"). */
  readonly logger: Logger;
  /** Access log: one info line per request; null/undefined = never. */
  readonly accessLogger?: Logger | null;
  /** `--access-log`: whether the access log is on while the route table's `server.accessLog` is null (default true). */
  readonly accessLog?: boolean;
  /** Levels of this data plane's loggers, set from the route table's `server.logLevel` (null = the flag's). */
  readonly logLevels?: LogLevelControl | null;
  /** A shared scoreboard (worker mode: slots come with each apply); omitted = own scoreboard + allocator. */
  readonly scoreboard?: Scoreboard;
  /** Test mode: adds `x-proxypass-worker: <id>` to responses. */
  readonly workerId?: string | null;
  /** Upstream options while route tables carry no server settings (tests). */
  readonly upstream?: UpstreamOptions;
  /** Client keep-alive timeout while route tables carry no server settings (tests); default 5000. */
  readonly keepAliveTimeoutMs?: number;
  /** How often Node checks the client header/request timeouts (fixed at creation); default 1000. */
  readonly timeoutCheckIntervalMs?: number;
  /** `--max-header-size`: larger request headers get 431 (Node's parser). Default 16384. */
  readonly maxHeaderSize?: number;
  /** Logger of the active health checks a standalone server runs ("health"); default `logger`. */
  readonly healthLogger?: Logger;
  /** Worker mode: this worker's busy ledger (BusyLedger buffer, one Int32 per member slot). */
  readonly busyLedger?: SharedArrayBuffer;
  /** Worker mode: this worker's totals region (WorkerStats buffer, read by the primary for server-status); default an own one. */
  readonly statsRegion?: SharedArrayBuffer;
  /** `--access-log-format` (default json); combined lines go to `accessSink`. */
  readonly accessLogFormat?: AccessLogFormat;
  readonly accessSink?: AccessLogSink | null;
  /** This worker's label in generated request ids (default "0"). */
  readonly requestIdPrefix?: string;
  /** `--trusted-proxies`: canonical CIDRs of proxies whose X-Forwarded-For names the client; empty/undefined = none. */
  readonly trustedProxies?: ReadonlyArray<string>;
  /** `--proxy-protocol`: both listeners read a PROXY v1/v2 header first; its source is the peer. */
  readonly proxyProtocol?: boolean;
  /**
   * TLS listener material: the certificate presented when no `--default-ssl-certificate` is in the
   * route table, and the session ticket keys (48 bytes). Worker mode: made once by the primary and
   * the same in every worker. Omitted: made by `listenTls` (a self-signed certificate, random keys).
   */
  readonly tls?: { readonly defaultCertificate: PemPair; readonly ticketKeys: Buffer };
}

export interface ListenOptions {
  readonly port: number;
  readonly host?: string;
  readonly reusePort?: boolean;
}

const EMPTY_ROUTES: RouteTable = Object.freeze({ version: "", virtualHosts: [], defaultRoute: null, balancers: [] });

function sameServerSettings(a: ServerSettings, b: ServerSettings): boolean {
  return (
    a.accessLog === b.accessLog &&
    a.logLevel === b.logLevel &&
    a.clientHeaderTimeoutMs === b.clientHeaderTimeoutMs &&
    a.clientRequestTimeoutMs === b.clientRequestTimeoutMs &&
    a.keepAliveTimeoutMs === b.keepAliveTimeoutMs &&
    a.upstreamKeepAliveTimeoutMs === b.upstreamKeepAliveTimeoutMs &&
    a.maxRequestsPerConnection === b.maxRequestsPerConnection &&
    a.clientBodyTimeoutMs === b.clientBodyTimeoutMs &&
    a.maxConnectionsPerWorker === b.maxConnectionsPerWorker
  );
}

export class ProxyServer implements SnapshotSink, BalancerStateReader {
  readonly #log: Logger;
  readonly #board: Scoreboard;
  readonly #allocator: SlotAllocator | null;
  /** Standalone only: active health checks (in worker mode the primary runs them). */
  readonly #health: HealthChecker | null;
  /** Standalone only: balancer-manager overrides (in worker mode the primary writes them). */
  readonly #overrides: RuntimeOverrides | null;
  /** Standalone only: the live route table, for the checks' settings on endpoint updates. */
  #routes: RouteTable = EMPTY_ROUTES;
  readonly #registry: BalancerRegistry;
  readonly #forwarder: Forwarder;
  /** Rate and connection limits per Ingress, kept across snapshots. */
  readonly #limiters = new LimiterRegistry();
  /** Client connections closed at once because of `max-connections-per-worker`. */
  #dropped = 0;
  readonly #onDrop = (): void => {
    this.#dropped++;
  };
  /** Upgrade requests and open WebSocket tunnels. */
  readonly #tunnels: TunnelProxy;
  /** CONNECT tunnels (allow-connect). */
  readonly #connects: ConnectProxy;
  readonly #accessLogger: Logger | null;
  readonly #accessLogFlag: boolean;
  readonly #logLevels: LogLevelControl | null;
  /** Read by each upstream pool creation: `upstream-keep-alive-timeout` changes it in place. */
  readonly #upstream: LiveUpstreamOptions;
  /** Server settings of tables without any (hand-made tables): the construction options. */
  readonly #baseSettings: ServerSettings;
  #serverSettings: ServerSettings | null = null;
  /** The plain listener (HTTP/1.1 and h2c with prior knowledge). */
  readonly #plain: PlainFrontend;
  /** The TLS listener (ALPN h2 and http/1.1), once `listenTls` was called. */
  #tls: TlsFrontend | null = null;
  #tlsMaterial: { readonly defaultCertificate: PemPair; readonly ticketKeys: Buffer } | null;
  #contexts: TlsContexts | null = null;
  readonly #handlers: FrontendHandlers;
  readonly #frontendOptions: { readonly maxHeaderSize: number; readonly connectionsCheckingInterval: number; readonly proxyProtocol: boolean };
  /** The one reference swapped per route apply. */
  #router: Router;
  #routesVersion: string | null = null;
  #endpointsVersion: string | null = null;
  #routesCompiled = 0;
  #closing: Promise<void> | null = null;
  #draining = false;

  constructor(options: ProxyServerOptions) {
    this.#log = options.logger;
    if (options.scoreboard !== undefined) {
      this.#board = options.scoreboard;
      this.#allocator = null;
      this.#health = null;
      this.#overrides = null;
    } else {
      this.#board = Scoreboard.create();
      this.#allocator = new SlotAllocator(this.#board);
      this.#health = new HealthChecker({ scoreboard: this.#board, logger: options.healthLogger ?? options.logger });
      this.#overrides = new RuntimeOverrides(this.#board, this.#allocator);
    }
    this.#upstream = { ...(options.upstream ?? DEFAULT_UPSTREAM_OPTIONS) };
    this.#baseSettings = { ...defaultServerSettings, keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 5_000, upstreamKeepAliveTimeoutMs: this.#upstream.keepAliveTimeoutMs };
    this.#accessLogger = options.accessLogger ?? null;
    this.#accessLogFlag = options.accessLog ?? true;
    this.#logLevels = options.logLevels ?? null;
    this.#registry = new BalancerRegistry(this.#board, this.#upstream, options.busyLedger === undefined ? null : new Int32Array(options.busyLedger));
    this.#router = compileRoutes(EMPTY_ROUTES, this.#registry, undefined, this.#limiters);
    const workerStats = new WorkerStats(options.statsRegion);
    workerStats.started(Date.now());
    this.#forwarder = new Forwarder({
      log: options.logger,
      accessLog: this.#accessLogFlag ? this.#accessLogger : null,
      workerId: options.workerId ?? null,
      workerStats,
      accessLogFormat: options.accessLogFormat ?? "json",
      accessSink: options.accessSink ?? null,
      requestIdPrefix: options.requestIdPrefix ?? "0",
    });
    if (options.trustedProxies !== undefined && options.trustedProxies.length !== 0) this.#forwarder.trustedProxies = new CidrMatcher(options.trustedProxies);
    if (options.proxyProtocol === true) this.#forwarder.peerOf = proxySourceOf;
    this.#tunnels = new TunnelProxy(this.#forwarder);
    this.#connects = new ConnectProxy(this.#forwarder);
    this.#handlers = {
      // HTTP/2 requests (H2ProxyRequest/H2ProxyResponse) offer everything the request path reads
      // of an HTTP/1.1 request and response (h2.ts); the path itself does not tell them apart.
      request: (req: ProxyRequest | H2ProxyRequest, res: ProxyResponse | H2ProxyResponse) => {
        // Shutdown delay: close each connection after its response (keep-alive clients move on;
        // HTTP/2 sessions get GOAWAY when the listener closes).
        if (this.#draining) (res as ProxyResponse).shouldKeepAlive = false;
        this.#forwarder.handle(this.#router, req as ProxyRequest, res as ProxyResponse);
      },
      // Expect: 100-continue: Node would answer 100 at once; the Forwarder answers it once a member takes the request.
      checkContinue: (req: ProxyRequest | H2ProxyRequest, res: ProxyResponse | H2ProxyResponse) => {
        if (this.#draining) (res as ProxyResponse).shouldKeepAlive = false;
        res.continuePending = true;
        this.#forwarder.handle(this.#router, req as ProxyRequest, res as ProxyResponse);
      },
      upgrade: (req: ProxyRequest, socket: Duplex, head: Buffer) => this.#tunnels.handle(this.#router, req, socket, head),
      connect: (req: ProxyRequest, socket: Duplex, head: Buffer) => this.#connects.handle(this.#router, req, socket, head),
      // WebSockets over HTTP/2 (RFC 8441) share the upgrade path's tunnels and counters.
      extendedConnect: (req: H2ProxyRequest) => this.#tunnels.handleH2(this.#router, req),
      connection: (socket: Socket) => this.#forwarder.connectionOpened(socket),
    };
    // Node's default check interval (30 s) would let a 5 s header timeout last up to 35 s.
    this.#frontendOptions = { maxHeaderSize: options.maxHeaderSize ?? 16_384, connectionsCheckingInterval: options.timeoutCheckIntervalMs ?? 1_000, proxyProtocol: options.proxyProtocol === true };
    this.#plain = new PlainFrontend(this.#handlers, { ...this.#frontendOptions, settings: http1Settings(this.#baseSettings) });
    this.#tlsMaterial = options.tls ?? null;
  }

  /** Per-route request counters (the worker's /metrics registry reads them). */
  get routeStats(): RouteStatsRegistry {
    return this.#forwarder.stats;
  }

  /** WebSocket tunnels open now (member answered 101, not closed yet). */
  get openTunnels(): number {
    return this.#tunnels.openTunnels;
  }

  /** CONNECT tunnels established and not closed yet. */
  get openConnectTunnels(): number {
    return this.#connects.openTunnels;
  }

  /** Authentication outcome counters (proxypass_auth_requests_total), indexed like AUTH_OUTCOMES. */
  get authOutcomes(): Float64Array {
    return this.#forwarder.auth.outcomes;
  }

  /** Client connections closed at once because `max-connections-per-worker` was reached (proxypass_connections_dropped_total). */
  get droppedConnections(): number {
    return this.#dropped;
  }

  /** This server's totals (server-status). */
  get workerStats(): WorkerStats {
    return this.#forwarder.workerStats;
  }

  get scoreboard(): Scoreboard {
    return this.#board;
  }

  /** Route table version currently live, null before the first apply. */
  get routesVersion(): string | null {
    return this.#routesVersion;
  }

  get endpointsVersion(): string | null {
    return this.#endpointsVersion;
  }

  /** The server settings in effect (those of the last route table applied; before any, the construction options). */
  get serverSettings(): ServerSettings {
    return this.#serverSettings ?? this.#baseSettings;
  }

  /** How many route tables were compiled (endpoint-only updates do not compile). */
  get routesCompiled(): number {
    return this.#routesCompiled;
  }

  get registry(): BalancerRegistry {
    return this.#registry;
  }

  /** Standalone: the active health checks (results for the admin pages); null in worker mode. */
  get healthChecker(): HealthChecker | null {
    return this.#health;
  }

  async applyRoutes(routes: RouteTable, endpoints: EndpointTable): Promise<void> {
    const slots = this.#ownAllocator().assign(endpoints);
    this.applyAssignedRoutes(routes, endpoints, slots);
    this.#ownAllocator().release(slots.generation);
    this.#routes = routes;
    this.#health?.update(routes, endpoints, slots);
    this.#overrides?.reapply();
  }

  async applyEndpoints(endpoints: EndpointTable): Promise<void> {
    const slots = this.#ownAllocator().assign(endpoints);
    this.applyAssignedEndpoints(endpoints, slots);
    this.#ownAllocator().release(slots.generation);
    this.#health?.update(this.#routes, endpoints, slots);
    this.#overrides?.reapply();
  }

  async applyEndpointDelta(delta: EndpointDelta): Promise<void> {
    const slots = this.#ownAllocator().assignDelta(delta);
    this.applyAssignedDelta(delta, slots);
    this.#ownAllocator().release(slots.generation);
    this.#health?.updateDelta(this.#routes, delta, slots);
    this.#overrides?.reapplyTo(delta.balancers.map((b) => b.balancer));
  }

  /** Worker mode: apply an endpoint delta with slots (parallel to `delta.balancers`) assigned by the primary. */
  applyAssignedDelta(delta: EndpointDelta, slots: SlotAssignment): void {
    this.#registry.applyDelta(delta, slots);
    this.#endpointsVersion = delta.version;
    this.#forwarder.workerStats.swapped(Date.now());
    if (this.#log.isLevelEnabled("debug")) this.#log.debug({ endpoints: delta.version, balancers: delta.balancers.length }, "endpoint delta applied");
  }

  /** Worker mode: apply a route table with slots assigned by the primary. Synchronous: live on return. */
  applyAssignedRoutes(routes: RouteTable, endpoints: EndpointTable, slots: SlotAssignment): void {
    this.#applyServerSettings(routes.server ?? this.#baseSettings);
    this.#applyTls(routes);
    const router = compileRoutes(routes, this.#registry, this.#forwarder.stats, this.#limiters);
    this.#registry.applyEndpoints(endpoints, slots);
    this.#router = router;
    this.#registry.prune(routes);
    this.#forwarder.stats.prune();
    this.#forwarder.auth.prune(routes);
    this.#limiters.prune();
    this.#forwarder.workerStats.swapped(Date.now());
    this.#routesVersion = routes.version;
    this.#endpointsVersion = endpoints.version;
    this.#routesCompiled++;
    if (this.#log.isLevelEnabled("debug")) this.#log.debug({ snapshot: routes.version, endpoints: endpoints.version }, "routes applied");
  }

  /**
   * Sets the server settings on the running server: Node reads headersTimeout and requestTimeout at
   * each timeout check, keepAliveTimeout when a response ends, maxRequestsPerSocket per request; the
   * upstream keep-alive applies to pools created from now on; the access log switches at once.
   */
  #applyServerSettings(settings: ServerSettings): void {
    const previous = this.#serverSettings;
    if (previous !== null && sameServerSettings(previous, settings)) return;
    const h1 = http1Settings(settings);
    this.#plain.applySettings(h1);
    this.#tls?.applySettings(h1);
    // net.Server drops connections over this at once ("drop", counted); 0 = unlimited.
    const maxConnections = settings.maxConnectionsPerWorker === 0 ? Infinity : settings.maxConnectionsPerWorker;
    this.#plain.setMaxConnections(maxConnections, this.#onDrop);
    this.#tls?.setMaxConnections(maxConnections, this.#onDrop);
    this.#forwarder.clientBodyTimeoutMs = settings.clientBodyTimeoutMs;
    this.#upstream.keepAliveTimeoutMs = settings.upstreamKeepAliveTimeoutMs;
    this.#forwarder.accessLog = (settings.accessLog ?? this.#accessLogFlag) ? this.#accessLogger : null;
    if (this.#logLevels !== null && !this.#logLevels.setLevels(settings.logLevel)) this.#log.warn({ logLevel: settings.logLevel }, "invalid log level ignored");
    this.#serverSettings = settings;
    if (previous !== null && this.#log.isLevelEnabled("debug")) this.#log.debug({ server: settings }, "server settings applied");
  }

  /** The route table's TLS section onto the secure contexts (certificates are reused while unchanged). */
  #applyTls(routes: RouteTable): void {
    this.#lastTls = routes;
    const contexts = this.#contexts;
    if (contexts === null) return;
    if (contexts.apply(routes.tls)) this.#tls?.setSecureContext(contexts.defaultOptions());
    if (contexts.expired.length > 0) this.#log.warn({ secrets: contexts.expired }, "expired TLS certificates: their hosts get the default certificate");
  }

  #lastTls: RouteTable | null = null;

  /** Worker mode: apply endpoints with slots assigned by the primary. */
  applyAssignedEndpoints(endpoints: EndpointTable, slots: SlotAssignment): void {
    this.#registry.applyEndpoints(endpoints, slots);
    this.#endpointsVersion = endpoints.version;
    this.#forwarder.workerStats.swapped(Date.now());
    if (this.#log.isLevelEnabled("debug")) this.#log.debug({ endpoints: endpoints.version }, "endpoints applied");
  }

  #ownAllocator(): SlotAllocator {
    if (this.#allocator === null) throw new Error("ProxyServer with a shared scoreboard: use applyAssigned* (slots come from the primary)");
    if (this.#allocator.takeOverflowWarning()) this.#log.warn("scoreboard full: further members share an overflow slot (approximate counters)");
    return this.#allocator;
  }

  /** Standalone: replaces the balancer-manager overrides (written into the scoreboard at once). */
  setRuntimeState(state: RuntimeState): void {
    if (this.#overrides === null) throw new Error("ProxyServer with a shared scoreboard: the primary owns the overrides");
    this.#overrides.set(state);
  }

  /** BalancerStateReader (standalone): the live balancers; null before the first apply. */
  balancers(): ReadonlyArray<BalancerView> | null {
    if (this.#routesVersion === null) return null;
    const entries = [];
    for (const config of this.#routes.balancers) {
      const b = this.#registry.get(config.id);
      if (b === undefined) continue;
      entries.push({ id: config.id, members: b.list, memberSlots: b.list.map((m) => m.slot), balancerSlot: this.#allocator?.balancerSlot(config.id) ?? 0 });
    }
    return describeBalancers(this.#routes, entries, this.#board, this.#health?.results() ?? []);
  }

  clearFlags(balancer: string, member: string, flags: ReadonlyArray<ClearableFlag>): boolean {
    return this.#overrides?.clearFlags(balancer, member, flags) ?? false;
  }

  /** In-flight and elected counters of a member, read from the scoreboard; null when unknown. */
  memberStats(balancer: string, key: string): { busy: number; elected: number } | null {
    const m = this.#registry.get(balancer)?.members.get(key);
    return m === undefined ? null : { busy: m.busy, elected: m.elected };
  }

  /** Listens on the plain port: HTTP/1.1, and HTTP/2 with prior knowledge (h2c). */
  listen(options: ListenOptions): Promise<AddressInfo> {
    return this.#plain.listen(options);
  }

  /**
   * Listens on the TLS port (ALPN h2 and http/1.1). Without `tls` material in the options, makes
   * a self-signed default certificate and ticket keys first.
   */
  async listenTls(options: ListenOptions): Promise<AddressInfo> {
    if (this.#tls !== null) throw new Error("the TLS listener is already listening");
    const material = this.#tlsMaterial ?? { defaultCertificate: await createDefaultCertificate(), ticketKeys: createTicketKeys() };
    this.#tlsMaterial = material;
    const contexts = new TlsContexts(material.defaultCertificate, material.ticketKeys);
    if (this.#lastTls !== null) contexts.apply(this.#lastTls.tls);
    this.#contexts = contexts;
    const tls = new TlsFrontend(this.#handlers, { ...this.#frontendOptions, settings: http1Settings(this.serverSettings), secure: contexts.defaultOptions(), SNICallback: contexts.sniCallback });
    this.#tls = tls;
    const max = this.serverSettings.maxConnectionsPerWorker;
    tls.setMaxConnections(max === 0 ? Infinity : max, this.#onDrop);
    return tls.listen(options);
  }

  /** The secure contexts (tests: SNI selection, reuse); null before `listenTls`. */
  get tlsContexts(): TlsContexts | null {
    return this.#contexts;
  }

  get address(): AddressInfo | null {
    return this.#plain.address;
  }

  /** The TLS listener's address; null when not listening. */
  get tlsAddress(): AddressInfo | null {
    return this.#tls?.address ?? null;
  }

  /**
   * Shutdown delay: keep serving, but answer every request with `Connection: close`, so keep-alive
   * clients open their next connection to another replica (the Service has stopped sending new
   * connections here once /readyz failed). Idle connections are closed when the listener closes.
   */
  drain(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Stop accepting, let in-flight requests finish for up to `graceMs`, then destroy what is left. */
  close(graceMs = 30_000): Promise<void> {
    this.#health?.close();
    this.#closing ??= this.#close(graceMs);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    const plain = this.#plain;
    const tls = this.#tls;
    const closed = Promise.all([plain.close(), tls?.close()]).then(() => undefined);
    plain.closeIdleConnections();
    tls?.closeIdleConnections();
    // Connections that finish their last request during the grace period go idle: close them too.
    const sweep = setInterval(() => {
      plain.closeIdleConnections();
      tls?.closeIdleConnections();
    }, 50);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    });
    const timedOut = await Promise.race([closed.then(() => false), expired]);
    clearInterval(sweep);
    clearTimeout(timer);
    await this.#forwarder.auth.close();
    if (timedOut) {
      this.#tunnels.destroyAll();
      this.#connects.destroyAll();
      plain.closeAllConnections();
      tls?.closeAllConnections();
      await this.#registry.destroy();
      await closed;
    } else {
      // Pools drain in what is left of the grace period; the timer must not outlive them, or it
      // keeps a worker thread alive until the whole grace has passed.
      let poolTimer: NodeJS.Timeout | undefined;
      await Promise.race([this.#registry.close(), new Promise((r) => (poolTimer = setTimeout(r, Math.max(0, graceMs))))]);
      clearTimeout(poolTimer);
      await this.#registry.destroy();
    }
  }
}

function http1Settings(s: ServerSettings): Http1Settings {
  return { headersTimeout: s.clientHeaderTimeoutMs, requestTimeout: s.clientRequestTimeoutMs ?? 0, keepAliveTimeout: s.keepAliveTimeoutMs, maxRequestsPerSocket: s.maxRequestsPerConnection };
}
