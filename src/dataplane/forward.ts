// The request path: route, elect a member, forward with undici `dispatch` and one handler object
// per request (no per-request closures: listeners are shared functions that find their exchange
// through the ServerResponse subclass). Bodies stream both ways with backpressure; a client abort
// aborts the upstream request; an upstream error ends the client response (destroyed once
// headers are out).

import { IncomingMessage, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import type { CidrMatcher, Logger } from "../util/index.js";
import { ajpRequestInfo, type AjpRequestInfo } from "./ajp/index.js";
import { clientAddress, limitKey } from "./perimeter.js";
import { PickOutcome, cookieValue, stickyRouteOf, type Balancer, type BalancerMember } from "./balancer/index.js";
import { AuthGate, type CompiledAuth } from "./auth.js";
import {
  AuthForbiddenError,
  AuthRequiredError,
  AuthUnavailableError,
  BadRequestError,
  ClientAbortError,
  ERROR_RESPONSES,
  ForeignHostError,
  NoMemberError,
  NoRouteError,
  StickyUnavailableError,
  TransferCodingError,
  UpstreamTlsConfigError,
  BodyTimeoutError,
  BodyTooLargeError,
  ForbiddenError,
  RateLimitedError,
  classifyUpstreamError,
  isConnectFailure,
  isPoolClosed,
  isReadTimeout,
  isSentFailure,
  type ProxyError,
} from "./errors.js";
import { acceptEncodingOf, addVary, chooseEncoding, createEncoder, encodeHeaders, ENCODING_NONE, isEventStream, type Encoder, type EncoderSink } from "./compress.js";
import { cappedReadMs, encodeGrpcMessage, grpcStatusOf, grpcStatusText, GRPC_DEADLINE_EXCEEDED, GRPC_UNAVAILABLE, isGrpcContentType, isGrpcStatusField, parseGrpcTimeout } from "./grpc.js";
import { ErrorPageFetch, type ErrorPageOwner, type ErrorPages } from "./error-pages.js";
import { connectionTokens, isHopByHop, removeNames, type HeaderRules } from "./headers.js";
import { parseHost } from "./host.js";
import { appRootLocation, ReverseContext, type ReverseMap } from "./mapping.js";
import { httpsLocation, isAcmeChallenge, PERMANENT_REDIRECT_BODY } from "./redirect.js";
import type { CompiledCanary, CompiledRoute, Router } from "./router.js";
import {
  CombinedFormatter,
  RequestIds,
  RouteStatsRegistry,
  STAT_ACCESSES,
  STAT_BUSY,
  STAT_BYTES_IN,
  STAT_BYTES_OUT,
  STAT_CONNECTIONS,
  STAT_DURATION_MS,
  WorkerStats,
  isAcceptableRequestId,
  methodIndex,
  type AccessLogFormat,
  type AccessLogSink,
  type RouteStats,
} from "./stats/index.js";

/**
 * An HTTP/1.1 request. `forwardedProto`, `forwardedPort` and `secure` describe the listener it came
 * through: they live on the prototype of a per-listener subclass (see frontend.ts), so reading them
 * costs what reading a Forwarder field did.
 */
export class ProxyRequest extends IncomingMessage {
  /** X-Forwarded-Proto: "http" or "https". */
  declare forwardedProto: string;
  /** X-Forwarded-Port: the listener's port. */
  declare forwardedPort: string;
  /** True on the TLS listener. */
  declare secure: boolean;

  /** The client address (perimeter.ts clientAddress), set when the request arrives. */
  client = "";
  /** `max-body-size` for a chunked body, counted as it arrives; -1 = none. */
  bodyLimit = -1;
  bodyBytes = 0;
  /** `client-body-timeout`: refreshed by every body chunk; null = not armed. */
  bodyTimer: NodeJS.Timeout | null = null;
  /** The body broke a rule: later chunks are dropped (the exchange is aborted). */
  bodyRejected = false;
  /** The exchange reading this body, for body errors. */
  exchange: Exchange | null = null;

  /** Node's parser pushes each body chunk here: counted against the limit, refreshing the body timer. */
  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) {
      if (this.bodyTimer !== null) {
        clearTimeout(this.bodyTimer);
        this.bodyTimer = null;
      }
    } else {
      if (this.bodyRejected) return true;
      if (this.bodyTimer !== null) this.bodyTimer.refresh();
      if (this.bodyLimit >= 0) {
        this.bodyBytes += (chunk as Buffer).length;
        if (this.bodyBytes > this.bodyLimit) {
          bodyFailed(this, new BodyTooLargeError());
          return true;
        }
      }
    }
    return super.push(chunk, encoding);
  }

  /** Arms `client-body-timeout` for a body still arriving. */
  armBodyTimer(ms: number): void {
    this.bodyTimer = setTimeout(onBodyTimeout, ms, this);
  }
}
ProxyRequest.prototype.forwardedProto = "http";
ProxyRequest.prototype.forwardedPort = "";
ProxyRequest.prototype.secure = false;
/** Fails the exchange of a request whose body broke a perimeter rule (too large, too slow). */
function bodyFailed(req: ProxyRequest, error: ProxyError): void {
  req.bodyRejected = true;
  if (req.bodyTimer !== null) {
    clearTimeout(req.bodyTimer);
    req.bodyTimer = null;
  }
  const ex = req.exchange;
  if (ex !== null) ex.bodyError(error);
}

function onBodyTimeout(req: ProxyRequest): void {
  // Our side is the bottleneck (the member reads slowly): not the client's fault, wait again.
  if (req.isPaused() || req.readableLength > 0) {
    req.bodyTimer?.refresh();
    return;
  }
  req.bodyTimer = null;
  bodyFailed(req, new BodyTimeoutError());
}


export class ProxyResponse extends ServerResponse<ProxyRequest> {
  exchange: Exchange | null = null;
  /** A gRPC request (content-type application/grpc*): errors the proxy generates are gRPC statuses. */
  grpc = false;
  /** `Expect: 100-continue` not answered yet (the server's checkContinue): 100 goes out once a member connection takes the request. */
  continuePending = false;
}

export interface ForwarderOptions {
  readonly log: Logger;
  /** Access logger while the access log is on; null = off. */
  readonly accessLog: Logger | null;
  /** Test mode: `x-proxypass-worker` response header with this id; null = off. */
  readonly workerId: string | null;
  /** Per-route request counters (/metrics); default a private registry. */
  readonly stats?: RouteStatsRegistry;
  /** This worker's totals (server-status); default a private region. */
  readonly workerStats?: WorkerStats;
  /** `--access-log-format`: "json" (pino, default) or "combined" (httpd's, written to `accessSink`). */
  readonly accessLogFormat?: AccessLogFormat;
  /** Destination of combined lines: the access logger's own non-blocking destination; null = JSON only. */
  readonly accessSink?: AccessLogSink | null;
  /** Label of this worker in generated request ids (default "0"). */
  readonly requestIdPrefix?: string;
}

/** undici's dispatch options plus `servername` (read by undici's Request, absent from its typings), and for AJP members the client facts (AjpPool). */
type UpstreamDispatchOptions = Dispatcher.DispatchOptions & { servername: string | null; ajp?: AjpRequestInfo };

const TEXT_PLAIN = "text/plain; charset=utf-8";
const FOUND_BODY = Buffer.from("Found\n", "latin1");
const FOUND_LENGTH = String(FOUND_BODY.length);
const PERMANENT_REDIRECT_LENGTH = String(PERMANENT_REDIRECT_BODY.length);
const HSTS_NAME = ["strict-transport-security"] as const;
const GRPC_CONTENT_TYPE = "application/grpc";

function noop(): void {}

function onResponseDrain(this: ProxyResponse): void {
  const ex = this.exchange;
  if (ex !== null) ex.resume();
}

function onResponseClose(this: ProxyResponse): void {
  const ex = this.exchange;
  if (ex !== null && !this.writableFinished) ex.clientGone();
}

