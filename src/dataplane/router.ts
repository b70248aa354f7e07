// Snapshot -> runtime router. Host lookup: exact Map, then wildcard Map keyed by the parent domain
// (a "*.example.com" vhost matches exactly one more label), then the catch-all vhost "". The most
// specific vhost wins and there is no fallthrough between vhosts. Inside a vhost: Exact paths by
// Map lookup, then Prefix candidates by trimming the path at "/" boundaries (one Map lookup each),
// so the cost is O(path segments), independent of the number of Ingresses. Then the vhost's
// fallback, then the table's defaultRoute, else no route (404).

import { defaultBalancerSettings, defaultServerSettings, type CanaryConfig, type HeaderRule, type HstsSettings, type RateLimit, type Route, type RouteTable, type VirtualHost } from "../model/index.js";
import { CompiledAuth } from "./auth.js";
import type { Balancer, BalancerRegistry } from "./balancer/index.js";
import { CompressionPolicy } from "./compress.js";
import { ErrorPages } from "./error-pages.js";
import { HeaderRules } from "./headers.js";
import { PathMapping, ReverseMap } from "./mapping.js";
import { CompiledAccess, LimiterRegistry, type IngressLimiter } from "./perimeter.js";
import { RouteStatsRegistry, type RouteStats } from "./stats/index.js";

/** A canary split compiled for the hot path (`Route.canary`). */
export class CompiledCanary {
  /** "namespace/name" of the canary Ingress. */
  readonly ingress: string;
  readonly balancer: Balancer;
  /** 0-100: share of requests without an override, split byrequests-smooth on the canary balancer. */
  readonly weight: number;
  /** Lower-case header name whose value "always"/"never" forces the side; null = none. */
  readonly byHeader: string | null;
  /** Cookie name whose value "always"/"never" forces the side; null = none. */
  readonly byCookie: string | null;
  /** Request counters of the canary side (its Ingress and balancer). */
  readonly stats: RouteStats;

  constructor(canary: CanaryConfig, balancer: Balancer, stats: RouteStats) {
    this.ingress = canary.ingress;
    this.balancer = balancer;
    this.weight = canary.weight;
    this.byHeader = canary.byHeader;
    this.byCookie = canary.byCookie;
    this.stats = stats;
  }
}

/** A route compiled for the hot path; every field assigned in the constructor, `null` when absent. */
export class CompiledRoute {
  readonly path: string;
  readonly pathType: "Exact" | "Prefix";
  readonly ingress: string;
  readonly balancer: Balancer;
  /** undici connect timeout; 0 = disabled. */
  readonly connectMs: number;
  /** undici headersTimeout and bodyTimeout; 0 = disabled. */
  readonly readMs: number;
  /** Host sent upstream instead of the client's; null = preserve the client's Host. */
  readonly upstreamHost: string | null;
  readonly requestRules: HeaderRules | null;
  readonly responseRules: HeaderRules | null;
  /** Canary split, or null. */
  readonly canary: CompiledCanary | null;
  /** Request counters of this route's Ingress and balancer, kept across snapshots by that identity. */
  readonly stats: RouteStats;
  /** `websocket-idle-timeout`: an upgraded tunnel without bytes either way for this long is closed; null = never. */
  readonly websocketIdleMs: number | null;
  /** `rewrite-target`: the request path mapped to the member's, and X-Forwarded-Prefix; null = sent as is. */
  readonly mapping: PathMapping | null;
  /** `proxy-pass-reverse`: response headers mapped back to the public URL; null = off. */
  readonly reverse: ReverseMap | null;
  /** `app-root`: "/" is redirected (302) here; null = none. */
  readonly appRoot: string | null;
  /** `allow-connect`: ports a CONNECT to this route's host may name; null = CONNECT refused. */
  readonly connectPorts: ReadonlyArray<number> | null;
  /** `compression`: the table's compression settings; null = off. */
  readonly compression: CompressionPolicy | null;
  /** `auth-*`: basic and/or external authentication; null = none. */
  readonly auth: CompiledAuth | null;
  /** `custom-error-pages` (+ `custom-error-backend`): statuses answered with an error page; null = none. */
  readonly errorPages: ErrorPages | null;
  /** `ssl-redirect`/`force-ssl-redirect`: plain-HTTP requests get 308 to https; the port suffix of the Location (":8443", "" for 443); null = served over HTTP. */
  readonly sslRedirect: string | null;
  /** `Strict-Transport-Security` value added to responses over TLS (the host has TLS, ConfigMap `hsts` on); null = none. */
  readonly hsts: string | null;

