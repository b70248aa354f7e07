// The builder's output: immutable, plain, serializable data. It is also the IPC message to
// data-plane workers. Routes (with balancer settings) and endpoints are published separately,
// like xDS RDS/CDS vs EDS: an endpoint-only change never resends or recompiles the route table.

import type { TlsTable } from "./tls.js";

export type PathType = "Exact" | "Prefix";

/** A header edit, like httpd's RequestHeader/Header: `set`, `add`, `append`, `unset`. Name is lower-case. */
export interface HeaderRule {
  readonly op: "set" | "add" | "append" | "unset";
  readonly name: string;
  /** Empty for `unset`. Never contains CR, LF or other control characters. */
  readonly value: string;
}

/** Milliseconds; `null` means disabled (no timeout). */
export interface Timeouts {
  /** `connect-timeout`: TCP (and later TLS) connect to a member. */
  readonly connectMs: number | null;
  /** `timeout`: time to response headers, and idle time between body chunks. */
  readonly readMs: number | null;
}

/** `limit-rps` with `limit-burst`. */
export interface RateLimit {
  readonly rps: number;
  readonly burst: number;
}

export interface RouteOptions {
  readonly timeouts: Timeouts;
  /** `preserve-host` (default true): send the client's Host; false sends the balancer's `hostHeader`. */
  readonly preserveHost: boolean;
  /** `upstream-vhost`: Host sent upstream, overrides both of the above. */
  readonly upstreamVhost: string | null;
  readonly requestHeaders: ReadonlyArray<HeaderRule>;
  readonly responseHeaders: ReadonlyArray<HeaderRule>;
  /** `websocket-idle-timeout`: an upgraded tunnel with no bytes either way for this long is closed; null = never. */
  readonly websocketIdleMs: number | null;
  /** `rewrite-target`: path that replaces the matched Prefix (an Exact path: the whole path) upstream; null = sent as is. */
  readonly rewriteTarget: string | null;
  /** `app-root`: a request for exactly "/" on this route's host is redirected (302) here; null = none. */
  readonly appRoot: string | null;
  /** `proxy-pass-reverse`, resolved: map member URLs in Location/Content-Location/URI/Refresh and Set-Cookie Path/Domain back to the public ones. */
  readonly proxyPassReverse: boolean;
  /** `allow-connect`: ports a `CONNECT host:port` to one of this route's Ingress's hosts may name (sorted); null = CONNECT refused. */
  readonly connectPorts: ReadonlyArray<number> | null;
  /** `compression`: responses compressed (zstd, br or gzip by Accept-Encoding) under the server's compression settings. */
  readonly compression: boolean;
  /** `auth-*`: basic and/or external authentication, checked before anything is sent upstream; null = none. */
  readonly auth?: AuthConfig | null;
  /** `custom-error-pages` (ProxyErrorOverride): statuses (400-599, sorted) answered with the ConfigMap's `error-page-<status>` body; absent = none. */
  readonly customErrorPages?: ReadonlyArray<number>;
  /**
   * `custom-error-backend`: "SERVICE:PORT" in the Ingress's namespace, or "NAMESPACE/SERVICE:PORT"
   * (from the ConfigMap); its balancer is `errorBackendId(route.ingress, this)`. Absent = none.
   */
  readonly customErrorBackend?: string;
  /** `ssl-redirect`: plain-HTTP requests for a host with TLS get 308 to https. Absent = true. */
  readonly sslRedirect?: boolean;
  /** `force-ssl-redirect`: 308 to https even when the host has no TLS here. Absent = false. */
  readonly forceSslRedirect?: boolean;
  /** `max-body-size`: request bodies above this many bytes get 413; null = unlimited. */
  readonly maxBodyBytes: number | null;
  /** `allow-cidrs`: canonical CIDRs of the only client addresses served (others 403); null = all. */
  readonly allowCidrs: ReadonlyArray<string> | null;
  /** `deny-cidrs`: canonical CIDRs of client addresses refused with 403; null = none. */
  readonly denyCidrs: ReadonlyArray<string> | null;
  /** `limit-rps` / `limit-burst`: token bucket per client address (capacity rps + burst, refill rps/s); null = none. */
  readonly rateLimit: RateLimit | null;
  /** `limit-connections`: requests and tunnels in flight per client address; null = none. */
  readonly limitConnections: number | null;
}