function seconds(from: number, to: number): number {
  return (to - from) / 1000;
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Methods a failed attempt may be sent again for after it reached the member (RFC 9110 §9.2.2). */
function isIdempotent(method: string): boolean {
  switch (method) {
    case "GET":
    case "HEAD":
    case "OPTIONS":
    case "PUT":
    case "DELETE":
    case "TRACE":
      return true;
    default:
      return false;
  }
}

/**
 * One proxied request: the undici handler (new-style API) plus the bookkeeping for logs and
 * counters. Failover (httpd maxattempts/retry/failonstatus/failontimeout) reuses the exchange: a
 * failed attempt marks its member with the request's stamp, the balancer elects another, and the
 * same handler is dispatched again.
 */
export class Exchange implements Dispatcher.DispatchHandler, EncoderSink, ErrorPageOwner {
  readonly #fw: Forwarder;
  readonly #req: ProxyRequest;
  readonly #res: ProxyResponse;
  readonly #route: CompiledRoute;
  /** The balancer the member came from: the route's, or its canary's. */
  readonly #balancer: Balancer;
  readonly #ingress: string;
  #member: BalancerMember;
  readonly #start: number;
  readonly #host: string;
  /** Per-request stamp: members tried by this request carry it in `mark`. */
  readonly #stamp: number;
  readonly #stickyRoute: string | null;
  /** Set-Cookie line that binds the session to the member (new or moved session); null = none. */
  #setCookie: string | null;
  readonly #options: Dispatcher.DispatchOptions;
  readonly #hasBody: boolean;
  /** Request bytes counted for bytraffic: the Content-Length, 0 when absent (chunked bodies are not counted). */
  readonly #requestBytes: number;
  /** Counters of the route side that served (primary or canary). */
  readonly #stats: RouteStats;
  readonly #requestId: string;
  readonly #referer: string | null;
  readonly #userAgent: string | null;
  /** performance.now() of the last dispatch, of its request reaching a connection, of its response headers; -1 = not yet. */
  #dispatchedAt = -1;
  #connectedAt = -1;
  #headersAt = -1;
  #retries = 0;
  #controller: Dispatcher.DispatchController | null = null;
  /** grpc-status/grpc-message of a Trailers-Only response, relayed as trailers; null = none. */
  #statusTrailers: Record<string, string> | null = null;
  #bytes = 0;
  #done = false;
  #clientGone = false;
  /** A body rule (max-body-size, client-body-timeout) failed: the attempt is aborted with it. */
  #bodyError: ProxyError | null = null;
  /** `limit-connections`: the client key holding a slot of the route's limiter; null = none. */
  readonly #slotKey: string | null;
  /**
   * The member's response head, held until its first body byte or its end (Node buffers a head
   * until then anyway): a framing error before any body byte (a bad first chunk) still gets a 502
   * instead of a relayed 200 cut short. null once written, or before the response started.
   */
  #pendingHead: string[] | null = null;
  #pendingStatus = 0;
  /** `compression`: the encoder of this response, or null (sent as it came). */
  #encoder: Encoder | null = null;
  /** Compressed bytes written to the client. */
  #encodedBytes = 0;
  /** `custom-error-pages`: the status whose error page replaces the member's answer (its body is read and dropped); 0 = none. */
  #override = 0;
  /** Bytes of the error page sent instead; -1 = none. */
  #pageBytes = -1;

  constructor(
    fw: Forwarder,
    req: ProxyRequest,
    res: ProxyResponse,
    route: CompiledRoute,
    balancer: Balancer,
    ingress: string,
    member: BalancerMember,
    start: number,
    host: string,
    stamp: number,
    stickyRoute: string | null,
    setCookie: string | null,
    options: Dispatcher.DispatchOptions,
    hasBody: boolean,
    requestBytes: number,
    stats: RouteStats,
    requestId: string,
    referer: string | null,
    userAgent: string | null,
    slotKey: string | null = null,
  ) {
    this.#slotKey = slotKey;
    this.#fw = fw;
    this.#req = req;
    this.#res = res;
    this.#route = route;
    this.#balancer = balancer;
    this.#ingress = ingress;
    this.#member = member;
    this.#start = start;
    this.#host = host;
    this.#stamp = stamp;
    this.#stickyRoute = stickyRoute;
    this.#setCookie = setCookie;
    this.#options = options;
    this.#hasBody = hasBody;
    this.#requestBytes = requestBytes;
    this.#stats = stats;
    this.#requestId = requestId;
    this.#referer = referer;
    this.#userAgent = userAgent;
  }

  /** Sends the request to the current member. */
  dispatch(): void {
    this.#dispatchedAt = performance.now();
    this.#connectedAt = -1;
    this.#member.upstream.pool(this.#route.connectMs, this.#balancer.transport).dispatch(this.#options, this);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    this.#connectedAt = performance.now();
    this.#stats.connect.observe(seconds(this.#dispatchedAt, this.#connectedAt));
    if (this.#clientGone) controller.abort(new ClientAbortError());
    else if (this.#bodyError !== null) controller.abort(this.#bodyError);
    else if (this.#res.continuePending) {
      // RFC 9110 §10.1.1: the proxy answers the client's 100-continue itself once a member takes the request (undici sends no Expect).
      this.#res.continuePending = false;
      this.#res.writeContinue();
    }
  }

  /** The request body broke max-body-size or client-body-timeout: abort the upstream attempt with that error (413/408, or a cut response). */
  bodyError(error: ProxyError): void {
    if (this.#done || this.#bodyError !== null) return;
    this.#bodyError = error;
    if (this.#controller !== null) this.#controller.abort(error);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // informational: not relayed
    this.#headersAt = performance.now();
    this.#stats.header.observe(seconds(this.#dispatchedAt, this.#headersAt));
    // httpd failonstatus: the member goes into error, the response is still relayed. Any other
    // response ends the member's error state (a trial request succeeded).
    const failover = this.#balancer.config.failover;
    if (failover.failOnStatus.length !== 0 && failover.failOnStatus.includes(statusCode)) {
      if (this.#member.markError(failover.retryMs) && this.#fw.log.isLevelEnabled("debug")) {
        this.#fw.log.debug({ member: this.#member.key, status: statusCode, ingress: this.#ingress }, "member in error (fail-on-status)");
      }
    } else {
      this.#member.clearError();
    }
    const pages = this.#route.errorPages;
    if (pages !== null && pages.applies(statusCode, this.#options.method, this.#res.grpc)) {
      // ProxyErrorOverride: the member's head and body give way to the page (served at its end); the status stays.
      this.#override = statusCode;
      return;
    }
    const out: string[] = [];
    let listed: string[] | null = null;
    let eventStream = false;
    const grpcStatus = headers["grpc-status"];
    const trailersOnly = grpcStatus !== undefined;
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined) continue;
      if (trailersOnly && isGrpcStatusField(name)) {
        // A gRPC Trailers-Only response: its status fields go out as trailers after the headers, so
        // the client sees a complete gRPC response whatever the framing (HTTP/1.1 chunked, HTTP/2).
        this.#statusTrailers ??= {};
        this.#statusTrailers[name] = typeof value === "string" ? value : value.join(",");
        continue;
      }
      if (name === "trailer") {
        // End to end (RFC 9110 §6.6.2): announces the trailer fields relayed at the end.
        if (typeof value === "string") out.push(name, value);
        else for (let i = 0; i < value.length; i++) out.push(name, value[i] ?? "");
        continue;
      }
      if (isHopByHop(name)) {
        // Several Connection lines arrive as an array: every line's tokens are hop-by-hop.
        if (name === "connection") listed = connectionTokens(typeof value === "string" ? value : value.join(","));
        continue;
      }
      if (name === "content-type" && typeof value === "string" && isEventStream(value)) eventStream = true;
      if (typeof value === "string") out.push(name, value);
      else for (let i = 0; i < value.length; i++) out.push(name, value[i] ?? "");
    }
    if (listed !== null) removeNames(out, listed);
    if (this.#route.reverse !== null) this.#fw.reverseMap(this.#route.reverse, out, this.#route, this.#host, this.#req.forwardedProto, this.#member);
    if (this.#setCookie !== null) out.push("set-cookie", this.#setCookie);
    if (this.#route.responseRules !== null) this.#route.responseRules.apply(out);
    if (this.#route.hsts !== null && this.#req.forwardedProto === "https") {
      // The proxy's HSTS replaces a member's (ingress-nginx's more_set_headers).
      removeNames(out, HSTS_NAME as unknown as string[]);
      out.push("strict-transport-security", this.#route.hsts);
    }
    if (this.#route.compression !== null) this.#negotiate(statusCode, out);
    if (this.#fw.workerId !== null) out.push("x-proxypass-worker", this.#fw.workerId);
    this.#pendingStatus = statusCode;
    this.#pendingHead = out;
    if (eventStream) {
      // Server-Sent Events: the head goes out now (EventSource opens on it), not with the first event.
      this.#writeHead();
      this.#res.flushHeaders();
    }
  }

  /** `compression`: Vary on an eligible response, and an encoder when the client accepts a coding. */
  #negotiate(statusCode: number, out: string[]): void {
    const policy = this.#route.compression;
    if (policy === null || !policy.isEligible(this.#options.method, statusCode, out)) return;
    addVary(out);
    const encoding = chooseEncoding(acceptEncodingOf(this.#req.rawHeaders));
    if (encoding === ENCODING_NONE) return;
    let sizeHint = 0;
    for (let i = 0; i < out.length; i += 2) if (out[i] === "content-length") sizeHint = Number(out[i + 1]) || 0;
    encodeHeaders(out, encoding);
    this.#encoder = createEncoder(encoding, this, sizeHint);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#bytes += chunk.length;
    if (this.#override !== 0) return; // the member's error body is read and dropped
    if (this.#pendingHead !== null) this.#writeHead();
    if (this.#encoder !== null) {
      if (!this.#encoder.write(chunk)) controller.pause();
      return;
    }
    if (!this.#res.write(chunk)) controller.pause();
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    if (this.#override !== 0) {
      this.#serveErrorPage(null);
      return;
    }
    if (this.#pendingHead !== null) this.#writeHead();
    let relay: Record<string, string | string[]> | null = this.#statusTrailers;
    for (const name in trailers) {
      const value = trailers[name];
      if (value === undefined || isHopByHop(name) || name === "content-length" || name === "host") continue;
      relay ??= {};
      relay[name] = value;
    }
    if (relay !== null) {
      try {
        this.#res.addTrailers(relay);
      } catch (err) {
        // An invalid field from the member: the response ends without trailers.
        if (this.#fw.log.isLevelEnabled("debug")) this.#fw.log.debug({ err, member: this.#member.key, ingress: this.#ingress }, "upstream trailers not relayed");
      }
    }
    if (this.#encoder !== null) {
      this.#encoder.end(); // the response ends when the encoder has written everything (encoderEnded)
      return;
    }
    this.#res.end();
    this.#finish(this.#res.statusCode);
  }

  /** `custom-error-pages`: serves the page of `#override` (error-pages.ts); `fallback` = the built-in body (null: the status line text). */
  #serveErrorPage(fallback: Buffer | null): void {
    const req = this.#req;
    new ErrorPageFetch(this, this.#res, this.#override, this.#route.errorPages as ErrorPages, fallback).start(req.rawHeaders, req.url ?? "/", this.#requestId, this.#host, this.#balancer.config.id, this.#fw.nextStamp());
  }

  /** @internal ErrorPageOwner: the sticky cookie, response-headers rules and worker id apply to error pages too. */
  completeErrorHead(head: string[]): void {
    if (this.#setCookie !== null) head.push("set-cookie", this.#setCookie);
    if (this.#route.responseRules !== null) this.#route.responseRules.apply(head);
    if (this.#fw.workerId !== null) head.push("x-proxypass-worker", this.#fw.workerId);
  }

  /** @internal ErrorPageOwner: the page is out (or the client left). */
  errorPageSent(status: number, bytes: number): void {
    this.#pageBytes = bytes;
    this.#finish(status);
  }

  #writeHead(): void {
    const head = this.#pendingHead as string[];
    this.#pendingHead = null;
    this.#res.writeHead(this.#pendingStatus, head);
  }

  /** @internal EncoderSink: compressed bytes for the client; a full client connection pauses the encoder. */
  encoded(chunk: Buffer): void {
    this.#encodedBytes += chunk.length;
    if (!this.#res.write(chunk)) this.#encoder?.pause();
  }

  /** @internal EncoderSink: the encoder took its input; the member may send more. */
  encoderDrained(): void {
    if (this.#controller !== null && (this.#res.writableNeedDrain === false)) this.#controller.resume();
  }

  /** @internal EncoderSink: everything is compressed and written. */
  encoderEnded(): void {
    this.#res.end();
    this.#finish(this.#res.statusCode);
  }

  /** @internal EncoderSink: compression failed (never expected): the response is cut like an upstream error after the headers. */
  encoderFailed(err: Error): void {
    if (this.#done) return;
    this.#controller?.abort(err);
    this.#res.destroy(err);
    this.#finish(this.#res.statusCode);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    if (this.#done) return;
    if (this.#clientGone) {
      this.#finish(499);
      return;
    }
    if (this.#override !== 0) {
      // The member's overridden answer broke off: its page is served all the same.
      this.#serveErrorPage(null);
      return;
    }
    // A response that started (head held, no body byte yet) is not sent elsewhere: the member answered.
    const started = this.#pendingHead !== null;
    this.#pendingHead = null;
    if (!started && !this.#res.headersSent && this.#failover(err)) return;
    const error = classifyUpstreamError(err);
    if (this.#fw.log.isLevelEnabled("debug")) {
      this.#fw.log.debug({ err, code: error.code, member: this.#member.key, ingress: this.#ingress }, "upstream error");
    }
    if (!this.#res.headersSent) {
      if (this.#encoder !== null) {
        // The held head would have been compressed; the error answer is not.
        this.#encoder.sink = null;
        this.#encoder.destroy();
        this.#encoder = null;
      }
      const r = ERROR_RESPONSES[error.code];
      const pages = this.#route.errorPages;
      if (pages !== null && pages.applies(r.status, this.#options.method, this.#res.grpc)) {
        this.#override = r.status;
        this.#serveErrorPage(r.body);
        return;
      }
      const status = this.#fw.sendError(this.#res, error);
      this.#finish(status);
    } else if (this.#res.grpc && !this.#res.writableEnded) {
      // A gRPC stream cut mid-way: end it with a status instead of a reset (the client learns why).
      const code = error.code === "PPI_ERR_READ_TIMEOUT" ? GRPC_DEADLINE_EXCEEDED : GRPC_UNAVAILABLE;
      this.#res.addTrailers({ "grpc-status": grpcStatusText(code), "grpc-message": encodeGrpcMessage(error.message) });
      this.#res.end();
      this.#finish(this.#res.statusCode);
    } else {
      if (this.#encoder !== null) {
        this.#encoder.sink = null;
        this.#encoder.destroy();
      }
      this.#res.destroy(error);
      this.#finish(this.#res.statusCode);
    }
  }

  /**
   * An attempt failed before the response started. Puts the member in error when httpd would
   * (connect failure; read timeout with failontimeout) and, when the request may be sent again and
   * attempts are left, dispatches it to another member. Returns true when it did.
   *
   * Sent again: after a connect failure (undici never started the request), for any method; after
   * a failure once the request went out (reset, closed socket, no headers in time), only for
   * idempotent methods. A request body must be provably intact: undici reads an IncomingMessage
   * body only once the request is on a connection (client-h1 writeH1: `body.read(0)`, then
   * writeStream), and destroys it when a streamed request fails; so a body nobody read from and
   * that is not destroyed is the whole body, still unread.
   */
  #failover(err: Error): boolean {
    const member = this.#member;
    const balancer = this.#balancer;
    const failover = balancer.config.failover;
    const sent = this.#controller !== null;
    const connect = isConnectFailure(err, sent);
    if (connect || (failover.failOnTimeout && isReadTimeout(err))) {
      if (member.markError(failover.retryMs) && this.#fw.log.isLevelEnabled("debug")) {
        this.#fw.log.debug({ err, member: member.key, ingress: this.#ingress }, "member in error");
      }
    }
    const again = connect || (!sent && isPoolClosed(err)) || (isSentFailure(err) && isIdempotent(this.#options.method));
    if (!again) return false;
    if (this.#hasBody && (this.#req.readableDidRead || this.#req.destroyed)) return false;
    const max = failover.maxAttempts ?? balancer.defaultMaxAttempts;
    if (this.#retries >= max) return false;
    member.mark = this.#stamp;
    const next = balancer.pick(this.#stickyRoute, this.#stamp);
    if (next === null) return false; // nothing left: the caller answers with this attempt's error
    // This attempt is over: count it and give its member back.
    member.addTraffic(sent ? this.#requestBytes : 0, 0);
    member.release();
    this.#member = next;
    this.#retries++;
    this.#controller = null;
    this.#setCookie = balancer.config.sticky !== null && balancer.outcome !== PickOutcome.Sticky ? next.setCookie : null;
    if (this.#fw.log.isLevelEnabled("debug")) {
      this.#fw.log.debug({ err, member: member.key, next: next.key, attempt: this.#retries, ingress: this.#ingress }, "failover");
    }
    this.dispatch();
    return true;
  }

  resume(): void {
    const encoder = this.#encoder;
    if (encoder !== null) {
      encoder.resume();
      if (encoder.writableNeedDrain) return; // the encoder's 'drain' resumes the member
    }
    if (this.#controller !== null) this.#controller.resume();
  }

  clientGone(): void {
    if (this.#done || this.#clientGone) return;
    this.#clientGone = true;
    if (this.#encoder !== null) {
      this.#encoder.sink = null;
      this.#encoder.destroy();
    }
    if (this.#controller !== null) this.#controller.abort(new ClientAbortError());
  }

  #finish(status: number): void {
    if (this.#done) return;
    this.#done = true;
    const req0 = this.#req;
    req0.exchange = null;
    if (req0.bodyTimer !== null) {
      clearTimeout(req0.bodyTimer);
      req0.bodyTimer = null;
    }
    if (this.#slotKey !== null) this.#route.limiter?.release(this.#slotKey);
    const member = this.#member;
    member.addTraffic(this.#controller !== null ? this.#requestBytes : 0, this.#bytes);
    member.release();
    this.#res.exchange = null;
    const fw = this.#fw;
    const end = performance.now();
    // Bytes to the client: compressed ones when compressing (the member's count for bytraffic above).
    const sent = this.#pageBytes >= 0 ? this.#pageBytes : this.#encoder === null ? this.#bytes : this.#encodedBytes;
    fw.account(this.#stats, this.#req.method, status, end - this.#start, this.#requestBytes, sent);
    if (fw.accessLog === null) return;
    const req = this.#req;
    if (fw.combined !== null) {
      // The `access` component's level still applies (`--log-level access=warn` silences it).
      if (!fw.accessLog.isLevelEnabled("info")) return;
      fw.combined.write(
        fw.formatter.line(
          { remote: req.client, method: req.method ?? "", url: req.url ?? "", httpVersion: req.httpVersion, status, bytes: sent, referer: this.#referer, userAgent: this.#userAgent, durationUs: (end - this.#start) * 1000, worker: member.upstream.origin },
          Date.now(),
        ),
      );
      return;
    }
    fw.accessLog.info(
      {
        requestId: this.#requestId,
        remote: req.client,
        method: req.method,
        host: this.#host,
        path: req.url,
        status,
        bytes: sent,
        durationMs: roundMs(end - this.#start),
        ingress: this.#ingress,
        service: this.#balancer.config.id,
        member: member.key,
        connectMs: this.#connectedAt < 0 ? null : roundMs(this.#connectedAt - this.#dispatchedAt),
        headerMs: this.#headersAt < 0 ? null : roundMs(this.#headersAt - this.#dispatchedAt),
        retries: this.#retries,
      },
      "request",
    );
  }
}

/** A proxy error whose error page is fetched: accounted for when it is out (ErrorPageOwner). */
class DeferredAnswer implements ErrorPageOwner {
  readonly fw: Forwarder;
  readonly req: ProxyRequest;
  readonly error: ProxyError;
  readonly host: string;
  readonly start: number;
  readonly stats: RouteStats;
  readonly requestId: string;
  readonly referer: string | null;
  readonly userAgent: string | null;

  constructor(fw: Forwarder, req: ProxyRequest, error: ProxyError, host: string, start: number, stats: RouteStats, requestId: string, referer: string | null, userAgent: string | null) {
    this.fw = fw;
    this.req = req;
    this.error = error;
    this.host = host;
    this.start = start;
    this.stats = stats;
    this.requestId = requestId;
    this.referer = referer;
    this.userAgent = userAgent;
  }

  completeErrorHead(head: string[]): void {
    if (ERROR_RESPONSES[this.error.code].close) head.push("connection", "close");
    this.fw.applyGlobalRules(head);
    if (this.fw.workerId !== null) head.push("x-proxypass-worker", this.fw.workerId);
  }

  errorPageSent(status: number): void {
    this.fw.deferredAnswered(this, status);
  }
}

function startsWithHttpScheme(url: string): number {
  // Returns the index after "scheme://" for http/https absolute-form, else -1. Case-insensitive.
  const lower = url.length > 8 ? url.slice(0, 8).toLowerCase() : url.toLowerCase();
  if (lower.startsWith("http://")) return 7;
  if (lower.startsWith("https://")) return 8;
  return -1;
}

/** Where a request goes, filled by `resolveTarget` (one per caller, reused: read right after the call). */
export class RequestTarget {
  /** Normalised host to route by. */
  host = "";
  /** The Host value (or absolute-form authority) as the client sent it: what the upstream is told. */
  hostValue = "";
  /** Origin-form path with query. */
  path = "";
}

/**
 * Request target: origin-form; absolute-form only for a host `router` serves (never an open
 * proxy). Fills `out` and returns null, or returns the error to answer with.
 */
export function resolveTarget(router: Router, url: string, hostValue: string, out: RequestTarget): ProxyError | null {
  if (url.charCodeAt(0) !== 47 /* / */) {
    const schemeEnd = startsWithHttpScheme(url);
    if (schemeEnd === -1) return new BadRequestError();
    let authorityEnd = url.length;
    for (let i = schemeEnd; i < url.length; i++) {
      const c = url.charCodeAt(i);
      if (c === 47 || c === 63 || c === 35) {
        authorityEnd = i;
        break;
      }
    }
    const authority = url.slice(schemeEnd, authorityEnd);
    const host = authority === "" ? null : parseHost(authority); // null: userinfo, bad port...
    if (host === null) return new BadRequestError("invalid absolute-form authority");
    // ProxyRequests Off: a well-formed authority we do not serve is never connected to (404).
    if (!router.servesHost(host)) return new ForeignHostError();
    out.host = host;
    out.hostValue = authority;
    out.path = authorityEnd === url.length ? "/" : url.charCodeAt(authorityEnd) === 47 ? url.slice(authorityEnd) : `/${url.slice(authorityEnd)}`;
    return null;
  }
  const host = parseHost(hostValue); // null: a value other than uri-host [":" port]
  if (host === null) return new BadRequestError("invalid Host");
  out.host = host;
  out.hostValue = hostValue;
  out.path = url;
  return null;
}

/**
 * What one pass over a request's raw headers found, filled by `scanRequestHead` (one per caller,
 * reused: read right after the call). Shared by plain requests and WebSocket upgrades.
 */
export class RequestHead {
  /** Headers to forward, names lower-case: without Host, X-Forwarded-*, Via, hop-by-hop and Connection-listed ones. A new array per scan. */
  headers: string[] = [];
  hostValue = "";
  hostCount = 0;
  /** X-Forwarded-For lines joined with ", ", or null. */
  forwardedFor: string | null = null;
  /** Cookie lines joined with "; " (RFC 6265 §5.4: one list), or null; the lines are forwarded as they came. */
  cookie: string | null = null;
  contentLength: string | null = null;
  /** A Transfer-Encoding header was present (it is not forwarded: Node de-chunks). */
  transferEncoding = false;
  /**
   * Transfer-Encoding verdict: 0 none or exactly chunked; 501 chunked last but other codings too
   * (they would reach the upstream undeclared); 400 chunked not last, so the body length cannot be
   * known (RFC 9112 §6.3: 400 and close).
   */
  transferCoding = 0;
  /** The first acceptable X-Request-Id (forwarded; others are dropped), or null. */
  requestId: string | null = null;
  referer: string | null = null;
  userAgent: string | null = null;
  /** Content-Type is application/grpc*: a gRPC request. */
  grpc = false;
  /** The `grpc-timeout` value (forwarded), or null. */
  grpcTimeout: string | null = null;
  /** The client's X-Forwarded-Proto / X-Forwarded-Port (last line), never forwarded; believed only from a `--trusted-proxies` peer. */
  xForwardedProto: string | null = null;
  xForwardedPort: string | null = null;
}

/** One pass over the raw headers: the forwarded set, plus what routing, logs and checks need. */
export function scanRequestHead(raw: ReadonlyArray<string>, out: RequestHead): void {
  const headers: string[] = [];
  let hostValue = "";
  let hostCount = 0;
  let forwardedFor: string | null = null;
  let listed: string[] | null = null;
  let contentLength: string | null = null;
  let transferEncoding = false;
  let codings: string | null = null;
  let cookie: string | null = null;
  let requestId: string | null = null;
  let referer: string | null = null;
  let userAgent: string | null = null;
  let grpc = false;
  let grpcTimeout: string | null = null;
  let xForwardedProto: string | null = null;
  let xForwardedPort: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] ?? "").toLowerCase();
    const value = raw[i + 1] ?? "";
    switch (name) {
      case "host":
        hostValue = value;
        hostCount++;
        continue;
      case "x-forwarded-for":
        forwardedFor = forwardedFor === null ? value : `${forwardedFor}, ${value}`;
        continue;
      case "x-forwarded-proto":
        xForwardedProto = value;
        continue;
      case "x-forwarded-port":
        xForwardedPort = value;
        continue;
      case "x-forwarded-host":
      case "x-forwarded-prefix":
      case "via":
        continue;
      case "content-length":
        contentLength = value;
        break;
      case "cookie":
        cookie = cookie === null ? value : `${cookie}; ${value}`;
        break;
      case "x-request-id":
        if (requestId === null && isAcceptableRequestId(value)) {
          requestId = value;
          break;
        }
        continue;
      case "referer":
        referer = value;
        break;
      case "user-agent":
        userAgent = value;
        break;
      case "content-type":
        if (isGrpcContentType(value)) grpc = true;
        break;
      case "grpc-timeout":
        grpcTimeout = value;
        break;
      case "transfer-encoding":
        transferEncoding = true;
        codings = codings === null ? value : `${codings},${value}`;
        continue;
      case "connection": {
        const tokens = connectionTokens(value);
        if (tokens !== null) listed = listed === null ? tokens : listed.concat(tokens);
        continue;
      }
      default:
        if (isHopByHop(name)) continue;
    }
    headers.push(name, value);
  }
  if (listed !== null) removeNames(headers, listed);
  out.headers = headers;
  out.hostValue = hostValue;
  out.hostCount = hostCount;
  out.forwardedFor = forwardedFor;
  out.cookie = cookie;
  out.contentLength = contentLength;
  out.transferEncoding = transferEncoding;
  out.transferCoding = codings === null ? 0 : transferCodingVerdict(codings);
  out.requestId = requestId;
  out.referer = referer;
  out.userAgent = userAgent;
  out.grpc = grpc;
  out.grpcTimeout = grpcTimeout;
  out.xForwardedProto = xForwardedProto;
  out.xForwardedPort = xForwardedPort;
}

/**
 * A `--trusted-proxies` peer (a load balancer that terminated TLS) says which scheme and port the
 * client used: they replace the listener's for this request (X-Forwarded-Proto/-Port upstream, the
 * ssl-redirect decision, HSTS, ProxyPassReverse and app-root URLs), as ingress-nginx's
 * use-forwarded-headers. Only "http"/"https" and a port number are believed.
 */
export function believeForwarded(req: { forwardedProto: string; forwardedPort: string }, proto: string | null, port: string | null): void {
  if (proto !== null) {
    const p = proto.length === 5 || proto.length === 4 ? proto.toLowerCase() : "";
    if (p === "https" || p === "http") req.forwardedProto = p;
  }
  if (port !== null && port.length <= 5 && /^[0-9]+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535) req.forwardedPort = port;
}

/** See `RequestHead.transferCoding`: 0 exactly chunked, 501 other codings before chunked, 400 chunked not last. */
export function transferCodingVerdict(codings: string): number {
  if (codings.length === 7 && (codings === "chunked" || codings.toLowerCase() === "chunked")) return 0;
  const comma = codings.lastIndexOf(",");
  const last = (comma === -1 ? codings : codings.slice(comma + 1)).trim().toLowerCase();
  return last === "chunked" ? 501 : 400;
}

/** The side of a route a request goes to, filled by `Forwarder.chooseSide` (one per caller, reused). */
export class RequestSide {
  balancer: Balancer | null = null;
  ingress = "";
  stats: RouteStats | null = null;
  stickyRoute: string | null = null;
}

/** The client address of a request (perimeter.ts clientAddress, set on arrival), else the socket's peer. */
function clientOf(req: IncomingMessage): string {
  return req instanceof ProxyRequest && req.client !== "" ? req.client : (req.socket.remoteAddress ?? "");
}

/** What `Forwarder.upgradeEnded` records about one upgrade request. */
export interface UpgradeEnd {
  readonly req: IncomingMessage;
  readonly stats: RouteStats;
  readonly status: number;
  /** performance.now() when the upgrade request arrived. */
  readonly start: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly host: string;
  readonly requestId: string;
  readonly referer: string | null;
  readonly userAgent: string | null;
  readonly ingress: string | null;
  readonly service: string | null;
  readonly member: BalancerMember | null;
  readonly retries: number;
  /** The refusal's error code (PPI_ERR_*), null for a tunnel or a relayed answer. */
  readonly code: string | null;
}

/** Stateless per request: holds the per-server settings the request path reads. */
export class Forwarder {
  readonly log: Logger;
  /** The access logger while the access log is on, else null: switched at runtime by ProxyServer (`access-log`), read once per request end. */
  accessLog: Logger | null;
  readonly workerId: string | null;
  /** Last request stamp (failover marks tried members with it); members start at -1. */
  #stamp = 0;
  /** Per-route counters, handed to compile. */
  readonly stats: RouteStatsRegistry;
  readonly workerStats: WorkerStats;
  readonly #cells: Float64Array;
  /** Combined-format destination while `--access-log-format combined`; null = JSON through `accessLog`. */
  readonly combined: AccessLogSink | null;
  readonly formatter = new CombinedFormatter();
  readonly #ids: RequestIds;
  /** Shared by every client socket's "close" (no per-connection closure). */
  readonly #onSocketClose: () => void;
  readonly #target = new RequestTarget();
  readonly #head = new RequestHead();
  /** The current router's `global-response-headers`, for responses the proxy writes itself (set per request from the router). */
  #globalRules: HeaderRules | null = null;
  readonly #side = new RequestSide();
  readonly #reverse = new ReverseContext();
  /** Authentication of routes with `auth-*` (pools of auth services, verification cache, outcome counters). */
  readonly auth: AuthGate;
  /** `--trusted-proxies`: peers whose X-Forwarded-For names the client; null = the peer is the client. */
  trustedProxies: CidrMatcher | null = null;
  /** `client-body-timeout` in ms (server settings, set live); null = off. */
  clientBodyTimeoutMs: number | null = null;
  /** `--proxy-protocol`: the PROXY header's source address of a connection, else undefined (set by ProxyServer). */
  peerOf: ((socket: import("node:net").Socket) => string | undefined) | null = null;

  constructor(options: ForwarderOptions) {
    this.log = options.log;
    this.auth = new AuthGate(options.log);
    this.accessLog = options.accessLog;
    this.workerId = options.workerId;
    this.stats = options.stats ?? new RouteStatsRegistry();
    this.workerStats = options.workerStats ?? new WorkerStats();
    this.#cells = this.workerStats.cells;
    this.combined = options.accessLogFormat === "combined" ? (options.accessSink ?? null) : null;
    this.#ids = new RequestIds(options.requestIdPrefix ?? "0");
    const cells = this.#cells;
    this.#onSocketClose = () => {
      cells[STAT_CONNECTIONS] = (cells[STAT_CONNECTIONS] as number) - 1;
    };
  }

  /** A new failover stamp (shared with the upgrade path, so two requests never share one). */
  nextStamp(): number {
    return (this.#stamp = (this.#stamp + 1) & 0x3fff_ffff);
  }

  /** A client connection opened (the server's "connection" event). */
  connectionOpened(socket: { on(event: "close", listener: () => void): unknown }): void {
    this.#cells[STAT_CONNECTIONS] = (this.#cells[STAT_CONNECTIONS] as number) + 1;
    socket.on("close", this.#onSocketClose);
  }

  /** One finished request: route counters and this worker's totals (numbers only). */
  account(stats: RouteStats, method: string | undefined, status: number, ms: number, bytesIn: number, bytesOut: number): void {
    stats.record(methodIndex(method), status, ms / 1000, bytesIn, bytesOut);
    const c = this.#cells;
    c[STAT_ACCESSES] = (c[STAT_ACCESSES] as number) + 1;
    c[STAT_BYTES_IN] = (c[STAT_BYTES_IN] as number) + bytesIn;
    c[STAT_BYTES_OUT] = (c[STAT_BYTES_OUT] as number) + bytesOut;
    c[STAT_DURATION_MS] = (c[STAT_DURATION_MS] as number) + ms;
    c[STAT_BUSY] = (c[STAT_BUSY] as number) - 1;
  }

  /** Writes the error's short plain-text response (a gRPC status for gRPC requests), with `extra` header lines; returns its status. */
  /** ConfigMap `global-response-headers` on the head of a response the proxy writes itself. */
  applyGlobalRules(head: string[]): void {
    if (this.#globalRules !== null) this.#globalRules.apply(head);
  }

  sendError(res: ProxyResponse, error: ProxyError, extra: ReadonlyArray<string> | null = null): number {
    if (res.continuePending) {
      // The client waits for 100 before sending its body: answered without it, the connection closes (RFC 9110 §10.1.1).
      res.continuePending = false;
      res.shouldKeepAlive = false;
    }
    if (res.grpc) return this.#sendGrpcError(res, error);
    const r = ERROR_RESPONSES[error.code];
    const head = ["content-type", TEXT_PLAIN, "content-length", r.contentLength];
    if (extra !== null) for (let i = 0; i < extra.length; i++) head.push(extra[i] as string);
    // Node closes the connection after a response that says so (the request's rest is never read).
    if (r.close) head.push("connection", "close");
    if (this.#globalRules !== null) this.#globalRules.apply(head);
    if (error instanceof RateLimitedError) head.push("retry-after", String(error.retryAfter));
    if (this.workerId !== null) head.push("x-proxypass-worker", this.workerId);
    res.writeHead(r.status, head);
    res.end(r.body);
    return r.status;
  }

  /** ProxyPassReverse on a response's header list: the member's URLs and cookies mapped to the client's scheme, Host and prefix. */
  reverseMap(reverse: ReverseMap, out: string[], route: CompiledRoute, hostValue: string, scheme: string, member: BalancerMember): void {
    const c = this.#reverse;
    c.scheme = scheme;
    c.publicHost = hostValue;
    c.upstreamHost = route.upstreamHost ?? hostValue;
    c.memberAddress = member.address;
    c.memberPort = member.port;
    reverse.apply(out, c);
  }

  /** `app-root`: 302 to the scheme, Host and path (ingress-nginx's `$scheme://$http_host<app-root>`). */
  #redirectToAppRoot(req: ProxyRequest, res: ProxyResponse, route: CompiledRoute, hostValue: string, start: number, requestId: string, referer: string | null, userAgent: string | null): void {
    const location = appRootLocation(req.forwardedProto, hostValue, route.appRoot as string);
    const head = ["location", location, "content-type", TEXT_PLAIN, "content-length", FOUND_LENGTH];
    if (this.#globalRules !== null) this.#globalRules.apply(head);
    if (this.workerId !== null) head.push("x-proxypass-worker", this.workerId);
    res.writeHead(302, head);
    res.end(FOUND_BODY);
    this.#answered(req, 302, null, hostValue, start, route.stats, requestId, referer, userAgent);
  }

  /** `ssl-redirect`/`force-ssl-redirect`: 308 to the same host, path and query over https (method and body kept by the client, RFC 9110 §15.4.9). */
  #redirectToHttps(req: ProxyRequest, res: ProxyResponse, route: CompiledRoute, host: string, hostValue: string, path: string, start: number, requestId: string, referer: string | null, userAgent: string | null): void {
    const head = ["location", httpsLocation(host, route.sslRedirect as string, path), "content-type", TEXT_PLAIN, "content-length", PERMANENT_REDIRECT_LENGTH];
    if (this.#globalRules !== null) this.#globalRules.apply(head);
    if (this.workerId !== null) head.push("x-proxypass-worker", this.workerId);
    if (res.continuePending) {
      // The client waits for 100 before sending its body; it will send it to the https URL instead.
      res.continuePending = false;
      res.shouldKeepAlive = false;
    }
    res.writeHead(308, head);
    res.end(PERMANENT_REDIRECT_BODY);
    this.#answered(req, 308, null, hostValue, start, route.stats, requestId, referer, userAgent);
  }

  /** A gRPC error: HTTP 200, headers then trailers grpc-status and grpc-message (valid over HTTP/2 and HTTP/1.1 chunked). */
  #sendGrpcError(res: ProxyResponse, error: ProxyError): number {
    const r = ERROR_RESPONSES[error.code];
    const status = grpcStatusOf(error.code, r.status);
    if (this.workerId !== null) res.writeHead(200, ["content-type", GRPC_CONTENT_TYPE, "x-proxypass-worker", this.workerId]);
    else res.writeHead(200, ["content-type", GRPC_CONTENT_TYPE]);
    res.addTrailers({ "grpc-status": grpcStatusText(status), "grpc-message": encodeGrpcMessage(error.message) });
    res.end();
    return r.status;
  }

  #reject(req: ProxyRequest, res: ProxyResponse, error: ProxyError, host: string, start: number, stats: RouteStats, requestId: string, referer: string | null, userAgent: string | null, extra: ReadonlyArray<string> | null = null): void {
    const status = this.sendError(res, error, extra);
    this.#answered(req, status, error, host, start, stats, requestId, referer, userAgent);
  }

  /** A proxy error on a route with `custom-error-pages` for its status (the caller checked `applies`): the page, answered later. */
  #rejectWithPage(req: ProxyRequest, res: ProxyResponse, error: ProxyError, pages: ErrorPages, host: string, start: number, stats: RouteStats, requestId: string, referer: string | null, userAgent: string | null, service: string): void {
    if (res.continuePending) {
      // As sendError: answered without 100, the connection closes (RFC 9110 §10.1.1).
      res.continuePending = false;
      res.shouldKeepAlive = false;
    }
    const r = ERROR_RESPONSES[error.code];
    const answer = new DeferredAnswer(this, req, error, host, start, stats, requestId, referer, userAgent);
    new ErrorPageFetch(answer, res, r.status, pages, r.body).start(req.rawHeaders, req.url ?? "/", requestId, host, service, this.nextStamp());
  }

  /** @internal The end of a DeferredAnswer: counters and access log. */
  deferredAnswered(a: DeferredAnswer, status: number): void {
    this.#answered(a.req, status, a.error, a.host, a.start, a.stats, a.requestId, a.referer, a.userAgent);
  }

  /** Counters and access log of a request the proxy answered itself. */
  #answered(req: ProxyRequest, status: number, error: ProxyError | null, host: string, start: number, stats: RouteStats, requestId: string, referer: string | null, userAgent: string | null): void {
    const end = performance.now();
    this.account(stats, req.method, status, end - start, 0, 0);
    if (this.accessLog === null) return;
    if (this.combined !== null) {
      if (!this.accessLog.isLevelEnabled("info")) return;
      this.combined.write(
        this.formatter.line(
          { remote: req.client, method: req.method ?? "", url: req.url ?? "", httpVersion: req.httpVersion, status, bytes: 0, referer, userAgent, durationUs: (end - start) * 1000, worker: null },
          Date.now(),
        ),
      );
      return;
    }
    this.accessLog.info(
      { requestId, remote: req.client, method: req.method, host, path: req.url, status, bytes: 0, durationMs: roundMs(end - start), ingress: stats === this.stats.unrouted ? null : `${stats.namespace}/${stats.ingress}`, service: null, member: null, code: error === null ? null : error.code },
      "request",
    );
  }

  /** Handles one request against the router it was given (read once by the caller). */
  handle(router: Router, req: ProxyRequest, res: ProxyResponse): void {
    const start = performance.now();
    this.#cells[STAT_BUSY] = (this.#cells[STAT_BUSY] as number) + 1;
    const url = req.url ?? "/";
    const raw = req.rawHeaders;

    this.#globalRules = router.globalResponseRules;
    const head = this.#head;
    scanRequestHead(raw, head);
    const headers = head.headers;
    let hostValue = head.hostValue;
    const { forwardedFor, contentLength, cookie, referer, userAgent } = head;
    const hasBody = contentLength !== null || head.transferEncoding;
    let requestId = head.requestId;
    const generated = requestId === null;
    if (requestId === null) requestId = this.#ids.next();
    const unrouted = this.stats.unrouted;
    if (head.grpc) res.grpc = true;
    const peer = this.peerAddress(req.socket);
    const client = this.trustedProxies === null ? peer : clientAddress(peer, forwardedFor, this.trustedProxies);
    req.client = client;
    if ((head.xForwardedProto !== null || head.xForwardedPort !== null) && this.trustedProxies !== null && this.trustedProxies.contains(peer)) believeForwarded(req, head.xForwardedProto, head.xForwardedPort);
    if (head.transferCoding !== 0 || (head.transferEncoding && req.httpVersionMinor === 0 && req.httpVersionMajor === 1)) {
      // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing; §6.3: chunked not last -> 400.
      const error = head.transferCoding === 501 ? new TransferCodingError() : new BadRequestError("bad Transfer-Encoding");
      this.#reject(req, res, error, hostValue, start, unrouted, requestId, referer, userAgent);
      return;
    }
    if (head.hostCount > 1) {
      // RFC 9112 §3.2: more than one Host is a 400 (which one would a front proxy have routed by?).
      this.#reject(req, res, new BadRequestError("duplicate Host"), hostValue, start, unrouted, requestId, referer, userAgent);
      return;
    }

    const target = this.#target;
    const targetError = resolveTarget(router, url, hostValue, target);
    if (targetError !== null) {
      this.#reject(req, res, targetError, hostValue, start, unrouted, requestId, referer, userAgent);
      return;
    }
    const host = target.host;
    const path = target.path;
    hostValue = target.hostValue;

    const q = path.indexOf("?");
    const route = router.route(host, q === -1 ? path : path.slice(0, q));
    if (route === null) {
      const notFound = router.notFoundPages;
      if (notFound !== null && notFound.applies(404, req.method, res.grpc)) this.#rejectWithPage(req, res, new NoRouteError(), notFound, hostValue, start, unrouted, requestId, referer, userAgent, "");
      else this.#reject(req, res, new NoRouteError(), hostValue, start, unrouted, requestId, referer, userAgent);
      return;
    }
    if (route.sslRedirect !== null && req.forwardedProto !== "https" && host !== "" && !isAcmeChallenge(path)) {
      this.#redirectToHttps(req, res, route, host, hostValue, path, start, requestId, referer, userAgent);
      return;
    }
    if (route.appRoot !== null && (q === -1 ? path.length === 1 : q === 1)) {
      this.#redirectToAppRoot(req, res, route, hostValue, start, requestId, referer, userAgent);
      return;
    }

    // Perimeter: allow/deny CIDRs (403), rate limits (429); then authentication, then (in #proceed) the body limit (413).
    const refusal = this.admit(route, client, start);
    if (refusal !== null) {
      this.#reject(req, res, refusal, hostValue, start, route.stats, requestId, referer, userAgent);
      return;
    }
    // Authentication (auth.ts), asynchronous: the request goes on in #proceed once admitted.
    if (route.auth !== null) {
      void this.#authorize(route.auth, req, res, route, start, host, hostValue, path, headers, forwardedFor, contentLength, cookie, hasBody, requestId, generated, referer, userAgent, head.grpc ? head.grpcTimeout : undefined);
      return;
    }
    this.#proceed(req, res, route, start, host, hostValue, path, headers, forwardedFor, contentLength, cookie, hasBody, requestId, generated, referer, userAgent, head.grpc ? head.grpcTimeout : undefined);
  }

  /** Authenticates, then answers (401/403/503) or goes on in #proceed with the auth service's headers set. */
  async #authorize(
    auth: CompiledAuth,
    req: ProxyRequest,
    res: ProxyResponse,
    route: CompiledRoute,
    start: number,
    host: string,
    hostValue: string,
    path: string,
    headers: string[],
    forwardedFor: string | null,
    contentLength: string | null,
    cookie: string | null,
    hasBody: boolean,
    requestId: string,
    generated: boolean,
    referer: string | null,
    userAgent: string | null,
    grpcTimeout: string | null | undefined,
  ): Promise<void> {
    const verdict = await this.auth.check(auth, { method: req.method ?? "GET", path, hostValue, proto: req.forwardedProto, port: req.forwardedPort, remote: this.peerAddress(req.socket), forwardedFor: this.upstreamForwardedFor(this.peerAddress(req.socket), forwardedFor), headers, requestId });
    if (res.destroyed || req.socket.destroyed) {
      // The client left while it was being authenticated.
      this.account(route.stats, req.method, 499, performance.now() - start, 0, 0);
      return;
    }
    if (verdict.status !== 0) {
      const error = verdict.status === 401 ? new AuthRequiredError() : verdict.status === 403 ? new AuthForbiddenError() : new AuthUnavailableError();
      this.#reject(req, res, error, hostValue, start, route.stats, requestId, referer, userAgent, verdict.client);
      return;
    }
    if (verdict.replace !== null) removeNames(headers, verdict.replace as string[]);
    if (verdict.upstream !== null) for (let i = 0; i < verdict.upstream.length; i++) headers.push(verdict.upstream[i] as string);
    this.#proceed(req, res, route, start, host, hostValue, path, headers, forwardedFor, contentLength, cookie, hasBody, requestId, generated, referer, userAgent, grpcTimeout);
  }

  /** After the checks: side, election, upstream headers, dispatch. */
  #proceed(
    req: ProxyRequest,
    res: ProxyResponse,
    route: CompiledRoute,
    start: number,
    host: string,
    hostValue: string,
    path: string,
    headers: string[],
    forwardedFor: string | null,
    contentLength: string | null,
    cookie: string | null,
    hasBody: boolean,
    requestId: string,
    generated: boolean,
    referer: string | null,
    userAgent: string | null,
    /** The request's grpc-timeout when it is a gRPC request (copied out of the reused head scan); undefined = not gRPC. */
    grpcTimeout: string | null | undefined,
  ): void {
    // Request body limit (413 by Content-Length now, or counted as the body streams).
    if (route.maxBodyBytes !== null && hasBody) {
      if (contentLength !== null) {
        if (Number(contentLength) > route.maxBodyBytes) {
          this.#reject(req, res, new BodyTooLargeError(), hostValue, start, route.stats, requestId, referer, userAgent);
          return;
        }
      } else req.bodyLimit = route.maxBodyBytes;
    }

    // Side (canary split), sticky route, election.
    const side = this.#side;
    this.chooseSide(route, path, headers, cookie, side);
    const balancer = side.balancer as Balancer;
    const { ingress, stickyRoute } = side;
    const stats = side.stats as RouteStats;
    const transport = balancer.transport;
    if (transport.failClosed) {
      const error = new UpstreamTlsConfigError();
      if (route.errorPages !== null && route.errorPages.applies(ERROR_RESPONSES[error.code].status, req.method, res.grpc)) {
        this.#rejectWithPage(req, res, error, route.errorPages, hostValue, start, stats, requestId, referer, userAgent, balancer.config.id);
      } else {
        this.#reject(req, res, error, hostValue, start, stats, requestId, referer, userAgent);
      }
      return;
    }
    const stamp = this.nextStamp();
    const member = balancer.pick(stickyRoute, stamp);
    if (member === null) {
      const error = balancer.outcome === PickOutcome.StickyRefused ? new StickyUnavailableError() : new NoMemberError();
      if (route.errorPages !== null && route.errorPages.applies(ERROR_RESPONSES[error.code].status, req.method, res.grpc)) {
        this.#rejectWithPage(req, res, error, route.errorPages, hostValue, start, stats, requestId, referer, userAgent, balancer.config.id);
      } else {
        this.#reject(req, res, error, hostValue, start, stats, requestId, referer, userAgent);
      }
      return;
    }
    // httpd's Set-Cookie recipe (env=BALANCER_ROUTE_CHANGED): a new or moved session gets the member's cookie.
    const setCookie = balancer.config.sticky !== null && balancer.outcome !== PickOutcome.Sticky ? member.setCookie : null;

    const peer = this.peerAddress(req.socket);
    this.appendForwarded(headers, route, hostValue, this.upstreamForwardedFor(peer, forwardedFor), peer, req.forwardedProto, req.forwardedPort);
    if (generated) headers.push("x-request-id", requestId);
    if (route.mapping !== null) headers.push("x-forwarded-prefix", route.mapping.forwardedPrefix);
    if (route.requestRules !== null) route.requestRules.apply(headers);
    // gRPC members need `te: trailers` (hop-by-hop, so the client's was not forwarded); its deadline caps the read timeout.
    if (transport.grpc) headers.push("te", "trailers");
    const readMs = grpcTimeout !== undefined ? cappedReadMs(route.readMs, parseGrpcTimeout(grpcTimeout)) : route.readMs;

    const options: UpstreamDispatchOptions = {
      path: route.mapping === null ? path : route.mapping.toUpstream(path),
      method: req.method ?? "GET",
      headers,
      body: hasBody ? req : null,
      headersTimeout: readMs,
      bodyTimeout: readMs,
      // TLS members: SNI (and the verified name) is the balancer's, never the client's Host.
      servername: transport.servername,
    };
    // AJP members: the forward request's client facts come from the connection, never from headers.
    if (transport.ajp !== null) options.ajp = ajpRequestInfo(req, req.socket.remoteAddress ?? "", host, Number(req.forwardedPort), stickyRoute);
    const requestBytes = contentLength === null ? 0 : Number(contentLength) || 0;
    let slotKey: string | null = null;
    if (route.limitConnections !== null && route.limiter !== null) {
      slotKey = limitKey(req.client);
      route.limiter.acquire(slotKey);
    }
    const exchange = new Exchange(this, req, res, route, balancer, ingress, member, start, hostValue, stamp, stickyRoute, setCookie, options, hasBody, requestBytes, stats, requestId, referer, userAgent, slotKey);
    res.exchange = exchange;
    if (hasBody) {
      req.exchange = exchange;
      // HTTP/2 streams (H2ProxyRequest) have neither the timer nor the chunk counter (README: not done).
      if (this.clientBodyTimeoutMs !== null && !req.complete && req instanceof ProxyRequest) req.armBodyTimer(this.clientBodyTimeoutMs);
    }
    res.on("drain", onResponseDrain);
    res.on("close", onResponseClose);
    if (hasBody) req.on("error", noop);

    if (this.log.isLevelEnabled("debug")) {
      this.log.debug({ host, path, member: member.key, ingress, sticky: balancer.outcome === PickOutcome.Sticky }, "forwarding");
    }
    exchange.dispatch();
  }

  /** The connection's peer: the PROXY protocol source when `--proxy-protocol` is on, else the socket's. */
  peerAddress(socket: import("node:net").Socket): string {
    if (this.peerOf !== null) {
      const p = this.peerOf(socket);
      if (p !== undefined) return p;
    }
    return socket.remoteAddress ?? "";
  }

  /**
   * X-Forwarded-For received, as it may go upstream (the peer is appended after it): kept when no
   * `--trusted-proxies` are set (httpd's behaviour) or the peer is trusted; dropped (forged) when
   * the peer is not a trusted proxy.
   */
  upstreamForwardedFor(peer: string, forwardedFor: string | null): string | null {
    if (forwardedFor === null || this.trustedProxies === null) return forwardedFor;
    return this.trustedProxies.contains(peer) ? forwardedFor : null;
  }

  /**
   * The perimeter checks of a routed request (and upgrade) by client address, in order: allow/deny
   * CIDRs (403), `limit-rps`/`limit-burst` (429), `limit-connections` (429). null = admitted.
   */
  admit(route: CompiledRoute, client: string, now: number): ProxyError | null {
    if (route.access !== null && !route.access.allows(client)) return new ForbiddenError();
    const limiter = route.limiter;
    if (limiter === null) return null;
    const key = limitKey(client);
    if (route.rateLimit !== null && !limiter.take(key, route.rateLimit, now)) return new RateLimitedError(limiter.retryAfter);
    if (route.limitConnections !== null && limiter.inFlight(key) >= route.limitConnections) return new RateLimitedError(1);
    return null;
  }

  /**
   * The route's side for a request (canary split), its sticky route (read again with the canary's
   * own sticky settings when they differ), Ingress and counters.
   */
  chooseSide(route: CompiledRoute, path: string, headers: string[], cookie: string | null, out: RequestSide): void {
    const primary = route.balancer;
    const primarySticky = primary.config.sticky;
    let stickyRoute = primarySticky === null ? null : stickyRouteOf(path, cookie, primarySticky);
    const canary = route.canary;
    if (canary !== null && this.toCanary(canary, primary, headers, cookie, stickyRoute)) {
      const sticky = canary.balancer.config.sticky;
      if (sticky === null) stickyRoute = null;
      else if (primarySticky === null || sticky.cookie !== primarySticky.cookie || sticky.param !== primarySticky.param) stickyRoute = stickyRouteOf(path, cookie, sticky);
      out.balancer = canary.balancer;
      out.ingress = canary.ingress;
      out.stats = canary.stats;
    } else {
      out.balancer = primary;
      out.ingress = route.ingress;
      out.stats = route.stats;
    }
    out.stickyRoute = stickyRoute;
  }

  /** Host (the client's, the route's upstream vhost, or none: the member's address) and X-Forwarded-* (proto and port: the client side's listener). */
  appendForwarded(headers: string[], route: CompiledRoute, hostValue: string, forwardedFor: string | null, remote: string, proto: string, port: string): void {
    const upstreamHost = route.upstreamHost ?? hostValue;
    if (upstreamHost !== "") headers.push("host", upstreamHost);
    headers.push("x-forwarded-for", forwardedFor === null ? remote : `${forwardedFor}, ${remote}`);
    headers.push("x-forwarded-proto", proto);
    if (hostValue !== "") headers.push("x-forwarded-host", hostValue);
    headers.push("x-forwarded-port", port);
  }

  /** An upgrade request arrived (server-status counts it busy until `upgradeEnded`). */
  upgradeStarted(): void {
    this.#cells[STAT_BUSY] = (this.#cells[STAT_BUSY] as number) + 1;
  }

  /** A request id for an upgrade request that brought no acceptable one. */
  nextRequestId(): string {
    return this.#ids.next();
  }

  /**
   * The end of an upgrade request, like a request's end: its counters (status 101 for a tunnel,
   * the relayed status, or the refusal's) and one access-log line. `bytesIn`/`bytesOut`: what the
   * client sent and received on its connection over the tunnel's life (heads included).
   */
  upgradeEnded(end: UpgradeEnd): void {
    const now = performance.now();
    this.account(end.stats, "GET", end.status, now - end.start, end.bytesIn, end.bytesOut);
    if (this.accessLog === null) return;
    const req = end.req;
    if (this.combined !== null) {
      if (!this.accessLog.isLevelEnabled("info")) return;
      this.combined.write(
        this.formatter.line(
          { remote: clientOf(req), method: req.method ?? "", url: req.url ?? "", httpVersion: req.httpVersion, status: end.status, bytes: end.bytesOut, referer: end.referer, userAgent: end.userAgent, durationUs: (now - end.start) * 1000, worker: end.member === null ? null : end.member.upstream.origin },
          Date.now(),
        ),
      );
      return;
    }
    this.accessLog.info(
      {
        requestId: end.requestId,
        remote: clientOf(req),
        method: req.method,
        host: end.host,
        path: req.url,
        status: end.status,
        bytes: end.bytesOut,
        bytesIn: end.bytesIn,
        durationMs: roundMs(now - end.start),
        ingress: end.ingress,
        service: end.service,
        member: end.member === null ? null : end.member.key,
        upgrade: "websocket",
        retries: end.retries,
        ...(end.code === null ? {} : { code: end.code }),
      },
      "request",
    );
  }

  /**
   * Canary or primary: the `byHeader` header's value "always"/"never", else the `byCookie`
   * cookie's, else a session stays on the side whose balancer has its route, else the weight
   * (byrequests-smooth on the canary balancer's shared split counters).
   */
  toCanary(canary: CompiledCanary, primary: Balancer, headers: string[], cookie: string | null, stickyRoute: string | null): boolean {
    if (canary.byHeader !== null) {
      const name = canary.byHeader;
      for (let i = 0; i < headers.length; i += 2) {
        if (headers[i] !== name) continue;
        const value = headers[i + 1];
        if (value === "always") return true;
        if (value === "never") return false;
        break;
      }
    }
    if (canary.byCookie !== null && cookie !== null) {
      const value = cookieValue(cookie, canary.byCookie);
      if (value === "always") return true;
      if (value === "never") return false;
    }
    if (stickyRoute !== null) {
      if (canary.balancer.memberForRoute(stickyRoute) !== undefined) return true;
      if (primary.memberForRoute(stickyRoute) !== undefined) return false;
    }
    return canary.balancer.splitToCanary(canary.weight);
  }
}