  /** `max-body-size` in bytes; null = unlimited. */
  readonly maxBodyBytes: number | null;
  /** `allow-cidrs` / `deny-cidrs` on the client address; null = everyone. */
  readonly access: CompiledAccess | null;
  /** `limit-rps` / `limit-burst`; null = none. */
  readonly rateLimit: RateLimit | null;
  /** `limit-connections`; null = none. */
  readonly limitConnections: number | null;
  /** This Ingress's limits state in this worker (kept across snapshots); null when no limit is set. */
  readonly limiter: IngressLimiter | null;

  constructor(
    route: Route,
    balancer: Balancer,
    canary: CompiledCanary | null,
    stats: RouteStats,
    compression: CompressionPolicy | null = null,
    limiter: IngressLimiter | null = null,
    pages: ReadonlyMap<number, Buffer> | null = null,
    errorBackendOf: ((id: string) => Balancer) | null = null,
    site: SiteSecurity = noSiteSecurity,
  ) {
    this.path = route.path;
    this.pathType = route.pathType;
    this.ingress = route.ingress;
    this.balancer = balancer;
    this.connectMs = route.options.timeouts.connectMs ?? 0;
    this.readMs = route.options.timeouts.readMs ?? 0;
    this.upstreamHost = route.options.upstreamVhost ?? (route.options.preserveHost ? null : balancer.config.hostHeader);
    this.requestRules = HeaderRules.compile(route.options.requestHeaders);
    // ConfigMap global-response-headers apply after the route's own rules, to every route.
    this.responseRules = HeaderRules.compile(site.responseHeaders.length === 0 ? route.options.responseHeaders : [...route.options.responseHeaders, ...site.responseHeaders]);
    this.canary = canary;
    this.stats = stats;
    this.websocketIdleMs = route.options.websocketIdleMs ?? null;
    const o = route.options;
    this.mapping = o.rewriteTarget == null ? null : new PathMapping(route.path, route.pathType === "Exact", o.rewriteTarget);
    this.reverse = o.proxyPassReverse === true ? new ReverseMap(this.mapping) : null;
    this.appRoot = o.appRoot ?? null;
    this.connectPorts = route.options.connectPorts ?? null;
    this.compression = o.compression === true ? (compression ?? CompressionPolicy.from(defaultServerSettings)) : null;
    this.auth = CompiledAuth.compile(route.options.auth);
    this.errorPages = ErrorPages.compile(o, route.ingress, pages, errorBackendOf);
    const redirect = o.forceSslRedirect === true || (o.sslRedirect !== false && site.hasTls);
    this.sslRedirect = redirect ? site.redirectPortSuffix : null;
    this.hsts = site.hasTls ? site.hsts : null;
    this.maxBodyBytes = o.maxBodyBytes ?? null;
    this.access = o.allowCidrs == null && o.denyCidrs == null ? null : CompiledAccess.compile(o);
    this.rateLimit = o.rateLimit ?? null;
    this.limitConnections = o.limitConnections ?? null;
    this.limiter = limiter;
  }
}

/** What a virtual host's routes need to know about TLS and the server's response headers. */
export interface SiteSecurity {
  /** The host is listed in some Ingress's spec.tls (exactly, or under a wildcard entry). */
  readonly hasTls: boolean;
  /** ":PORT" of the https redirect, "" for 443. */
  readonly redirectPortSuffix: string;
  /** Strict-Transport-Security value, null when HSTS is off. */
  readonly hsts: string | null;
  /** ConfigMap `global-response-headers`. */
  readonly responseHeaders: ReadonlyArray<HeaderRule>;
}

const noSiteSecurity: SiteSecurity = Object.freeze({ hasTls: false, redirectPortSuffix: "", hsts: null, responseHeaders: Object.freeze([]) });

/** The Strict-Transport-Security value of the HSTS settings, or null when off (RFC 6797 §6.1). */
export function hstsValue(h: HstsSettings): string | null {
  if (!h.enabled) return null;
  return `max-age=${h.maxAge}${h.includeSubdomains ? "; includeSubDomains" : ""}${h.preload ? "; preload" : ""}`;
}