/** The balancer id ("ns/service:port") of a route's `custom-error-backend` value. */
export function errorBackendId(ingressRef: string, backend: string): string {
  return backend.includes("/") ? backend : `${ingressRef.slice(0, ingressRef.indexOf("/"))}/${backend}`;
}

/** One htpasswd line: a user and its password hash (bcrypt `$2a$`/`$2b$`/`$2y$`, `$apr1$` MD5, `{SHA}`). */
export interface HtpasswdEntry {
  readonly user: string;
  readonly hash: string;
}

/** `auth-type: basic` (httpd AuthType Basic + AuthUserFile from the `auth-secret` Secret's `auth` key). */
export interface BasicAuthConfig {
  /** `auth-realm` (AuthName), sent in `WWW-Authenticate: Basic realm="..."`. */
  readonly realm: string;
  /**
   * The users, sorted, first line of a user wins. null = the Secret is missing or invalid: the route
   * fails closed (every request gets 503, as ingress-nginx answers for a missing auth Secret).
   */
  readonly htpasswd: ReadonlyArray<HtpasswdEntry> | null;
}

/** `auth-url`: a subrequest per request; its 2xx admits, 401/403 pass through, anything else is 503. */
export interface ExternalAuthConfig {
  /** Absolute http(s) URL, normalised (WHATWG URL href); never interpolated. */
  readonly url: string;
  /** `auth-response-headers`: lower-case names copied from the auth response onto the upstream request. */
  readonly responseHeaders: ReadonlyArray<string>;
  /** `auth-timeout`: the whole subrequest (connect and response headers). */
  readonly timeoutMs: number;
}

export interface AuthConfig {
  readonly basic: BasicAuthConfig | null;
  readonly external: ExternalAuthConfig | null;
}

/**
 * A canary split (ingress-nginx's canary-* annotations, as a loadfactor between two balancers): a
 * second Ingress for the same host, path and pathType with `proxypass.io/canary: "true"`.
 */
export interface CanaryConfig {
  /** "namespace/name" of the canary Ingress. */
  readonly ingress: string;
  /** Id of the canary's balancer in `RouteTable.balancers`. */
  readonly balancer: string;
  /** 0-100: percentage of requests (without header/cookie/sticky override) sent to the canary, byrequests-smooth. */
  readonly weight: number;
  /** Lower-case request header name: value "always" -> canary, "never" -> primary, else the weight decides. */
  readonly byHeader: string | null;
  /** Cookie name: value "always" -> canary, "never" -> primary, else the weight decides. Header wins over cookie. */
  readonly byCookie: string | null;
}

export interface Route {
  /** Starts with "/". For Prefix, normalised without trailing "/" (except the root "/"). */
  readonly path: string;
  readonly pathType: PathType;
  /** "namespace/name" of the Ingress that contributed this route. */
  readonly ingress: string;
  /** Id of a balancer in `RouteTable.balancers`. */
  readonly balancer: string;
  readonly options: RouteOptions;
  /** Canary split of this route, or null. */
  readonly canary: CanaryConfig | null;
}

export interface VirtualHost {
  /** Exact host ("a.example.com"), one-label wildcard ("*.example.com"), or "" for rules without host (any host). Lower-case, no port. */
  readonly host: string;
  /** In match order: longer paths first; at equal length Exact before Prefix. */
  readonly routes: ReadonlyArray<Route>;
  /** Route for requests to this host that match no path (an Ingress's spec.defaultBackend), else null. */
  readonly fallback: Route | null;
}

/** httpd lbmethod: `byrequests` (default), `bytraffic`, `bybusyness`, `random2` (power of two choices on in-flight). */
export type LbMethod = "byrequests" | "bytraffic" | "bybusyness" | "random2";

/** Sticky routes (httpd `stickysession=`, `nofailover=`). */
export interface StickyConfig {
  /** Cookie name; its value's text after the first "." (else the whole value) is the route. */
  readonly cookie: string;
  /** Also read `;param=` path parameters and `?param=` query parameters (httpd `COOKIE|param`); wins over the cookie. null = cookie only. */
  readonly param: string | null;
  /** `sticky-nofailover`: a sticky request whose member is unusable gets 503 instead of moving. */
  readonly noFailover: boolean;
}

