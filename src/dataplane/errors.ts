// Typed data-plane errors with stable codes, and the ONE table that maps them to HTTP statuses.
// Bodies are short plain text and never carry internal detail (addresses, stack, undici codes).

export type ProxyErrorCode =
  | "PPI_ERR_NO_ROUTE"
  | "PPI_ERR_BAD_REQUEST"
  | "PPI_ERR_FOREIGN_HOST"
  | "PPI_ERR_METHOD_NOT_ALLOWED"
  | "PPI_ERR_TRANSFER_CODING"
  | "PPI_ERR_NO_MEMBER"
  | "PPI_ERR_STICKY_UNAVAILABLE"
  | "PPI_ERR_UPSTREAM_REFUSED"
  | "PPI_ERR_UPSTREAM_RESET"
  | "PPI_ERR_UPSTREAM"
  | "PPI_ERR_CONNECT_TIMEOUT"
  | "PPI_ERR_READ_TIMEOUT"
  | "PPI_ERR_CLIENT_ABORT"
  | "PPI_ERR_BODY_TOO_LARGE"
  | "PPI_ERR_BODY_TIMEOUT"
  | "PPI_ERR_FORBIDDEN"
  | "PPI_ERR_RATE_LIMITED"
  | "PPI_ERR_UPSTREAM_TLS"
  | "PPI_ERR_UPSTREAM_TLS_CONFIG"
  | "PPI_ERR_AUTH_REQUIRED"
  | "PPI_ERR_AUTH_FORBIDDEN"
  | "PPI_ERR_AUTH_UNAVAILABLE";

/** Base class of every data-plane error; `code` is stable and part of the log contract. */
export class ProxyError extends Error {
  readonly code: ProxyErrorCode;
  constructor(code: ProxyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ProxyError";
    this.code = code;
  }
}

export class NoRouteError extends ProxyError {
  constructor() {
    super("PPI_ERR_NO_ROUTE", "no route matches the request");
    this.name = "NoRouteError";
  }
}
export class BadRequestError extends ProxyError {
  constructor(message = "bad request target") {
    super("PPI_ERR_BAD_REQUEST", message);
    this.name = "BadRequestError";
  }
}
export class ForeignHostError extends ProxyError {
  constructor() {
    super("PPI_ERR_FOREIGN_HOST", "absolute-form request for a host this proxy does not serve");
    this.name = "ForeignHostError";
  }
}
export class MethodNotAllowedError extends ProxyError {
  constructor() {
    super("PPI_ERR_METHOD_NOT_ALLOWED", "method not allowed");
    this.name = "MethodNotAllowedError";
  }
}
/** A request transfer coding other than chunked (RFC 9112 §6.1: 501). */
export class TransferCodingError extends ProxyError {
  constructor() {
    super("PPI_ERR_TRANSFER_CODING", "unsupported request transfer coding");
    this.name = "TransferCodingError";
  }
}
export class NoMemberError extends ProxyError {
  constructor() {
    super("PPI_ERR_NO_MEMBER", "no usable balancer member");
    this.name = "NoMemberError";
  }
}
/** The request's sticky member is unusable and its balancer has nofailover (httpd: 503). */
export class StickyUnavailableError extends ProxyError {
  constructor() {
    super("PPI_ERR_STICKY_UNAVAILABLE", "the session's balancer member is unusable and failover is off");
    this.name = "StickyUnavailableError";
  }
}
export class UpstreamRefusedError extends ProxyError {
  constructor(cause: unknown) {
    super("PPI_ERR_UPSTREAM_REFUSED", "upstream refused the connection", { cause });
    this.name = "UpstreamRefusedError";
  }
}
export class UpstreamResetError extends ProxyError {
  constructor(cause: unknown) {
    super("PPI_ERR_UPSTREAM_RESET", "upstream reset the connection", { cause });
    this.name = "UpstreamResetError";
  }
}
export class UpstreamError extends ProxyError {
  constructor(cause: unknown) {
    super("PPI_ERR_UPSTREAM", "upstream error", { cause });
    this.name = "UpstreamError";
  }
}
export class ConnectTimeoutError extends ProxyError {
  constructor(cause: unknown) {
    super("PPI_ERR_CONNECT_TIMEOUT", "timed out connecting to upstream", { cause });
    this.name = "ConnectTimeoutError";
  }
}
export class ReadTimeoutError extends ProxyError {
  constructor(cause: unknown) {
    super("PPI_ERR_READ_TIMEOUT", "timed out reading from upstream", { cause });
    this.name = "ReadTimeoutError";
  }
}
/** The TLS handshake with a member failed (certificate not verified, name mismatch, protocol). */
export class UpstreamTlsError extends ProxyError {
  constructor(cause: unknown) {
    super("PPI_ERR_UPSTREAM_TLS", "TLS handshake with upstream failed", { cause });
    this.name = "UpstreamTlsError";
  }
}
/** backend-tls-verify is on but the balancer's CA Secret is missing or invalid: fail closed. */
export class UpstreamTlsConfigError extends ProxyError {
  constructor() {
    super("PPI_ERR_UPSTREAM_TLS_CONFIG", "backend CA Secret missing or invalid; upstream verification fails closed");
    this.name = "UpstreamTlsConfigError";
  }
}
export class ClientAbortError extends ProxyError {
  constructor() {
    super("PPI_ERR_CLIENT_ABORT", "client closed the connection");
    this.name = "ClientAbortError";
  }
}

