// Canonical JSON of the snapshot tables, written field by field: byte-identical to
// `canonicalJson` (keys sorted) for the model types, without JSON.stringify's replacer (which is
// called for every value and copies every object) — the bulk of a full rebuild's hashing cost. The
// key lists are checked against the model types at compile time, and test/build/snapshot-json.test.ts
// checks the text equals canonicalJson, so a field added to the model must be added here.
import type {
  AjpBackendConfig,
  AuthConfig,
  BackendTlsConfig,
  BalancerConfig,
  BalancerMembers,
  CanaryConfig,
  FailoverConfig,
  HeaderRule,
  HealthCheckConfig,
  Member,
  Route,
  RouteOptions,
  RouteTable,
  ServerSettings,
  StickyConfig,
  Timeouts,
  VirtualHost,
} from "../model/index.js";

/** Compile-time check that `K` (the keys written, sorted) are exactly the keys of `T`. */
type Exactly<T, K extends ReadonlyArray<keyof T>> = [Exclude<keyof T, K[number]>] extends [never] ? K : never;
const keys = <T>() => <const K extends ReadonlyArray<keyof T>>(k: Exactly<T, K>): K => k;
// Sorted key lists (referenced so a model change fails the typecheck here).
export const canonicalKeys = {
  routeTable: keys<Omit<RouteTable, "version">>()(["balancers", "defaultRoute", "server", "tls", "virtualHosts"]),
  server: keys<ServerSettings>()([
    "accessLog",
    "clientBodyTimeoutMs",
    "clientHeaderTimeoutMs",
    "clientRequestTimeoutMs",
    "compressionMinSize",
    "compressionTypes",
    "errorPages",
    "globalResponseHeaders",
    "keepAliveTimeoutMs",
    "logLevel",
    "maxConnectionsPerWorker",
    "maxRequestsPerConnection",
    "notFoundPage",
    "upstreamKeepAliveTimeoutMs",
  ]),
  route: keys<Route>()(["balancer", "canary", "ingress", "options", "path", "pathType"]),
  canary: keys<CanaryConfig>()(["balancer", "byCookie", "byHeader", "ingress", "weight"]),
  options: keys<RouteOptions>()([
    "allowCidrs",
    "appRoot",
    "auth",
    "compression",
    "connectPorts",
    "customErrorBackend",
    "customErrorPages",
    "denyCidrs",
    "forceSslRedirect",
    "limitConnections",
    "maxBodyBytes",
    "preserveHost",
    "proxyPassReverse",
    "rateLimit",
    "requestHeaders",
    "responseHeaders",
    "rewriteTarget",
    "sslRedirect",
    "timeouts",
    "upstreamVhost",
    "websocketIdleMs",
  ]),
  timeouts: keys<Timeouts>()(["connectMs", "readMs"]),
  auth: keys<AuthConfig>()(["basic", "external"]),
  header: keys<HeaderRule>()(["name", "op", "value"]),
  virtualHost: keys<VirtualHost>()(["fallback", "host", "routes"]),
  balancer: keys<BalancerConfig>()(["ajp", "failover", "healthCheck", "hostHeader", "id", "lbmethod", "protocol", "service", "settingsFrom", "standby", "sticky", "tls"]),
  tls: keys<BackendTlsConfig>()(["ca", "failClosed", "servername", "verify"]),
  ajp: keys<AjpBackendConfig>()(["failClosed", "packetSize", "pingMs", "secret"]),
  sticky: keys<StickyConfig>()(["cookie", "noFailover", "param"]),
  failover: keys<FailoverConfig>()(["failOnStatus", "failOnTimeout", "maxAttempts", "retryMs"]),
  healthCheck: keys<HealthCheckConfig>()(["expect", "fails", "intervalMs", "method", "passes", "uri"]),
  member: keys<Member>()(["address", "key", "lbset", "port", "ready", "route", "standby", "zone"]),
  balancerMembers: keys<BalancerMembers>()(["balancer", "members"]),
} as const;

const str = JSON.stringify as (value: string | number | boolean | null) => string;

function headersJson(rules: ReadonlyArray<HeaderRule>): string {
  let out = "[";
  for (let i = 0; i < rules.length; i++) {
    const h = rules[i] as HeaderRule;
    if (i > 0) out += ",";
    out += `{"name":${str(h.name)},"op":${str(h.op)},"value":${str(h.value)}}`;
  }
  return `${out}]`;
}