/** True when a TLS host entry covers the vhost: the same name, or a one-label wildcard over an exact name. */
export function tlsCovers(tlsHosts: ReadonlySet<string>, vhost: string): boolean {
  if (vhost === "") return false;
  if (tlsHosts.has(vhost)) return true;
  if (vhost.startsWith("*.")) return false;
  const dot = vhost.indexOf(".");
  return dot > 0 && tlsHosts.has(`*${vhost.slice(dot)}`);
}

export class VirtualHostMatcher {
  readonly host: string;
  readonly #exact: Map<string, CompiledRoute>;
  readonly #prefix: Map<string, CompiledRoute>;
  readonly #root: CompiledRoute | null;
  readonly fallback: CompiledRoute | null;

  constructor(host: string, exact: Map<string, CompiledRoute>, prefix: Map<string, CompiledRoute>, fallback: CompiledRoute | null) {
    this.host = host;
    this.#exact = exact;
    this.#prefix = prefix;
    this.#root = prefix.get("/") ?? null;
    this.fallback = fallback;
  }

  /** `path` without query string. */
  match(path: string): CompiledRoute | null {
    const exact = this.#exact.get(path);
    if (exact !== undefined) return exact;
    if (this.#prefix.size === 0) return null;
    // Longest element-wise prefix: the path itself (minus one trailing "/"), then each shorter
    // "/"-bounded prefix, then the root.
    let end = path.length;
    if (end > 1 && path.charCodeAt(end - 1) === 47 /* / */) end--;
    while (end > 0) {
      const candidate = this.#prefix.get(end === path.length ? path : path.slice(0, end));
      if (candidate !== undefined) return candidate;
      end = path.lastIndexOf("/", end - 1);
    }
    return this.#root;
  }
}

export class Router {
  readonly version: string;
  readonly #exact: Map<string, VirtualHostMatcher>;
  readonly #wildcard: Map<string, VirtualHostMatcher>;
  readonly #any: VirtualHostMatcher | null;
  readonly defaultRoute: CompiledRoute | null;
  /** ConfigMap `global-response-headers`, for the responses the proxy generates itself (errors, redirects); null = none. */
  readonly globalResponseRules: HeaderRules | null;
  /** The ConfigMap's `custom-error-pages` with 404: the error page of requests no route matches; null = off. */
  readonly notFoundPages: ErrorPages | null;

  constructor(
    version: string,
    exact: Map<string, VirtualHostMatcher>,
    wildcard: Map<string, VirtualHostMatcher>,
    any: VirtualHostMatcher | null,
    defaultRoute: CompiledRoute | null,
    globalResponseRules: HeaderRules | null = null,
    notFoundPages: ErrorPages | null = null,
  ) {
    this.version = version;
    this.globalResponseRules = globalResponseRules;
    this.notFoundPages = notFoundPages;
    this.#exact = exact;
    this.#wildcard = wildcard;
    this.#any = any;
    this.defaultRoute = defaultRoute;
  }

  /** The most specific virtual host for a normalised host, or null. */
  findHost(host: string): VirtualHostMatcher | null {
    const exact = this.#exact.get(host);
    if (exact !== undefined) return exact;
    if (this.#wildcard.size !== 0) {
      const dot = host.indexOf(".");
      if (dot > 0) {
        const wild = this.#wildcard.get(host.slice(dot + 1));
        if (wild !== undefined) return wild;
      }
    }
    return this.#any;
  }

  /** True when an exact or wildcard vhost serves `host` (the catch-all does not count). */
  servesHost(host: string): boolean {
    const vh = this.findHost(host);
    return vh !== null && vh !== this.#any;
  }