/** The request body exceeds `max-body-size` (Content-Length, or a chunked body mid-stream): 413, connection closed. */
export class BodyTooLargeError extends ProxyError {
  constructor() {
    super("PPI_ERR_BODY_TOO_LARGE", "request body larger than max-body-size");
    this.name = "BodyTooLargeError";
  }
}
/** No request body bytes for `client-body-timeout`: 408, connection closed. */
export class BodyTimeoutError extends ProxyError {
  constructor() {
    super("PPI_ERR_BODY_TIMEOUT", "timed out reading the request body");
    this.name = "BodyTimeoutError";
  }
}
/** The client address is refused by `allow-cidrs` / `deny-cidrs`. */
export class ForbiddenError extends ProxyError {
  constructor() {
    super("PPI_ERR_FORBIDDEN", "client address not allowed");
    this.name = "ForbiddenError";
  }
}
/** Over `limit-rps`/`limit-burst` or `limit-connections`: 429 with Retry-After. */
export class RateLimitedError extends ProxyError {
  /** Seconds (Retry-After). */
  readonly retryAfter: number;
  constructor(retryAfter: number) {
    super("PPI_ERR_RATE_LIMITED", "rate limit exceeded");
    this.name = "RateLimitedError";
    this.retryAfter = retryAfter;
  }
}
/** Authentication: no, malformed or wrong credentials (basic auth), or the auth service said 401. */
export class AuthRequiredError extends ProxyError {
  constructor() {
    super("PPI_ERR_AUTH_REQUIRED", "authentication required");
    this.name = "AuthRequiredError";
  }
}
/** The auth service said 403. */
export class AuthForbiddenError extends ProxyError {
  constructor() {
    super("PPI_ERR_AUTH_FORBIDDEN", "authentication refused");
    this.name = "AuthForbiddenError";
  }
}
/** Authentication cannot be decided: missing or invalid auth Secret, auth service down, slow or answering something else (fail closed). */
export class AuthUnavailableError extends ProxyError {
  constructor() {
    super("PPI_ERR_AUTH_UNAVAILABLE", "authentication unavailable");
    this.name = "AuthUnavailableError";
  }
}

export interface ErrorResponse {
  readonly status: number;
  /** Pre-encoded short plain-text body. */
  readonly body: Buffer;
  readonly contentLength: string;
  /**
   * The connection is closed after this answer: the request's framing or body cannot be trusted
   * or was not read (400, 408, 413, 501), so nothing more is read from that connection.
   */
  readonly close: boolean;
}

function response(status: number, text: string, close = false): ErrorResponse {
  const body = Buffer.from(`${text}\n`, "latin1");
  return { status, body, contentLength: String(body.length), close };
}