function authJson(a: AuthConfig): string {
  const b = a.basic;
  const e = a.external;
  let basic = "null";
  if (b !== null) {
    let users = "null";
    if (b.htpasswd !== null) {
      users = "[";
      for (let i = 0; i < b.htpasswd.length; i++) {
        const u = b.htpasswd[i];
        if (u === undefined) continue;
        if (i > 0) users += ",";
        users += `{"hash":${str(u.hash)},"user":${str(u.user)}}`;
      }
      users += "]";
    }
    basic = `{"htpasswd":${users},"realm":${str(b.realm)}}`;
  }
  const external = e === null ? "null" : `{"responseHeaders":${JSON.stringify(e.responseHeaders)},"timeoutMs":${str(e.timeoutMs)},"url":${str(e.url)}}`;
  return `{"basic":${basic},"external":${external}}`;
}

function stringsJson(list: ReadonlyArray<string> | null): string {
  if (list === null) return "null";
  let out = "[";
  for (let i = 0; i < list.length; i++) out += (i > 0 ? "," : "") + str(list[i] as string);
  return `${out}]`;
}

/** `auth`, `forceSslRedirect` and `sslRedirect` are written only when set (as the builder sets them). */
function optionsJson(o: RouteOptions): string {
  return (
    `{"allowCidrs":${stringsJson(o.allowCidrs)},"appRoot":${str(o.appRoot)},${o.auth !== undefined && o.auth !== null ? `"auth":${authJson(o.auth)},` : ""}"compression":${str(o.compression)},"connectPorts":${o.connectPorts === null ? "null" : `[${o.connectPorts.join(",")}]`},${o.customErrorBackend !== undefined ? `"customErrorBackend":${str(o.customErrorBackend)},` : ""}${o.customErrorPages !== undefined ? `"customErrorPages":[${o.customErrorPages.join(",")}],` : ""}"denyCidrs":${stringsJson(o.denyCidrs)},${o.forceSslRedirect !== undefined ? `"forceSslRedirect":${str(o.forceSslRedirect)},` : ""}` +
    `"limitConnections":${str(o.limitConnections)},"maxBodyBytes":${str(o.maxBodyBytes)},"preserveHost":${str(o.preserveHost)},"proxyPassReverse":${str(o.proxyPassReverse)},` +
    `"rateLimit":${o.rateLimit === null ? "null" : `{"burst":${str(o.rateLimit.burst)},"rps":${str(o.rateLimit.rps)}}`},` +
    `"requestHeaders":${headersJson(o.requestHeaders)},"responseHeaders":${headersJson(o.responseHeaders)},"rewriteTarget":${str(o.rewriteTarget)},${o.sslRedirect !== undefined ? `"sslRedirect":${str(o.sslRedirect)},` : ""}` +
    `"timeouts":{"connectMs":${str(o.timeouts.connectMs)},"readMs":${str(o.timeouts.readMs)}},"upstreamVhost":${str(o.upstreamVhost)},"websocketIdleMs":${str(o.websocketIdleMs)}}`
  );
}

/**
 * Writes routes; options objects are shared by the routes of Ingresses with equal annotations, so
 * their text is kept per object for the life of one writer (one table), never across builds.
 */
export class RouteJsonWriter {
  readonly #options = new Map<RouteOptions, string>();

  route(r: Route | null): string {
    if (r === null) return "null";
    let options = this.#options.get(r.options);
    if (options === undefined) {
      options = optionsJson(r.options);
      this.#options.set(r.options, options);
    }
    return `{"balancer":${str(r.balancer)},"canary":${canaryJson(r.canary)},"ingress":${str(r.ingress)},"options":${options},"path":${str(r.path)},"pathType":${str(r.pathType)}}`;
  }

  virtualHost(vh: VirtualHost): string {
    let out = `{"fallback":${this.route(vh.fallback)},"host":${str(vh.host)},"routes":[`;
    for (let i = 0; i < vh.routes.length; i++) {
      if (i > 0) out += ",";
      out += this.route(vh.routes[i] as Route);
    }
    return `${out}]}`;
  }
}

function canaryJson(c: CanaryConfig | null): string {
  if (c === null) return "null";
  return `{"balancer":${str(c.balancer)},"byCookie":${str(c.byCookie)},"byHeader":${str(c.byHeader)},"ingress":${str(c.ingress)},"weight":${str(c.weight)}}`;
}

function numbersJson(list: ReadonlyArray<number>): string {
  let out = "[";
  for (let i = 0; i < list.length; i++) out += i > 0 ? `,${str(list[i] as number)}` : str(list[i] as number);
  return `${out}]`;
}

