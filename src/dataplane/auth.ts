// Authentication on the request path (the `auth-*` annotations): basic auth against the route's
// htpasswd entries, and external auth by a subrequest to `auth-url`. Only routes with
// `CompiledRoute.auth !== null` come here; the others pay one null check.
//
// Basic: `Authorization: Basic base64(user:password)`. Hashes are checked with well-kept code:
// bcrypt with bcryptjs's asynchronous compare (bcrypt is slow by design: it runs in slices between
// other events, never blocking the event loop for a whole check), $apr1$ with apache-md5, {SHA}
// with node:crypto; every comparison of hash bytes is constant-time. A successful bcrypt or apr1
// check is remembered for 60 s in a bounded per-worker cache (4096 entries, oldest evicted) keyed
// by an HMAC of (stored hash, user, password) under a random per-process key, so a browser's
// repeated requests cost one hash check a minute, the cache holds nothing that reveals a password,
// and a changed htpasswd line (a new hash) never matches an old entry. Failures are never cached.
// Missing or malformed credentials, an unknown user and a wrong password all get the same 401
// with `WWW-Authenticate: Basic realm="..."`. A route whose Secret is missing or invalid answers
// 503 (fail closed). The client's Authorization header is forwarded upstream (as httpd and nginx
// do); `request-headers: unset Authorization` removes it.
//
// External: a GET to `auth-url` through an undici Pool per auth origin (at most 64 connections,
// keep-alive), bounded by `auth-timeout` as a whole (queueing, connect, response headers), with
// X-Original-URL, X-Original-Method, X-Auth-Request-Redirect, X-Forwarded-*, X-Real-IP,
// X-Request-Id and the client's Authorization and Cookie (no other client header, no body). 2xx
// admits and sets the `auth-response-headers` on the upstream request (the client's own lines of
// those names are removed first: a client cannot forge them); 401 and 403 are answered to the
// client with the auth service's WWW-Authenticate and Location; any other status, a connect
// failure or the timeout is 503 — never fail open.
import apacheMd5 from "apache-md5";
import bcrypt from "bcryptjs";
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { Pool, type Dispatcher } from "undici";
import type { AuthConfig, RouteTable } from "../model/index.js";
import type { Logger } from "../util/index.js";

/** Outcome counters (proxypass_auth_requests_total), indexed by AUTH_* below. */
export const AUTH_BASIC_ALLOWED = 0;
export const AUTH_BASIC_DENIED = 1;
export const AUTH_BASIC_MISCONFIGURED = 2;
export const AUTH_EXTERNAL_ALLOWED = 3;
export const AUTH_EXTERNAL_DENIED = 4;
export const AUTH_EXTERNAL_FAILED = 5;
export const AUTH_OUTCOMES: ReadonlyArray<{ readonly type: string; readonly outcome: string }> = [
  { type: "basic", outcome: "allowed" },
  { type: "basic", outcome: "denied" },
  { type: "basic", outcome: "misconfigured" },
  { type: "external", outcome: "allowed" },
  { type: "external", outcome: "denied" },
  { type: "external", outcome: "failed" },
];

const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 4096;
const AUTH_POOL_CONNECTIONS = 64;

/** Basic auth compiled for the hot path: users by name, the challenge header value. */
export class CompiledBasicAuth {
  /** User -> stored hash; null = the Secret is missing or invalid (503). */
  readonly users: ReadonlyMap<string, string> | null;
  /** `Basic realm="..."`, the realm quoted and escaped. */
  readonly challenge: string;

  constructor(realm: string, htpasswd: ReadonlyArray<{ readonly user: string; readonly hash: string }> | null) {
    this.users = htpasswd === null ? null : new Map(htpasswd.map((e) => [e.user, e.hash] as const));
    this.challenge = `Basic realm="${realm.replace(/["\\]/g, "\\$&")}", charset="UTF-8"`;
  }
}

export class CompiledExternalAuth {
  /** Pool key: "scheme://host:port". */
  readonly origin: string;
  /** Path and query of the auth URL. */
  readonly path: string;
  readonly responseHeaders: ReadonlyArray<string>;
  readonly timeoutMs: number;

  constructor(url: string, responseHeaders: ReadonlyArray<string>, timeoutMs: number) {
    const u = new URL(url);
    this.origin = u.origin;
    this.path = `${u.pathname}${u.search}`;
    this.responseHeaders = responseHeaders;
    this.timeoutMs = timeoutMs;
  }
}

/** A route's authentication; null on routes without any. */
export class CompiledAuth {
  readonly basic: CompiledBasicAuth | null;
  readonly external: CompiledExternalAuth | null;

  constructor(config: AuthConfig) {
    this.basic = config.basic === null ? null : new CompiledBasicAuth(config.basic.realm, config.basic.htpasswd);
    this.external = config.external === null ? null : new CompiledExternalAuth(config.external.url, config.external.responseHeaders, config.external.timeoutMs);
  }