/** Failover and passive health (httpd `maxattempts=`, `retry=`, `failonstatus=`, `failontimeout=`). */
export interface FailoverConfig {
  /** Failover tries after the first attempt; null = members - 1. */
  readonly maxAttempts: number | null;
  /** How long a member stays in error state (E) before one trial request; 0 = retry at once. */
  readonly retryMs: number;
  /** Statuses that put the member in error (the response is still relayed). Sorted, unique. */
  readonly failOnStatus: ReadonlyArray<number>;
  /** A read timeout puts the member in error. */
  readonly failOnTimeout: boolean;
}

/** Active health checks (mod_proxy_hcheck: hcuri, hcmethod, hcinterval, hcpasses, hcfails, hcexpr). */
export interface HealthCheckConfig {
  /** Request target (path and optional query), starts with "/"; unused for TCP. */
  readonly uri: string;
  readonly method: "GET" | "HEAD" | "OPTIONS" | "TCP";
  readonly intervalMs: number;
  /** Consecutive passes that clear C. */
  readonly passes: number;
  /** Consecutive failures that set C. */
  readonly fails: number;
  /** Statuses that pass: inclusive [low, high] ranges, sorted, non-overlapping. */
  readonly expect: ReadonlyArray<readonly [number, number]>;
}

/**
 * `backend-protocol`: how the proxy talks to a balancer's members. `http` HTTP/1.1 (default);
 * `https` HTTP/1.1 over TLS; `h2c` HTTP/2 cleartext with prior knowledge; `grpc` / `grpcs` HTTP/2
 * cleartext / over TLS (ALPN h2) with gRPC error responses, trailers and `grpc-timeout`; `ajp`
 * AJP/1.3 (mod_proxy_ajp, Tomcat's AJP connector).
 */
export type BackendProtocol = "http" | "https" | "h2c" | "grpc" | "grpcs" | "ajp";

/** AJP/1.3 members (`backend-protocol: AJP`): httpd's `secret=`, ProxyIOBufferSize and `ping=`. */
export interface AjpBackendConfig {
  /** `ajp-secret`: the Secret's `secret` value, sent with every request; null = none. */
  readonly secret: string | null;
  /** `ajp-packet-size`: bytes (4-byte header included), 8192-65536. */
  readonly packetSize: number;
  /** `ajp-ping`: CPing before each request, waiting this long for CPong; 0 = off. */
  readonly pingMs: number;
  /** `ajp-secret` names a Secret that is missing or has no `secret` key: every request fails (502) until it is fixed. */
  readonly failClosed: boolean;
}

/** TLS to members (`https`, `grpcs`): SSLProxyVerify / SSLProxyCACertificateFile. */
export interface BackendTlsConfig {
  /** SNI, and the name verified when `verify`: `upstream-vhost` (without port) of the Ingress that sets the balancer's settings, else the Service DNS name. */
  readonly servername: string;
  /** `backend-tls-verify`: verify the member's chain and name (default false: encrypt without verifying, as ingress-nginx and httpd's defaults do). */
  readonly verify: boolean;
  /** PEM certificates of `backend-ca-secret`'s `ca.crt`, the only trusted roots; null = Node's bundled CAs (or no verification). */
  readonly ca: string | null;
  /** Verification is on but the CA Secret is missing or invalid: every request fails (502) until it is fixed. */
  readonly failClosed: boolean;
}

/** Balancer settings (route-side, changes with Ingress/Service edits, not with endpoints). */
export interface BalancerConfig {
  /** Stable identity: "namespace/service:port" (port = Service port number). */
  readonly id: string;
  /** "namespace/name" of the Service. */
  readonly service: string;
  /** Host header used when preserve-host is false: Service DNS name (":port" unless 80) or ExternalName. */
  readonly hostHeader: string;
  readonly protocol: BackendProtocol;
  /** TLS to the members: set exactly when `protocol` is `https` or `grpcs`. */
  readonly tls: BackendTlsConfig | null;
  /** AJP settings: set exactly when `protocol` is `ajp`. */
  readonly ajp: AjpBackendConfig | null;
  /**
   * "namespace/name" of the Ingress whose annotations (over the global ConfigMap defaults) set the
   * settings below: the oldest Ingress with a served route or canary split to this balancer (others
   * with different settings get a BalancerSettingsConflict warning).
   */
  readonly settingsFrom: string;
  readonly lbmethod: LbMethod;
  readonly sticky: StickyConfig | null;
  readonly failover: FailoverConfig;
  readonly healthCheck: HealthCheckConfig | null;
  /** `hot-standby`: balancer id ("namespace/service:port") whose endpoints join as standby (H) members; null = none. */
  readonly standby: string | null;
}