/** The one table: error code -> status and body. 499 is logged only (the client is gone). */
export const ERROR_RESPONSES: Readonly<Record<ProxyErrorCode, ErrorResponse>> = Object.freeze({
  PPI_ERR_NO_ROUTE: response(404, "Not Found"),
  PPI_ERR_BAD_REQUEST: response(400, "Bad Request", true),
  // ProxyRequests Off: an absolute-form URL naming a host we do not serve is a host we have no route for.
  PPI_ERR_FOREIGN_HOST: response(404, "Not Found"),
  PPI_ERR_METHOD_NOT_ALLOWED: response(405, "Method Not Allowed"),
  PPI_ERR_TRANSFER_CODING: response(501, "Not Implemented", true),
  PPI_ERR_NO_MEMBER: response(503, "Service Unavailable"),
  PPI_ERR_STICKY_UNAVAILABLE: response(503, "Service Unavailable"),
  PPI_ERR_UPSTREAM_REFUSED: response(502, "Bad Gateway"),
  PPI_ERR_UPSTREAM_RESET: response(502, "Bad Gateway"),
  PPI_ERR_UPSTREAM: response(502, "Bad Gateway"),
  PPI_ERR_CONNECT_TIMEOUT: response(504, "Gateway Timeout"),
  PPI_ERR_READ_TIMEOUT: response(504, "Gateway Timeout"),
  PPI_ERR_UPSTREAM_TLS: response(502, "Bad Gateway"),
  PPI_ERR_UPSTREAM_TLS_CONFIG: response(502, "Bad Gateway"),
  PPI_ERR_CLIENT_ABORT: response(499, "Client Closed Request"),
  PPI_ERR_BODY_TOO_LARGE: response(413, "Content Too Large", true),
  PPI_ERR_BODY_TIMEOUT: response(408, "Request Timeout", true),
  PPI_ERR_FORBIDDEN: response(403, "Forbidden"),
  PPI_ERR_RATE_LIMITED: response(429, "Too Many Requests"),
  PPI_ERR_AUTH_REQUIRED: response(401, "Unauthorized"),
  PPI_ERR_AUTH_FORBIDDEN: response(403, "Forbidden"),
  PPI_ERR_AUTH_UNAVAILABLE: response(503, "Service Unavailable"),
});

function codeOf(err: unknown): string | undefined {
  if (err !== null && typeof err === "object" && "code" in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/** Classifies an error raised by undici (or the socket layer) into a typed ProxyError. */
export function classifyUpstreamError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  const code = codeOf(err);
  switch (code) {
    case "ECONNREFUSED":
      return new UpstreamRefusedError(err);
    case "ECONNRESET":
    case "EPIPE":
    case "UND_ERR_SOCKET":
      return new UpstreamResetError(err);
    case "UND_ERR_CONNECT_TIMEOUT":
    case "ETIMEDOUT":
      return new ConnectTimeoutError(err);
    case "UND_ERR_HEADERS_TIMEOUT":
    case "UND_ERR_BODY_TIMEOUT":
      return new ReadTimeoutError(err);
    default:
      return code !== undefined && isTlsFailureCode(code) ? new UpstreamTlsError(err) : new UpstreamError(err);
  }
}

/** OpenSSL verification codes and Node's TLS/SSL error codes. */
function isTlsFailureCode(code: string): boolean {
  return (
    code.startsWith("ERR_TLS_") ||
    code.startsWith("ERR_SSL_") ||
    code.startsWith("UNABLE_TO_") ||
    code.startsWith("CERT_") ||
    code === "DEPTH_ZERO_SELF_SIGNED_CERT" ||
    code === "SELF_SIGNED_CERT_IN_CHAIN" ||
    code === "HOSTNAME_MISMATCH"
  );
}

/**
 * A failure to reach the member at all (httpd puts the worker in error and fails over for any
 * method): refused, unreachable, name not resolved, connect timeout; or a socket that closed
 * before the request got onto it (`sent` false: undici never started the request) or before it
 * wrote a single byte (a fresh connection that the member closed at once).
 */
export function isConnectFailure(err: unknown, sent: boolean): boolean {
  switch (codeOf(err)) {
    case "ECONNREFUSED":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "UND_ERR_CONNECT_TIMEOUT":
      return true;
    case "ECONNRESET":
    case "EPIPE":
      return !sent;
    case "UND_ERR_SOCKET":
      return !sent || socketBytesWritten(err) === 0;
    default:
      return false;
  }
}

/** undici's SocketError carries the socket's counters; -1 when unknown. */
function socketBytesWritten(err: unknown): number {
  const socket = (err as { socket?: { bytesWritten?: unknown } }).socket;
  return socket !== undefined && socket !== null && typeof socket.bytesWritten === "number" ? socket.bytesWritten : -1;
}

/** A failure after the request went out (reset, closed socket, no response headers in time): retried for idempotent methods only. */
export function isSentFailure(err: unknown): boolean {
  switch (codeOf(err)) {
    case "ECONNRESET":
    case "EPIPE":
    case "UND_ERR_SOCKET":
    case "UND_ERR_HEADERS_TIMEOUT":
      return true;
    default:
      return false;
  }
}

/** undici never got the request onto a connection because its pool closed (the member was removed): safe to send elsewhere. */
export function isPoolClosed(err: unknown): boolean {
  const code = codeOf(err);
  return code === "UND_ERR_CLOSED" || code === "UND_ERR_DESTROYED";
}

/** A read timeout (httpd failontimeout): no response headers, or no body chunk, in time. */
export function isReadTimeout(err: unknown): boolean {
  const code = codeOf(err);
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
}