  static compile(config: AuthConfig | null | undefined): CompiledAuth | null {
    return config === null || config === undefined || (config.basic === null && config.external === null) ? null : new CompiledAuth(config);
  }
}

/** What the request path needs to know of a request to authenticate it. */
export interface AuthRequest {
  readonly method: string;
  /** Origin-form path with query. */
  readonly path: string;
  /** The Host as the client sent it. */
  readonly hostValue: string;
  readonly proto: string;
  readonly port: string;
  readonly remote: string;
  /** X-Forwarded-For lines the client sent, joined; null = none. */
  readonly forwardedFor: string | null;
  /** The forwarded request headers (lower-case names, flat); the Authorization and Cookie lines are read from them. */
  readonly headers: ReadonlyArray<string>;
  readonly requestId: string;
}

/** The verdict: `status` 0 admits (with `upstream` headers to set, names in `replace`), else the answer to send. */
export interface AuthVerdict {
  readonly status: 0 | 401 | 403 | 503;
  /** Headers for the client's answer (WWW-Authenticate, Location); null = none. */
  readonly client: ReadonlyArray<string> | null;
  /** Headers to set on the upstream request (name, value, ...); null = none. */
  readonly upstream: ReadonlyArray<string> | null;
  /** Lower-case names whose client lines are removed before `upstream` is added; null = none. */
  readonly replace: ReadonlyArray<string> | null;
}

const ALLOW: AuthVerdict = Object.freeze({ status: 0, client: null, upstream: null, replace: null });
const UNAVAILABLE: AuthVerdict = Object.freeze({ status: 503, client: null, upstream: null, replace: null });

function noop(): void {}

/** The value of the first `name` line in flat headers, or null. */
function headerValue(headers: ReadonlyArray<string>, name: string): string | null {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1] ?? "";
  return null;
}

/** Every `name` line's value in flat headers, joined by `sep`; null = none. */
function joinedHeader(headers: ReadonlyArray<string>, name: string, sep: string): string | null {
  let out: string | null = null;
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) out = out === null ? (headers[i + 1] ?? "") : `${out}${sep}${headers[i + 1] ?? ""}`;
  return out;
}

