// HTTP/1.1 upgrades (mod_proxy_wstunnel): the proxy server's "upgrade" event. The upgrade request
// is routed like any request (same Router reference, read once; same Host and absolute-form rules
// through `resolveTarget`, so never an open proxy), a member is elected by the route's balancer
// (canary split, sticky route, failover to another member on connect failure), and the request
// goes out with the route's header rules and X-Forwarded-* on a fresh TCP connection (node:http,
// agent: false: an upgraded connection is never pooled). A 101 answer is relayed and both sockets
// are piped with stream.pipeline (backpressure both ways, an error destroys both; an end is
// passed on as a half-close, and a closed side closes the other once its pending bytes are
// written). Any other answer is relayed as a normal response (head + body), then the client
// connection closes.
//
// Only `Upgrade: websocket` on GET is tunnelled. ProxyServer passes `isWebSocketUpgrade` as the
// server's `shouldUpgradeCallback`, so any other upgrade (h2c, TLS/1.0, ...) is served as a plain
// HTTP/1.1 request by the normal request path, which drops Upgrade as hop-by-hop: RFC 9110 §7.8
// lets a server ignore Upgrade. On a Node without that option such a request reaches this handler
// and gets 501.
//
// WebSockets over HTTP/2 (RFC 8441): both HTTP/2 listeners advertise SETTINGS_ENABLE_CONNECT_PROTOCOL;
// an extended CONNECT (`:method CONNECT`, `:protocol websocket`, `:path`, `:authority`) goes
// through the same routing, redirects, auth, election, header rules and X-Forwarded-* as an
// HTTP/1.1 upgrade (`handleH2`), and the member gets an ordinary HTTP/1.1 `Upgrade: websocket`
// with a fresh Sec-WebSocket-Key (RFC 8441 §5: HTTP/2 clients send none). On 101 the stream is
// answered 200 (without Sec-WebSocket-Accept, Upgrade, Connection) and piped both ways with the
// member's socket (HTTP/2 flow control is the client side's backpressure); any other answer is
// relayed as the stream's response. The stream's end is passed on as a half-close; the member's
// close ends the stream, then resets it with NO_ERROR (RFC 9113 §8.1) so it never lingers
// half-open. A plain CONNECT on HTTP/2 (no `:protocol`) keeps its 405; another `:protocol` is 501.
// The two client kinds differ only in a `TunnelClient` (how to answer, accept, relay, close).
//
// A tunnel holds its member, not the route table: snapshot swaps never touch it, and a removed
// member's tunnels stay open (a retired member's pools close, this socket is not theirs). The
// member counts as busy from election until the tunnel closes. `websocket-idle-timeout` closes a
// tunnel after that long without bytes in either direction. ProxyServer.close destroys the
// tunnels left at the end of the shutdown grace period.

import { randomBytes } from "node:crypto";
import { request as httpRequest, STATUS_CODES, type ClientRequest, type IncomingMessage } from "node:http";
import { type OutgoingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import { request as httpsRequest } from "node:https";
import type { TLSSocket } from "node:tls";
import type { Socket } from "node:net";
import { pipeline, type Duplex } from "node:stream";
import { PickOutcome, type Balancer, type BalancerMember } from "./balancer/index.js";
import type { CompiledAuth } from "./auth.js";
import { AuthForbiddenError, AuthRequiredError, AuthUnavailableError, BadRequestError, ConnectTimeoutError, ERROR_RESPONSES, NoMemberError, NoRouteError, RateLimitedError, ReadTimeoutError, StickyUnavailableError, UpstreamTlsConfigError, classifyUpstreamError, isConnectFailure, type ProxyError } from "./errors.js";
import { RequestHead, RequestSide, RequestTarget, resolveTarget, scanRequestHead, type Forwarder, type ProxyRequest } from "./forward.js";
import type { RouteStats } from "./stats/index.js";
import { clientAddress, limitKey } from "./perimeter.js";
import { connectionTokens, isHopByHop, removeNames } from "./headers.js";
import { appRootLocation } from "./mapping.js";
import { httpsLocation, isAcmeChallenge } from "./redirect.js";
import type { CompiledRoute, Router } from "./router.js";
import type { H2ProxyRequest } from "./h2.js";

function noop(): void {}

/** True when `value` (an Upgrade header) lists the `websocket` protocol (case-insensitive, any version suffix). */
export function hasWebSocketToken(value: string): boolean {
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    if (i !== value.length && value.charCodeAt(i) !== 44 /* , */) continue;
    let token = value.slice(start, i).trim();
    const slash = token.indexOf("/");
    if (slash !== -1) token = token.slice(0, slash);
    if (token.length === 9 && token.toLowerCase() === "websocket") return true;
    start = i + 1;
  }
  return false;
}

/** The upgrades this proxy tunnels: GET with `Upgrade: websocket` (the server's `shouldUpgradeCallback`). */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  if (req.method !== "GET") return false;
  const upgrade = req.headers.upgrade;
  return upgrade !== undefined && hasWebSocketToken(upgrade);
}