/**
 * Server-wide settings of the data plane (the `--configmap` ConfigMap's logging and limits keys),
 * applied live to the running listeners and loggers with each route table.
 */
export interface ServerSettings {
  /** `access-log`: one line per request; null = the `--access-log` flag decides. */
  readonly accessLog: boolean | null;
  /** `log-level`, in the `--log-level` syntax ("debug", "info,proxy=debug"); null = the flag decides. */
  readonly logLevel: string | null;
  /** `client-header-timeout`: time to receive a request's headers (Node server.headersTimeout); never above the request timeout. */
  readonly clientHeaderTimeoutMs: number;
  /** `client-request-timeout`: time to receive a whole request (Node server.requestTimeout); null = disabled. */
  readonly clientRequestTimeoutMs: number | null;
  /** `keep-alive-timeout`: idle time of a client keep-alive connection (Node server.keepAliveTimeout). */
  readonly keepAliveTimeoutMs: number;
  /** `upstream-keep-alive-timeout`: idle time of upstream connections, for pools created from now on (undici keepAliveTimeout). */
  readonly upstreamKeepAliveTimeoutMs: number;
  /** `max-requests-per-connection`: requests per client connection (Node server.maxRequestsPerSocket); 0 = unlimited. */
  readonly maxRequestsPerConnection: number;
  /** `compression-types`: media types (lower-case, "type/*" wildcards) compressed on routes with `compression`; sorted. */
  readonly compressionTypes: ReadonlyArray<string>;
  /** `compression-min-size`: responses with a smaller Content-Length are not compressed. */
  readonly compressionMinSize: number;
  /** `error-page-<status>` keys: HTML bodies by status ("404": "<html>..."), keys sorted; served for a route's `custom-error-pages`. */
  readonly errorPages?: Readonly<Record<string, string>>;
  /** `global-response-headers`: rules applied to every response (after a route's own response-headers); absent = none. */
  readonly globalResponseHeaders?: ReadonlyArray<HeaderRule>;
  /** `client-body-timeout`: longest wait for the next bytes of a request body; exceeded -> 408, closed; null = disabled. */
  readonly clientBodyTimeoutMs: number | null;
  /** `max-connections-per-worker`: open client connections per worker (net.Server maxConnections); over -> closed at once; 0 = unlimited. */
  readonly maxConnectionsPerWorker: number;
  /**
   * The ConfigMap's `custom-error-pages` lists 404: requests no route matches get the error page too
   * (ingress-nginx's default backend). `backend`: the ConfigMap's `custom-error-backend` when it names
   * a namespace ("ns/service:port"), else null (the `error-page-404` page). Absent = off.
   */
  readonly notFoundPage?: { readonly backend: string | null };
}

/** Default `compression-types`: ingress-nginx's gzip-types, plus text/html and the XML/JSON text types; sorted. */
export const defaultCompressionTypes: ReadonlyArray<string> = Object.freeze([
  "application/atom+xml",
  "application/javascript",
  "application/json",
  "application/ld+json",
  "application/manifest+json",
  "application/problem+json",
  "application/rss+xml",
  "application/vnd.ms-fontobject",
  "application/wasm",
  "application/x-javascript",
  "application/x-web-app-manifest+json",
  "application/xhtml+xml",
  "application/xml",
  "font/opentype",
  "font/otf",
  "font/ttf",
  "image/svg+xml",
  "image/x-icon",
  "text/css",
  "text/html",
  "text/javascript",
  "text/markdown",
  "text/plain",
  "text/x-component",
  "text/xml",
]);

/** Built-in server settings (no ConfigMap): the flags decide logging; Node's client timeouts. */
export const defaultServerSettings: ServerSettings = Object.freeze({
  accessLog: null,
  logLevel: null,
  clientHeaderTimeoutMs: 60_000,
  clientRequestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 5_000,
  upstreamKeepAliveTimeoutMs: 4_000,
  maxRequestsPerConnection: 0,
  compressionTypes: defaultCompressionTypes,
  compressionMinSize: 1024,
  clientBodyTimeoutMs: 60_000,
  maxConnectionsPerWorker: 16_384,
});