function stickyJson(s: StickyConfig | null): string {
  if (s === null) return "null";
  return `{"cookie":${str(s.cookie)},"noFailover":${str(s.noFailover)},"param":${str(s.param)}}`;
}

function failoverJson(f: FailoverConfig): string {
  return `{"failOnStatus":${numbersJson(f.failOnStatus)},"failOnTimeout":${str(f.failOnTimeout)},"maxAttempts":${str(f.maxAttempts)},"retryMs":${str(f.retryMs)}}`;
}

function healthCheckJson(h: HealthCheckConfig | null): string {
  if (h === null) return "null";
  let expect = "[";
  for (let i = 0; i < h.expect.length; i++) {
    const range = h.expect[i] as readonly [number, number];
    expect += `${i > 0 ? "," : ""}[${str(range[0])},${str(range[1])}]`;
  }
  return `{"expect":${expect}],"fails":${str(h.fails)},"intervalMs":${str(h.intervalMs)},"method":${str(h.method)},"passes":${str(h.passes)},"uri":${str(h.uri)}}`;
}

function tlsJson(t: BackendTlsConfig | null): string {
  if (t === null) return "null";
  return `{"ca":${str(t.ca)},"failClosed":${str(t.failClosed)},"servername":${str(t.servername)},"verify":${str(t.verify)}}`;
}

function ajpJson(a: AjpBackendConfig | null): string {
  if (a === null) return "null";
  return `{"failClosed":${str(a.failClosed)},"packetSize":${str(a.packetSize)},"pingMs":${str(a.pingMs)},"secret":${str(a.secret)}}`;
}

export function balancerConfigJson(b: BalancerConfig): string {
  return (
    `{"ajp":${ajpJson(b.ajp)},"failover":${failoverJson(b.failover)},"healthCheck":${healthCheckJson(b.healthCheck)},"hostHeader":${str(b.hostHeader)},"id":${str(b.id)},` +
    `"lbmethod":${str(b.lbmethod)},"protocol":${str(b.protocol)},"service":${str(b.service)},"settingsFrom":${str(b.settingsFrom)},"standby":${str(b.standby)},"sticky":${stickyJson(b.sticky)},"tls":${tlsJson(b.tls)}}`
  );
}

/** canonicalJson(server settings), written directly. */
export function serverSettingsJson(s: ServerSettings): string {
  return (
    `{"accessLog":${str(s.accessLog)},"clientBodyTimeoutMs":${str(s.clientBodyTimeoutMs)},"clientHeaderTimeoutMs":${str(s.clientHeaderTimeoutMs)},"clientRequestTimeoutMs":${str(s.clientRequestTimeoutMs)},` +
    `"compressionMinSize":${str(s.compressionMinSize)},"compressionTypes":[${s.compressionTypes.map(str).join(",")}],` +
    (s.errorPages !== undefined ? `"errorPages":{${Object.keys(s.errorPages).map((k) => `${str(k)}:${str(s.errorPages?.[k] as string)}`).join(",")}},` : "") +
    (s.globalResponseHeaders !== undefined ? `"globalResponseHeaders":${headersJson(s.globalResponseHeaders)},` : "") +
    `"keepAliveTimeoutMs":${str(s.keepAliveTimeoutMs)},"logLevel":${str(s.logLevel)},"maxConnectionsPerWorker":${str(s.maxConnectionsPerWorker)},"maxRequestsPerConnection":${str(s.maxRequestsPerConnection)},` +
    (s.notFoundPage !== undefined ? `"notFoundPage":{"backend":${str(s.notFoundPage.backend)}},` : "") +
    `"upstreamKeepAliveTimeoutMs":${str(s.upstreamKeepAliveTimeoutMs)}}`
  );
}

function memberJson(m: Member): string {
  return `{"address":${str(m.address)},"key":${str(m.key)},"lbset":${str(m.lbset)},"port":${str(m.port)},"ready":${str(m.ready)},"route":${str(m.route)},"standby":${str(m.standby)},"zone":${str(m.zone)}}`;
}

/** canonicalJson(members), written directly. */
export function balancerMembersJson(b: BalancerMembers): string {
  let out = `{"balancer":${str(b.balancer)},"members":[`;
  for (let i = 0; i < b.members.length; i++) {
    if (i > 0) out += ",";
    out += memberJson(b.members[i] as Member);
  }
  return `${out}]}`;
}