  /** Route for a normalised host and a path without query; null = 404. */
  route(host: string, path: string): CompiledRoute | null {
    const vh = this.findHost(host);
    if (vh !== null) {
      const r = vh.match(path);
      if (r !== null) return r;
      if (vh.fallback !== null) return vh.fallback;
    }
    return this.defaultRoute;
  }
}

function compileHost(vh: VirtualHost, compile: (r: Route, site: SiteSecurity) => CompiledRoute, site: SiteSecurity): VirtualHostMatcher {
  const exact = new Map<string, CompiledRoute>();
  const prefix = new Map<string, CompiledRoute>();
  // Routes come sorted (longest first, Exact before Prefix); the first of equal key wins.
  for (const r of vh.routes) {
    const map = r.pathType === "Exact" ? exact : prefix;
    if (!map.has(r.path)) map.set(r.path, compile(r, site));
  }
  // app-root (ingress-nginx: `if ($uri = /) { return 302 ... }` in the server block): "/" goes to a
  // route that redirects, unless an Exact "/" rule exists; the first such route in match order.
  if (!exact.has("/")) {
    const rooted = vh.routes.find((r) => r.options.appRoot != null) ?? (vh.fallback !== null && vh.fallback.options.appRoot != null ? vh.fallback : undefined);
    if (rooted !== undefined) exact.set("/", compile(rooted, site));
  }
  return new VirtualHostMatcher(vh.host, exact, prefix, vh.fallback === null ? null : compile(vh.fallback, site));
}

/**
 * Compiles a route table. Balancers come from `registry`, which keeps them (and their members,
 * pools and scoreboard slots) across snapshots; call `registry.prune(table)` once the result is live.
 * Request counters come from `stats` by (Ingress, balancer); call `stats.prune()` once the result is live.
 */
export function compileRoutes(table: RouteTable, registry: BalancerRegistry, stats: RouteStatsRegistry = new RouteStatsRegistry(), limiters: LimiterRegistry = new LimiterRegistry()): Router {
  const configs = new Map(table.balancers.map((b) => [b.id, b] as const));
  const balancerOf = (id: string): Balancer => {
    const config = configs.get(id);
    return config !== undefined ? registry.ensure(config) : registry.ensure({ id, service: "", hostHeader: "", ...defaultBalancerSettings });
  };
  const compression = CompressionPolicy.from(table.server ?? defaultServerSettings);
  const pages = ErrorPages.pagesOf(table.server?.errorPages);
  const compile = (r: Route, site: SiteSecurity): CompiledRoute => {
    const canary = r.canary === null ? null : new CompiledCanary(r.canary, balancerOf(r.canary.balancer), stats.forRoute(r.canary.ingress, r.canary.balancer));
    return new CompiledRoute(r, balancerOf(r.balancer), canary, stats.forRoute(r.ingress, r.balancer), compression, limiters.forRoute(r.ingress, r.options), pages, balancerOf, site);
  };
  const tlsHosts = new Set((table.tls?.hosts ?? []).map((h) => h.host));
  const port = table.tls?.settings.redirectPort ?? 443;
  const globalHeaders = table.server?.globalResponseHeaders ?? [];
  const plain: SiteSecurity = { hasTls: false, redirectPortSuffix: port === 443 ? "" : `:${port}`, hsts: table.tls === undefined ? null : hstsValue(table.tls.settings.hsts), responseHeaders: globalHeaders };
  const secured: SiteSecurity = { ...plain, hasTls: true };
  const siteOf = (host: string): SiteSecurity => (tlsCovers(tlsHosts, host) ? secured : plain);
  const exact = new Map<string, VirtualHostMatcher>();
  const wildcard = new Map<string, VirtualHostMatcher>();
  let any: VirtualHostMatcher | null = null;
  for (const vh of table.virtualHosts) {
    const host = vh.host.toLowerCase();
    if (host === "") any ??= compileHost(vh, compile, plain);
    else if (host.startsWith("*.")) {
      const parent = host.slice(2);
      if (!wildcard.has(parent)) wildcard.set(parent, compileHost(vh, compile, siteOf(host)));
    } else if (!exact.has(host)) exact.set(host, compileHost(vh, compile, siteOf(host)));
  }
  // Balancers referenced by no route still exist in the registry (endpoints may name them).
  for (const b of table.balancers) registry.ensure(b);
  return new Router(table.version, exact, wildcard, any, table.defaultRoute === null ? null : compile(table.defaultRoute, plain), HeaderRules.compile(globalHeaders), notFoundPagesOf(table, pages, balancerOf));
}

/** ServerSettings.notFoundPage: status 404 with the ConfigMap's page and error backend (no Ingress: X-Namespace and X-Ingress-Name are empty). */
function notFoundPagesOf(table: RouteTable, pages: ReadonlyMap<number, Buffer>, balancerOf: (id: string) => Balancer): ErrorPages | null {
  const page = table.server?.notFoundPage;
  if (page === undefined) return null;
  return new ErrorPages([404], pages, page.backend === null ? null : balancerOf(page.backend), "/");
}