/** Writes a short plain-text response on a raw client socket and closes it (after the bytes are out). */
function answer(socket: Duplex, status: number, body: Buffer, workerId: string | null, extra: ReadonlyArray<string> | null = null): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\nconnection: close\r\n`;
  // Values from an auth service's answer: undici's parser admits no CR/LF in them.
  if (extra !== null) for (let i = 0; i < extra.length; i += 2) head += `${extra[i] ?? ""}: ${extra[i + 1] ?? ""}\r\n`;
  if (workerId !== null) head += `x-proxypass-worker: ${workerId}\r\n`;
  socket.write(`${head}\r\n`);
  socket.end(body);
  // A detached socket is paused: drain what the client still sends, so its FIN closes the socket.
  socket.resume();
}


const NOT_IMPLEMENTED = Buffer.from("Not Implemented\n", "latin1");
const EMPTY = Buffer.alloc(0);
const SEC_WEBSOCKET_KEY = ["sec-websocket-key"];

/** `app-root` on an upgrade request for "/": the same 302 as a plain request gets, then the connection closes. */
function answerRedirect(socket: Duplex, location: string, workerId: string | null, status = 302): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = status === 308 ? "Permanent Redirect\n" : "Found\n";
  let head = `HTTP/1.1 ${status} ${status === 308 ? "Permanent Redirect" : "Found"}\r\nlocation: ${location}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\nconnection: close\r\n`;
  if (workerId !== null) head += `x-proxypass-worker: ${workerId}\r\n`;
  socket.write(`${head}\r\n`);
  socket.end(body);
}

/** Response header lines (flat [name, value, ...]) from a member's raw headers: hop-by-hop and Connection-listed names dropped, ProxyPassReverse, then Set-Cookie, the route's response rules, the worker id. */
function responseLines(raw: string[], setCookie: string | null, route: CompiledRoute, fw: Forwarder, hostValue: string, scheme: string, member: BalancerMember): string[] {
  const workerId = fw.workerId;
  const out: string[] = [];
  let listed: string[] | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] ?? "").toLowerCase();
    const value = raw[i + 1] ?? "";
    if (isHopByHop(name)) {
      if (name === "connection") {
        const tokens = connectionTokens(value);
        if (tokens !== null) listed = listed === null ? tokens : listed.concat(tokens);
      }
      continue;
    }
    out.push(name, value);
  }
  if (listed !== null) removeNames(out, listed);
  if (route.reverse !== null) fw.reverseMap(route.reverse, out, route, hostValue, scheme, member);
  if (setCookie !== null) out.push("set-cookie", setCookie);
  if (route.responseRules !== null) route.responseRules.apply(out);
  if (workerId !== null) out.push("x-proxypass-worker", workerId);
  return out;
}

/** An HTTP/1.1 response head: status line, `lines`, `tail` (already CRLF-terminated lines). */
function http1Head(statusLine: string, lines: ReadonlyArray<string>, tail: string): string {
  let head = statusLine;
  for (let i = 0; i < lines.length; i += 2) head += `${lines[i] ?? ""}: ${lines[i + 1] ?? ""}\r\n`;
  return `${head}${tail}\r\n`;
}

/** HTTP/2 response headers from `lines` (repeated names become arrays); `omit` names are left out. */
function h2Headers(status: number, lines: ReadonlyArray<string>, omit: string | null): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ":status": status };
  for (let i = 0; i < lines.length; i += 2) {
    const name = lines[i] as string;
    const value = lines[i + 1] as string;
    if (name === omit) continue;
    const prev = headers[name];
    if (prev === undefined) headers[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else headers[name] = [String(prev), value];
  }
  return headers;
}

/**
 * The client side of a tunnel: an HTTP/1.1 connection that sent `Upgrade: websocket`, or an
 * HTTP/2 stream that sent an extended CONNECT.
 */
interface TunnelClient {
  /** What is piped with the member's socket once it answered 101. */
  readonly duplex: Duplex;
  readonly remoteAddress: string;
  /** HTTP/2 (RFC 8441): the member needs a Sec-WebSocket-Key and the 101 becomes 200. */
  readonly h2: boolean;
  /** A short plain-text answer (refusal, error), then the client side closes. */
  answer(status: number, body: Buffer, workerId: string | null, extra: ReadonlyArray<string> | null): void;
  /** The `app-root` redirect (302), or ssl-redirect's (308). */
  redirect(location: string, workerId: string | null, status?: 302 | 308): void;
  /** The member's 101 (response lines already mapped) goes to the client; `upgrade` is the member's Upgrade value. */
  accept(lines: ReadonlyArray<string>, upgrade: string): void;
  /** A non-101 answer, relayed with its body; the client side closes after it. */
  relay(status: number, statusMessage: string, lines: ReadonlyArray<string>, res: IncomingMessage): void;
  /** Joins the client side and the member's upgraded socket both ways, with backpressure. */
  join(upstream: Socket): void;
  /** The member's side closed: the client side closes once what it was sent is written. */
  closeSoon(): void;
  setIdleTimeout(ms: number, onIdle: () => void): void;
  destroy(): void;
  /** Bytes the client sent/received on the tunnel: its connection's (HTTP/1.1), or the upgraded member socket's since the 101 (HTTP/2). */
  bytesIn(upstream: Socket | null): number;
  bytesOut(upstream: Socket | null): number;
}

/** An HTTP/1.1 client connection (the server's "upgrade" event). */
class Http1TunnelClient implements TunnelClient {
  readonly duplex: Socket;
  readonly remoteAddress: string;
  readonly h2 = false;

  /** `remoteAddress`: the peer (the PROXY protocol source with --proxy-protocol). */
  constructor(socket: Socket, remoteAddress: string) {
    this.duplex = socket;
    this.remoteAddress = remoteAddress;
  }

  answer(status: number, body: Buffer, workerId: string | null, extra: ReadonlyArray<string> | null): void {
    answer(this.duplex, status, body, workerId, extra);
  }

  redirect(location: string, workerId: string | null, status: 302 | 308 = 302): void {
    answerRedirect(this.duplex, location, workerId, status);
  }

  accept(lines: ReadonlyArray<string>, upgrade: string): void {
    this.duplex.write(http1Head("HTTP/1.1 101 Switching Protocols\r\n", lines, `connection: upgrade\r\nupgrade: ${upgrade}\r\n`));
  }

  relay(status: number, statusMessage: string, lines: ReadonlyArray<string>, res: IncomingMessage): void {
    const client = this.duplex;
    // Close-delimited body (Node has de-chunked it); a Content-Length from the member stays.
    client.write(http1Head(`HTTP/1.1 ${status} ${statusMessage}\r\n`, lines, "connection: close\r\n"));
    res.on("error", () => client.destroy());
    client.once("close", () => res.destroy());
    res.pipe(client);
  }

  join(upstream: Socket): void {
    // An end is passed on (half-close); an error destroys both.
    pipeline(this.duplex, upstream, noop);
    pipeline(upstream, this.duplex, noop);
  }

  closeSoon(): void {
    this.duplex.destroySoon();
  }

  setIdleTimeout(ms: number, onIdle: () => void): void {
    this.duplex.setTimeout(ms, onIdle);
  }

  destroy(): void {
    this.duplex.destroy();
  }

  bytesIn(): number {
    return this.duplex.bytesRead;
  }

  bytesOut(): number {
    return this.duplex.bytesWritten;
  }
}

/** An HTTP/2 stream that sent an extended CONNECT (RFC 8441). */
class H2TunnelClient implements TunnelClient {
  readonly duplex: ServerHttp2Stream;
  readonly remoteAddress: string;
  readonly h2 = true;
  /** The member socket's counters at the 101 (its handshake is not the client's traffic). */
  #readAt = 0;
  #writtenAt = 0;

  constructor(stream: ServerHttp2Stream, remoteAddress: string) {
    this.duplex = stream;
    this.remoteAddress = remoteAddress;
  }

  #respond(headers: OutgoingHttpHeaders, endStream: boolean): boolean {
    const stream = this.duplex;
    if (stream.destroyed || stream.closed || stream.headersSent) {
      stream.destroy();
      return false;
    }
    stream.respond(headers, { endStream });
    return true;
  }

  answer(status: number, body: Buffer, workerId: string | null, extra: ReadonlyArray<string> | null): void {
    const lines: string[] = ["content-type", "text/plain; charset=utf-8", "content-length", String(body.length)];
    if (extra !== null) for (let i = 0; i < extra.length; i++) lines.push(extra[i] as string);
    if (workerId !== null) lines.push("x-proxypass-worker", workerId);
    if (this.#respond(h2Headers(status, lines, null), false)) this.#endThenReset(body);
    this.duplex.resume(); // what the client still sends is dropped
  }

  /** Ends the response, then resets the stream with NO_ERROR (RFC 9113 §8.1): a client that keeps its side open cannot hold it. */
  #endThenReset(body: Buffer | string): void {
    const stream = this.duplex;
    stream.once("finish", destroyStream);
    stream.end(body);
  }

  redirect(location: string, workerId: string | null, status: 302 | 308 = 302): void {
    const body = status === 308 ? "Permanent Redirect\n" : "Found\n";
    const lines = ["location", location, "content-type", "text/plain; charset=utf-8", "content-length", String(body.length)];
    if (workerId !== null) lines.push("x-proxypass-worker", workerId);
    if (this.#respond(h2Headers(status, lines, null), false)) this.#endThenReset(body);
    this.duplex.resume();
  }

  accept(lines: ReadonlyArray<string>): void {
    // RFC 8441 §5: 200 for the member's 101; Sec-WebSocket-Accept answers our key, not the client's.
    this.#respond(h2Headers(200, lines, "sec-websocket-accept"), false);
  }

  /** Called once the member's socket is upgraded: its counters from here on are the tunnel's. */
  opened(upstream: Socket): void {
    this.#readAt = upstream.bytesRead;
    this.#writtenAt = upstream.bytesWritten;
  }

  relay(status: number, _statusMessage: string, lines: ReadonlyArray<string>, res: IncomingMessage): void {
    const stream = this.duplex;
    if (!this.#respond(h2Headers(status, lines, null), false)) {
      res.destroy();
      return;
    }
    stream.resume();
    stream.once("finish", destroyStream);
    res.on("error", () => stream.destroy());
    stream.once("close", () => res.destroy());
    res.pipe(stream);
  }

  join(upstream: Socket): void {
    // pipe, not pipeline: the member's close must not destroy the stream with an error (an
    // INTERNAL_ERROR reset); the ends are passed on, and each side's close closes the other
    // through the tunnel's close listeners (closeSoon, destroySoon).
    this.duplex.pipe(upstream);
    upstream.pipe(this.duplex);
  }

  closeSoon(): void {
    const stream = this.duplex;
    if (stream.destroyed) return;
    // END_STREAM after what is pending, then RST_STREAM NO_ERROR: the client need not send more.
    if (stream.writableFinished) stream.destroy();
    else {
      stream.end();
      stream.once("finish", destroyStream);
    }
  }

  setIdleTimeout(ms: number, onIdle: () => void): void {
    this.duplex.setTimeout(ms, onIdle);
  }

  destroy(): void {
    // destroy() resets the stream (close(code) from a timer left it open on the client's side).
    this.duplex.destroy();
  }

  bytesIn(upstream: Socket | null): number {
    return upstream === null ? 0 : upstream.bytesWritten - this.#writtenAt;
  }

  bytesOut(upstream: Socket | null): number {
    return upstream === null ? 0 : upstream.bytesRead - this.#readAt;
  }
}

function destroyStream(this: ServerHttp2Stream): void {
  this.destroy();
}

/** A Sec-WebSocket-Key for the member (RFC 6455 §4.1: 16 random bytes, base64). */
function webSocketKey(): string {
  return randomBytes(16).toString("base64");
}

/** The `:protocol` of an extended CONNECT names WebSocket (case-insensitive). */
function isWebSocketProtocol(value: unknown): boolean {
  return typeof value === "string" && value.length === 9 && value.toLowerCase() === "websocket";
}

/** The upgrade path of one ProxyServer: routes, elects and opens tunnels; tracks them for shutdown. */
export class TunnelProxy {
  readonly #fw: Forwarder;
  readonly #target = new RequestTarget();
  readonly #head = new RequestHead();
  readonly #side = new RequestSide();
  /** Every tunnel from its election until both sockets closed (connecting ones too). */
  readonly #tunnels = new Set<Tunnel>();
  #open = 0;

  constructor(forwarder: Forwarder) {
    this.#fw = forwarder;
  }

  /** Tunnels whose member answered 101 and that have not closed yet. */
  get openTunnels(): number {
    return this.#open;
  }

  /** Tunnels tracked: open ones plus upgrade requests still waiting for their member. */
  get tracked(): number {
    return this.#tunnels.size;
  }

  get forwarder(): Forwarder {
    return this.#fw;
  }

  /** A refused upgrade request: the error's answer, then its counters and access-log line (unrouted unless `stats`). */
  #refuse(req: IncomingMessage, client: TunnelClient, error: ProxyError, start: number, host: string, scanned: Pick<RequestHead, "referer" | "userAgent">, requestId: string, stats: RouteStats | null, ingress: string | null, extra: ReadonlyArray<string> | null = null): void {
    const r = ERROR_RESPONSES[error.code];
    client.answer(r.status, r.body, this.#fw.workerId, extra);
    const own = stats ?? this.#fw.stats.unrouted;
    this.#fw.upgradeEnded({ req, stats: own, status: r.status, start, bytesIn: 0, bytesOut: 0, host, requestId, referer: scanned.referer, userAgent: scanned.userAgent, ingress, service: null, member: null, retries: 0, code: error.code });
  }

  /** The server's "upgrade" event, against the router read once by the caller. */
  handle(router: Router, req: ProxyRequest, socket: Duplex, head: Buffer): void {
    const fw = this.#fw;
    const start = performance.now();
    fw.upgradeStarted();
    socket.on("error", noop);
    const scanned = this.#head;
    scanRequestHead(req.rawHeaders, scanned);
    const requestId = scanned.requestId ?? fw.nextRequestId();
    if (!isWebSocketUpgrade(req)) {
      answer(socket, 501, NOT_IMPLEMENTED, fw.workerId);
      fw.upgradeEnded({ req, stats: fw.stats.unrouted, status: 501, start, bytesIn: 0, bytesOut: 0, host: scanned.hostValue, requestId, referer: scanned.referer, userAgent: scanned.userAgent, ingress: null, service: null, member: null, retries: 0, code: null });
      return;
    }
    // A handshake has no body (RFC 6455 §4.1); bytes after the head are the tunnel's.
    const body = scanned.transferEncoding || (scanned.contentLength !== null && scanned.contentLength !== "0");
    this.#route(router, req, new Http1TunnelClient(socket as Socket, fw.peerAddress(socket as Socket)), head, start, requestId, body);
  }

  /**
   * An HTTP/2 extended CONNECT (RFC 8441) on either listener (`:protocol` present): WebSocket is
   * tunnelled like an HTTP/1.1 upgrade, another protocol gets 501.
   */
  handleH2(router: Router, req: H2ProxyRequest): void {
    const fw = this.#fw;
    const start = performance.now();
    fw.upgradeStarted();
    const stream = req.stream;
    stream.on("error", noop);
    const scanned = this.#head;
    scanRequestHead(req.rawHeaders, scanned);
    const requestId = scanned.requestId ?? fw.nextRequestId();
    const client = new H2TunnelClient(stream, fw.peerAddress(req.socket as Socket));
    if (!isWebSocketProtocol(req.headers[":protocol"])) {
      client.answer(501, NOT_IMPLEMENTED, fw.workerId, null);
      fw.upgradeEnded({ req: req as unknown as IncomingMessage, stats: fw.stats.unrouted, status: 501, start, bytesIn: 0, bytesOut: 0, host: scanned.hostValue, requestId, referer: scanned.referer, userAgent: scanned.userAgent, ingress: null, service: null, member: null, retries: 0, code: null });
      return;
    }
    // The stream stays open for the tunnel (h2.ts marks it chunked): only a declared length counts as a body.
    const body = scanned.contentLength !== null && scanned.contentLength !== "0";
    this.#route(router, req as unknown as ProxyRequest, client, EMPTY, start, requestId, body);
  }

  /** Shared by both client kinds once the request is known to be a WebSocket handshake: checks, routing, redirects, auth. */
  #route(router: Router, req: ProxyRequest, client: TunnelClient, head: Buffer, start: number, requestId: string, body: boolean): void {
    const fw = this.#fw;
    const scanned = this.#head;
    const { headers, forwardedFor, cookie } = scanned;
    const address = fw.trustedProxies === null ? client.remoteAddress : clientAddress(client.remoteAddress, forwardedFor, fw.trustedProxies);
    req.client = address;
    let hostValue = scanned.hostValue;
    const hostCount = scanned.hostCount;
    if (body || hostCount > 1) {
      this.#refuse(req, client, new BadRequestError(body ? "upgrade request with a body" : "duplicate Host"), start, hostValue, scanned, requestId, null, null);
      return;
    }
    const target = this.#target;
    const targetError = resolveTarget(router, req.url ?? "/", hostValue, target);
    if (targetError !== null) {
      this.#refuse(req, client, targetError, start, hostValue, scanned, requestId, null, null);
      return;
    }
    const path = target.path;
    hostValue = target.hostValue;
    const q = path.indexOf("?");
    const route = router.route(target.host, q === -1 ? path : path.slice(0, q));
    if (route === null) {
      this.#refuse(req, client, new NoRouteError(), start, hostValue, scanned, requestId, null, null);
      return;
    }
    if (route.sslRedirect !== null && !req.secure && target.host !== "" && !isAcmeChallenge(path)) {
      client.redirect(httpsLocation(target.host, route.sslRedirect, path), fw.workerId, 308);
      return;
    }
    if (route.appRoot !== null && (q === -1 ? path.length === 1 : q === 1)) {
      client.redirect(appRootLocation(req.forwardedProto, hostValue, route.appRoot), fw.workerId);
      return;
    }

    // Perimeter: allow/deny CIDRs (403), limit-rps (429), limit-connections (429; a tunnel holds its slot while open), before authentication.
    const refusal = fw.admit(route, address, performance.now());
    if (refusal !== null) {
      this.#refuse(req, client, refusal, start, hostValue, scanned, requestId, route.stats, route.ingress, refusal instanceof RateLimitedError ? ["retry-after", String(refusal.retryAfter)] : null);
      return;
    }

    // Authentication, as forward.ts does: the upgrade goes on in #proceed once admitted. The
    // scan's fields are copied out first: #head is reused by the next upgrade.
    const referer = scanned.referer;
    const userAgent = scanned.userAgent;
    const generated = scanned.requestId === null;
    if (route.auth !== null) {
      void this.#authorize(route.auth, req, client, head, route, start, target.host, hostValue, path, headers, forwardedFor, cookie, requestId, generated, referer, userAgent);
      return;
    }
    this.#proceed(req, client, head, route, start, target.host, hostValue, path, headers, forwardedFor, cookie, requestId, generated, referer, userAgent);
  }

  async #authorize(
    auth: CompiledAuth,
    req: ProxyRequest,
    client: TunnelClient,
    head: Buffer,
    route: CompiledRoute,
    start: number,
    host: string,
    hostValue: string,
    path: string,
    headers: string[],
    forwardedFor: string | null,
    cookie: string | null,
    requestId: string,
    generated: boolean,
    referer: string | null,
    userAgent: string | null,
  ): Promise<void> {
    const fw = this.#fw;
    const verdict = await fw.auth.check(auth, { method: "GET", path, hostValue, proto: req.forwardedProto, port: req.forwardedPort, remote: client.remoteAddress, forwardedFor: fw.upstreamForwardedFor(client.remoteAddress, forwardedFor), headers, requestId });
    if (client.duplex.destroyed) {
      fw.upgradeEnded({ req, stats: route.stats, status: 499, start, bytesIn: 0, bytesOut: 0, host: hostValue, requestId, referer, userAgent, ingress: route.ingress, service: null, member: null, retries: 0, code: null });
      return;
    }
    if (verdict.status !== 0) {
      const error = verdict.status === 401 ? new AuthRequiredError() : verdict.status === 403 ? new AuthForbiddenError() : new AuthUnavailableError();
      this.#refuse(req, client, error, start, hostValue, { referer, userAgent }, requestId, route.stats, route.ingress, verdict.client);
      return;
    }
    if (verdict.replace !== null) removeNames(headers, verdict.replace as string[]);
    if (verdict.upstream !== null) for (let i = 0; i < verdict.upstream.length; i++) headers.push(verdict.upstream[i] as string);
    this.#proceed(req, client, head, route, start, host, hostValue, path, headers, forwardedFor, cookie, requestId, generated, referer, userAgent);
  }

  /** After the checks: side, election, upstream headers, then the tunnel's first attempt. */
  #proceed(
    req: ProxyRequest,
    client: TunnelClient,
    head: Buffer,
    route: CompiledRoute,
    start: number,
    host: string,
    hostValue: string,
    path: string,
    headers: string[],
    forwardedFor: string | null,
    cookie: string | null,
    requestId: string,
    generated: boolean,
    referer: string | null,
    userAgent: string | null,
  ): void {
    const fw = this.#fw;
    // Side (canary split), sticky route, election: as forward.ts does.
    const side = this.#side;
    fw.chooseSide(route, path, headers, cookie, side);
    const balancer = side.balancer as Balancer;
    const { ingress, stickyRoute } = side;
    const stats = side.stats as RouteStats;
    if (balancer.transport.failClosed) {
      this.#refuse(req, client, new UpstreamTlsConfigError(), start, hostValue, { referer, userAgent }, requestId, stats, ingress);
      return;
    }
    if (balancer.transport.ajp !== null) {
      // AJP/1.3 has no upgrade (mod_proxy_ajp neither): WebSockets need an HTTP connector.
      client.answer(501, NOT_IMPLEMENTED, fw.workerId, null);
      fw.upgradeEnded({ req, stats, status: 501, start, bytesIn: 0, bytesOut: 0, host: hostValue, requestId, referer, userAgent, ingress, service: null, member: null, retries: 0, code: null });
      return;
    }
    const stamp = fw.nextStamp();
    const member = balancer.pick(stickyRoute, stamp);
    if (member === null) {
      this.#refuse(req, client, balancer.outcome === PickOutcome.StickyRefused ? new StickyUnavailableError() : new NoMemberError(), start, hostValue, { referer, userAgent }, requestId, stats, ingress);
      return;
    }
    const setCookie = balancer.config.sticky !== null && balancer.outcome !== PickOutcome.Sticky ? member.setCookie : null;

    fw.appendForwarded(headers, route, hostValue, fw.upstreamForwardedFor(client.remoteAddress, forwardedFor), client.remoteAddress, req.forwardedProto, req.forwardedPort);
    if (route.mapping !== null) headers.push("x-forwarded-prefix", route.mapping.forwardedPrefix);
    if (generated) headers.push("x-request-id", requestId);
    if (route.requestRules !== null) route.requestRules.apply(headers);
    // After the rules: a rule cannot turn the handshake into something else.
    headers.push("connection", "upgrade", "upgrade", "websocket");
    if (client.h2) {
      // RFC 8441 §5: the HTTP/2 client sent no key; the member's HTTP/1.1 handshake needs one.
      removeNames(headers, SEC_WEBSOCKET_KEY);
      headers.push("sec-websocket-key", webSocketKey());
    }

    if (fw.log.isLevelEnabled("debug")) fw.log.debug({ host, path, member: member.key, ingress, sticky: balancer.outcome === PickOutcome.Sticky }, "upgrade");
    const upstreamPath = route.mapping === null ? path : route.mapping.toUpstream(path);
    const tunnel = new Tunnel(this, client, head, route, balancer, ingress, member, stamp, stickyRoute, setCookie, upstreamPath, headers, hostValue, req.forwardedProto, new TunnelLog(req, start, hostValue, requestId, referer, userAgent, stats));
    if (route.limitConnections !== null && route.limiter !== null) {
      tunnel.slotKey = limitKey(req.client);
      route.limiter.acquire(tunnel.slotKey);
    }
    this.#tunnels.add(tunnel);
    tunnel.connect();
  }

  /** Shutdown: destroys every tunnel (and upgrade request) left. */
  destroyAll(): void {
    for (const t of [...this.#tunnels]) t.destroy();
  }

  /** @internal A tunnel's member answered 101. */
  opened(): void {
    this.#open++;
  }

  /** @internal A tunnel closed (both sockets); `wasOpen`: it had been established. */
  closed(tunnel: Tunnel, wasOpen: boolean): void {
    if (this.#tunnels.delete(tunnel) && wasOpen) this.#open--;
  }
}

/** What a tunnel's end records (Forwarder.upgradeEnded): the request's identity and its route side's counters. */
class TunnelLog {
  readonly req: IncomingMessage;
  readonly start: number;
  readonly host: string;
  readonly requestId: string;
  readonly referer: string | null;
  readonly userAgent: string | null;
  readonly stats: RouteStats;

  // No parameter properties: workers run from .ts sources in tests with type stripping only.
  constructor(req: IncomingMessage, start: number, host: string, requestId: string, referer: string | null, userAgent: string | null, stats: RouteStats) {
    this.req = req;
    this.start = start;
    this.host = host;
    this.requestId = requestId;
    this.referer = referer;
    this.userAgent = userAgent;
    this.stats = stats;
  }
}

/** One upgrade request and, after 101, its tunnel. */
class Tunnel {
  readonly #proxy: TunnelProxy;
  readonly #fw: Forwarder;
  readonly #client: TunnelClient;
  readonly #head: Buffer;
  readonly #route: CompiledRoute;
  readonly #balancer: Balancer;
  readonly #ingress: string;
  #member: BalancerMember;
  readonly #stamp: number;
  readonly #stickyRoute: string | null;
  #setCookie: string | null;
  readonly #path: string;
  readonly #headers: string[];
  /** The client's Host value (ProxyPassReverse maps member URLs to it). */
  readonly #hostValue: string;
  /** The client side's scheme (ProxyPassReverse). */
  readonly #scheme: string;
  readonly #log: TunnelLog;
  /** The status the client got: 101, a relayed answer's, an error's; 499 while none (client gone first). */
  #status = 499;
  #request: ClientRequest | null = null;
  /** `limit-connections`: the client key whose slot this tunnel holds until it closes; null = none. */
  slotKey: string | null = null;
  #upstream: Socket | null = null;
  #timer: NodeJS.Timeout | null = null;
  #retries = 0;
  /** The attempt's socket connected (a failure after that is not a connect failure). */
  #connected = false;
  #open = false;
  #clientClosed = false;
  #upstreamClosed = false;
  #done = false;

  constructor(
    proxy: TunnelProxy,
    client: TunnelClient,
    head: Buffer,
    route: CompiledRoute,
    balancer: Balancer,
    ingress: string,
    member: BalancerMember,
    stamp: number,
    stickyRoute: string | null,
    setCookie: string | null,
    path: string,
    headers: string[],
    hostValue: string,
    scheme: string,
    log: TunnelLog,
  ) {
    this.#log = log;
    this.#proxy = proxy;
    this.#fw = proxy.forwarder;
    this.#client = client;
    this.#head = head;
    this.#route = route;
    this.#balancer = balancer;
    this.#ingress = ingress;
    this.#member = member;
    this.#stamp = stamp;
    this.#stickyRoute = stickyRoute;
    this.#setCookie = setCookie;
    this.#path = path;
    this.#headers = headers;
    this.#hostValue = hostValue;
    this.#scheme = scheme;
    client.duplex.once("close", () => this.#clientClose());
  }

  /** Sends the upgrade request to the current member. */
  connect(): void {
    const m = this.#member;
    this.#connected = false;
    // backend-protocol HTTPS/GRPCS: the upgrade goes over TLS with the balancer's SNI and verification.
    const tls = this.#balancer.transport.tls;
    const req =
      tls === null
        ? httpRequest({ host: m.address, port: m.port, method: "GET", path: this.#path, headers: this.#headers, agent: false })
        : httpsRequest({ host: m.address, port: m.port, method: "GET", path: this.#path, headers: this.#headers, agent: false, ...tls });
    this.#request = req;
    req.on("socket", (s: Socket) => {
      if (this.#request !== req) return;
      if (!s.connecting && (tls === null || (s as TLSSocket).encrypted === true)) this.#onConnect(req);
      else s.once(tls === null ? "connect" : "secureConnect", () => this.#onConnect(req));
    });
    req.on("upgrade", (res: IncomingMessage, socket: Socket, upHead: Buffer) => this.#upgraded(req, res, socket, upHead));
    req.on("response", (res: IncomingMessage) => this.#relay(req, res));
    req.on("error", (err: Error) => this.#failed(req, err));
    this.#arm(this.#route.connectMs, req, true);
    req.end();
  }

  #arm(ms: number, req: ClientRequest, connecting: boolean): void {
    this.#clearTimer();
    if (ms <= 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#request === req) req.destroy(connecting ? new ConnectTimeoutError(null) : new ReadTimeoutError(null));
    }, ms);
  }

  #clearTimer(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  #onConnect(req: ClientRequest): void {
    if (this.#request !== req) return;
    this.#connected = true;
    this.#arm(this.#route.readMs, req, false);
  }

  /** The attempt failed before any response: fail over on a connect failure, else answer with the error. */
  #failed(req: ClientRequest, err: Error): void {
    if (this.#request !== req || this.#done) return;
    this.#request = null;
    this.#clearTimer();
    const fw = this.#fw;
    const member = this.#member;
    const balancer = this.#balancer;
    const failover = balancer.config.failover;
    const connect = err instanceof ConnectTimeoutError || (!(err instanceof ReadTimeoutError) && isConnectFailure(err, this.#connected));
    if (connect || (failover.failOnTimeout && err instanceof ReadTimeoutError)) {
      if (member.markError(failover.retryMs) && fw.log.isLevelEnabled("debug")) fw.log.debug({ err, member: member.key, ingress: this.#ingress }, "member in error");
    }
    if (this.#clientClosed) {
      this.#finish();
      return;
    }
    if (connect && this.#retries < (failover.maxAttempts ?? balancer.defaultMaxAttempts)) {
      member.mark = this.#stamp;
      const next = balancer.pick(this.#stickyRoute, this.#stamp);
      if (next !== null) {
        member.release();
        this.#member = next;
        this.#retries++;
        this.#setCookie = balancer.config.sticky !== null && balancer.outcome !== PickOutcome.Sticky ? next.setCookie : null;
        if (fw.log.isLevelEnabled("debug")) fw.log.debug({ err, member: member.key, next: next.key, attempt: this.#retries, ingress: this.#ingress }, "upgrade failover");
        this.connect();
        return;
      }
    }
    const error = classifyUpstreamError(err);
    if (fw.log.isLevelEnabled("debug")) fw.log.debug({ err, code: error.code, member: member.key, ingress: this.#ingress }, "upgrade failed");
    const r = ERROR_RESPONSES[error.code];
    this.#status = r.status;
    this.#client.answer(r.status, r.body, fw.workerId, null);
  }

  /** httpd failonstatus: a listed status puts the member in error (the answer is still relayed); any other ends its error state. */
  #judge(status: number): void {
    const failOnStatus = this.#balancer.config.failover.failOnStatus;
    if (failOnStatus.length !== 0 && failOnStatus.includes(status)) this.#member.markError(this.#balancer.config.failover.retryMs);
    else this.#member.clearError();
  }

  /** Not 101: relayed as a normal response, then the client connection closes. */
  #relay(req: ClientRequest, res: IncomingMessage): void {
    if (this.#request !== req) {
      res.destroy();
      return;
    }
    this.#request = null;
    this.#clearTimer();
    const status = res.statusCode ?? 502;
    this.#judge(status);
    this.#status = status;
    const client = this.#client;
    if (this.#clientClosed || !client.duplex.writable) {
      res.destroy();
      this.#finish();
      return;
    }
    client.relay(status, res.statusMessage ?? STATUS_CODES[status] ?? "", responseLines(res.rawHeaders, this.#setCookie, this.#route, this.#fw, this.#hostValue, this.#scheme, this.#member), res);
  }

  #upgraded(req: ClientRequest, res: IncomingMessage, upstream: Socket, upHead: Buffer): void {
    if (this.#request !== req || this.#clientClosed) {
      upstream.destroy();
      if (this.#request === req) this.#request = null;
      this.#finish();
      return;
    }
    this.#request = null;
    this.#clearTimer();
    this.#judge(101);
    const client = this.#client;
    let upgrade = "websocket";
    for (let i = 0; i < res.rawHeaders.length; i += 2) {
      if ((res.rawHeaders[i] ?? "").toLowerCase() === "upgrade") upgrade = res.rawHeaders[i + 1] ?? upgrade;
    }
    this.#upstream = upstream;
    this.#open = true;
    // The status the client got: 101, or 200 on HTTP/2 (RFC 8441).
    this.#status = client.h2 ? 200 : 101;
    this.#proxy.opened();
    const stats = this.#log.stats;
    stats.tunnels++;
    stats.tunnelled = true;
    upstream.on("error", noop);
    upstream.once("close", () => this.#upstreamClose());
    if (client instanceof H2TunnelClient) client.opened(upstream);
    client.accept(responseLines(res.rawHeaders, this.#setCookie, this.#route, this.#fw, this.#hostValue, this.#scheme, this.#member), upgrade);
    const duplex = client.duplex;
    if (upHead.length !== 0) duplex.write(upHead);
    if (this.#head.length !== 0) upstream.write(this.#head);
    const idleMs = this.#route.websocketIdleMs;
    if (idleMs !== null) {
      // No bytes either way for idleMs: every byte is a read on one socket and a write on the other.
      const onIdle = (): void => this.destroy();
      client.setIdleTimeout(idleMs, onIdle);
      upstream.setTimeout(idleMs, onIdle);
    }
    client.join(upstream);
    if (this.#fw.log.isLevelEnabled("debug")) this.#fw.log.debug({ member: this.#member.key, ingress: this.#ingress }, "tunnel open");
  }

  #clientClose(): void {
    this.#clientClosed = true;
    const req = this.#request;
    if (req !== null) {
      // Still waiting for the member: give up the attempt.
      this.#request = null;
      this.#clearTimer();
      req.destroy();
    }
    if (this.#upstream !== null && !this.#upstreamClosed) this.#upstream.destroySoon();
    this.#maybeFinish();
  }

  #upstreamClose(): void {
    this.#upstreamClosed = true;
    // What the member sent is written before the client connection closes.
    if (!this.#clientClosed) this.#client.closeSoon();
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    if (this.#clientClosed && (this.#upstream === null || this.#upstreamClosed) && this.#request === null) this.#finish();
  }

  /** Closes both sides now (idle timeout, shutdown). */
  destroy(): void {
    const req = this.#request;
    if (req !== null) {
      this.#request = null; // its error is ours, not the member's
      this.#clearTimer();
      req.destroy();
    }
    this.#upstream?.destroy();
    this.#client.destroy();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#clearTimer();
    this.#member.release();
    if (this.slotKey !== null) this.#route.limiter?.release(this.slotKey);
    this.#proxy.closed(this, this.#open);
    const log = this.#log;
    if (this.#open) log.stats.tunnels--;
    const client = this.#client;
    this.#fw.upgradeEnded({
      req: log.req,
      stats: log.stats,
      status: this.#status,
      start: log.start,
      bytesIn: client.bytesIn(this.#upstream),
      bytesOut: client.bytesOut(this.#upstream),
      host: log.host,
      requestId: log.requestId,
      referer: log.referer,
      userAgent: log.userAgent,
      ingress: this.#ingress,
      service: this.#balancer.config.id,
      member: this.#member,
      retries: this.#retries,
      code: null,
    });
    if (this.#open && this.#fw.log.isLevelEnabled("debug")) this.#fw.log.debug({ member: this.#member.key, ingress: this.#ingress }, "tunnel closed");
  }
}