export interface RouteTable {
  /** Content hash of everything below. */
  readonly version: string;
  /**
   * Server settings that go with this table; the builder always sets them (part of the version, so a
   * change publishes). Absent only in hand-made tables (tests): the data plane then uses its
   * construction options.
   */
  readonly server?: ServerSettings;
  /** Sorted by host. Most specific wins: exact, then wildcard, then "". */
  readonly virtualHosts: ReadonlyArray<VirtualHost>;
  /** TLS termination (certificates by SNI, default certificate, protocols); absent = none (hand-made tables, tests): the default certificate and settings. */
  readonly tls?: TlsTable;
  /** spec.defaultBackend of the oldest accepted Ingress that has one: for requests no virtual host matches. */
  readonly defaultRoute: Route | null;
  /** Sorted by id; every balancer some route refers to. */
  readonly balancers: ReadonlyArray<BalancerConfig>;
}

export interface Member {
  /** Stable identity inside its balancer: "address:port". */
  readonly key: string;
  /** IP address, or a DNS name for ExternalName Services. */
  readonly address: string;
  readonly port: number;
  /**
   * Route id (httpd `route=`), the sticky-session value: the endpoint's targetRef name (pod), else
   * its hostname, else "a" + a stable hash of the key (never ""). Cookie-safe: [a-z0-9.-].
   */
  readonly route: string;
  readonly zone: string | null;
  /** true: ready; false: serving and terminating (drain: sticky requests only, while any ready member exists). */
  readonly ready: boolean;
  /** H: an endpoint of the balancer's `standby` Service, used only while no other member of its lbset is usable. */
  readonly standby: boolean;
  /** lbset tier, walked from 0 up: 0, or 1 for other-zone members when topology hints apply (`--zone`). */
  readonly lbset: number;
}

export interface BalancerMembers {
  readonly balancer: string;
  /** Sorted by key. */
  readonly members: ReadonlyArray<Member>;
}

export interface EndpointTable {
  readonly version: string;
  /** Sorted by balancer id; one entry per balancer in the route table (possibly with no members). */
  readonly balancers: ReadonlyArray<BalancerMembers>;
}

export interface ProxySnapshot {
  /** Hash of routes.version and endpoints.version. */
  readonly version: string;
  readonly routes: RouteTable;
  readonly endpoints: EndpointTable;
}

/**
 * Replaces the member lists of some balancers, like an xDS EDS delta: every balancer not named keeps
 * its members. `version` is the endpoint table version after the delta (equal to what a full build
 * of the same cluster gives).
 */
export interface EndpointDelta {
  readonly version: string;
  /** Sorted by balancer id; each names a balancer of the current route table. */
  readonly balancers: ReadonlyArray<BalancerMembers>;
}

/** Where control publishes snapshots: the data plane (all workers), or a test double. */
export interface SnapshotSink {
  /** Apply a new route table (and the endpoints that go with it). Resolves once every worker runs it. */
  applyRoutes(routes: RouteTable, endpoints: EndpointTable): Promise<void>;
  /** Apply new endpoints only; the route table stays as it is. Resolves once every worker runs it. */
  applyEndpoints(endpoints: EndpointTable): Promise<void>;
  /** Replace the members of the named balancers only. Resolves once every worker runs it. */
  applyEndpointDelta(delta: EndpointDelta): Promise<void>;
}

/** The settings part of a BalancerConfig (what Ingress annotations and the global ConfigMap decide). */
export type BalancerSettings = Pick<BalancerConfig, "settingsFrom" | "lbmethod" | "sticky" | "failover" | "healthCheck" | "standby" | "protocol" | "tls" | "ajp">;

export const defaultFailover: FailoverConfig = Object.freeze({ maxAttempts: null, retryMs: 60_000, failOnStatus: Object.freeze([]) as ReadonlyArray<number>, failOnTimeout: false });

/** httpd's defaults: byrequests, no stickiness, maxattempts = members - 1, retry 60 s, no checks, no standby ("" = set by no Ingress: tests and placeholders). */
export const defaultBalancerSettings: BalancerSettings = Object.freeze({
  settingsFrom: "",
  lbmethod: "byrequests",
  sticky: null,
  failover: defaultFailover,
  healthCheck: null,
  standby: null,
  protocol: "http",
  tls: null,
  ajp: null,
});