/** `user` and `password` from `Basic <base64>`; null when malformed. */
export function basicCredentials(value: string | null): { user: string; password: string } | null {
  if (value === null) return null;
  const v = value.trim();
  if (v.length < 7 || v.slice(0, 6).toLowerCase() !== "basic ") return null;
  const b64 = v.slice(6).trim();
  if (b64.length === 0 || b64.length > 8192 || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return null;
  const text = Buffer.from(b64, "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon <= 0) return null;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

function equalText(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checks a password against one stored htpasswd hash (bcrypt, $apr1$, {SHA}). */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  if (hash.startsWith("{SHA}")) return equalText(`{SHA}${createHash("sha1").update(password, "utf8").digest("base64")}`, hash);
  if (hash.startsWith("$apr1$")) return equalText(apacheMd5(password, hash), hash);
  if (hash.startsWith("$2")) return bcrypt.compare(password, hash);
  return false;
}

/** Successful slow checks, keyed by an HMAC of (hash, user, password); bounded in size and age. */
class VerifiedCache {
  readonly #key = randomBytes(32);
  readonly #entries = new Map<string, number>();

  keyOf(hash: string, user: string, password: string): string {
    return createHmac("sha256", this.#key).update(hash).update("\0").update(user).update("\0").update(password).digest("base64");
  }

  has(key: string, now: number): boolean {
    const until = this.#entries.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#entries.delete(key);
    return false;
  }

  add(key: string, now: number): void {
    this.#entries.delete(key);
    if (this.#entries.size >= VERIFIED_MAX) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, now + VERIFIED_TTL_MS);
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** One per Forwarder: the auth service pools, the verification cache and the outcome counters. */
export class AuthGate {
  readonly #log: Logger;
  readonly #pools = new Map<string, Pool>();
  readonly #verified = new VerifiedCache();
  /** Outcome counters, indexed by AUTH_*. */
  readonly outcomes = new Float64Array(AUTH_OUTCOMES.length);

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Basic, then external (both must admit when a route has both). Never rejects. */
  async check(auth: CompiledAuth, req: AuthRequest): Promise<AuthVerdict> {
    try {
      if (auth.basic !== null) {
        const verdict = await this.#basic(auth.basic, req);
        if (verdict.status !== 0 || auth.external === null) return verdict;
      }
      return auth.external === null ? ALLOW : await this.#external(auth.external, req);
    } catch (err) {
      // A bug or a library failure: closed, not open.
      this.#log.error({ err }, "authentication failed unexpectedly; answering 503");
      return UNAVAILABLE;
    }
  }

  async #basic(basic: CompiledBasicAuth, req: AuthRequest): Promise<AuthVerdict> {
    const users = basic.users;
    if (users === null) {
      this.#count(AUTH_BASIC_MISCONFIGURED);
      return UNAVAILABLE;
    }
    const credentials = basicCredentials(headerValue(req.headers, "authorization"));
    const hash = credentials === null ? undefined : users.get(credentials.user);
    if (credentials !== null && hash !== undefined) {
      const fast = hash.startsWith("{SHA}");
      const key = fast ? "" : this.#verified.keyOf(hash, credentials.user, credentials.password);
      const now = performance.now();
      if (!fast && this.#verified.has(key, now)) {
        this.#count(AUTH_BASIC_ALLOWED);
        return ALLOW;
      }
      if (await verifyPassword(credentials.password, hash)) {
        if (!fast) this.#verified.add(key, performance.now());
        this.#count(AUTH_BASIC_ALLOWED);
        return ALLOW;
      }
    }
    this.#count(AUTH_BASIC_DENIED);
    if (this.#log.isLevelEnabled("debug")) this.#log.debug({ path: req.path, reason: credentials === null ? "no or malformed credentials" : hash === undefined ? "unknown user" : "wrong password" }, "basic auth denied");
    return { status: 401, client: ["www-authenticate", basic.challenge], upstream: null, replace: null };
  }

  async #external(ext: CompiledExternalAuth, req: AuthRequest): Promise<AuthVerdict> {
    const headers: string[] = [
      "x-original-url", `${req.proto}://${req.hostValue}${req.path}`,
      "x-original-method", req.method,
      "x-auth-request-redirect", req.path,
      "x-forwarded-for", req.forwardedFor === null ? req.remote : `${req.forwardedFor}, ${req.remote}`,
      "x-forwarded-proto", req.proto,
      "x-forwarded-host", req.hostValue,
      "x-forwarded-port", req.port,
      "x-real-ip", req.remote,
      "x-request-id", req.requestId,
      "x-sent-from", "proxypass-ingress",
    ];
    const authorization = headerValue(req.headers, "authorization");
    if (authorization !== null) headers.push("authorization", authorization);
    const cookie = joinedHeader(req.headers, "cookie", "; ");
    if (cookie !== null) headers.push("cookie", cookie);
    let answer: Dispatcher.ResponseData;
    try {
      answer = await this.#pool(ext.origin).request({ path: ext.path, method: "GET", headers, signal: AbortSignal.timeout(ext.timeoutMs), headersTimeout: ext.timeoutMs, bodyTimeout: ext.timeoutMs });
    } catch (err) {
      this.#count(AUTH_EXTERNAL_FAILED);
      if (this.#log.isLevelEnabled("debug")) this.#log.debug({ err, origin: ext.origin, path: req.path }, "auth service unreachable or too slow; 503");
      return UNAVAILABLE;
    }
    // The body is not used: read and dropped so the connection can be reused (bounded by undici).
    answer.body.dump().catch(noop);
    const status = answer.statusCode;
    if (status >= 200 && status < 300) {
      this.#count(AUTH_EXTERNAL_ALLOWED);
      if (ext.responseHeaders.length === 0) return ALLOW;
      const upstream: string[] = [];
      for (const name of ext.responseHeaders) addValues(upstream, name, answer.headers[name]);
      return { status: 0, client: null, upstream, replace: ext.responseHeaders };
    }
    if (status === 401 || status === 403) {
      this.#count(AUTH_EXTERNAL_DENIED);
      const client: string[] = [];
      addValues(client, "www-authenticate", answer.headers["www-authenticate"]);
      addValues(client, "location", answer.headers["location"]);
      return { status, client, upstream: null, replace: null };
    }
    this.#count(AUTH_EXTERNAL_FAILED);
    if (this.#log.isLevelEnabled("debug")) this.#log.debug({ origin: ext.origin, status, path: req.path }, "auth service answered neither 2xx nor 401/403; 503");
    return UNAVAILABLE;
  }

  #pool(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, { connections: AUTH_POOL_CONNECTIONS, keepAliveTimeout: 4_000 });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  #count(i: number): void {
    this.outcomes[i] = (this.outcomes[i] as number) + 1;
  }

  /** Closes the pools of auth origins no route of `table` uses any more. */
  prune(table: RouteTable): void {
    if (this.#pools.size === 0) return;
    const used = new Set<string>();
    const visit = (options: { readonly auth?: AuthConfig | null }): void => {
      const url = options.auth?.external?.url;
      if (url !== undefined) used.add(new URL(url).origin);
    };
    for (const vh of table.virtualHosts) {
      for (const r of vh.routes) visit(r.options);
      if (vh.fallback !== null) visit(vh.fallback.options);
    }
    if (table.defaultRoute !== null) visit(table.defaultRoute.options);
    for (const [origin, pool] of this.#pools) {
      if (used.has(origin)) continue;
      this.#pools.delete(origin);
      pool.close().catch(noop);
    }
  }

  /** Closes every auth pool (shutdown). */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(noop)));
  }
}

function addValues(out: string[], name: string, value: string | string[] | undefined): void {
  if (value === undefined) return;
  if (typeof value === "string") out.push(name, value);
  else for (const v of value) out.push(name, v);
}
