// gRPC over the proxy (backend-protocol GRPC/GRPCS, and any request with content-type
// application/grpc*): errors the proxy generates are gRPC responses (HTTP 200, content-type
// application/grpc, `grpc-status` and `grpc-message` as trailers) instead of text; the
// `grpc-timeout` request header caps the upstream read timeout. Status codes follow
// grpc/grpc doc/statuscodes.md and doc/http-grpc-status-mapping.md.

import type { ProxyErrorCode } from "./errors.js";

export const GRPC_OK = 0;
export const GRPC_DEADLINE_EXCEEDED = 4;
export const GRPC_PERMISSION_DENIED = 7;
export const GRPC_RESOURCE_EXHAUSTED = 8;
export const GRPC_UNIMPLEMENTED = 12;
export const GRPC_INTERNAL = 13;
export const GRPC_UNAVAILABLE = 14;
export const GRPC_UNAUTHENTICATED = 16;
export const GRPC_UNKNOWN = 2;

/** `application/grpc`, `application/grpc+proto`, `application/grpc-web...` are gRPC requests (case-insensitive). */
export function isGrpcContentType(value: string): boolean {
  return value.length >= 16 && (value.startsWith("application/grpc") || value.slice(0, 16).toLowerCase() === "application/grpc");
}

/**
 * The gRPC status of an error the proxy generates: no member or a failed connection -> UNAVAILABLE;
 * a read timeout (grpc-timeout or `timeout`) -> DEADLINE_EXCEEDED; no route -> UNIMPLEMENTED;
 * other codes by their HTTP status (the gRPC HTTP mapping), INTERNAL otherwise.
 */
export function grpcStatusOf(code: ProxyErrorCode | string, httpStatus: number): number {
  switch (code) {
    case "PPI_ERR_NO_MEMBER":
    case "PPI_ERR_STICKY_UNAVAILABLE":
    case "PPI_ERR_UPSTREAM_REFUSED":
    case "PPI_ERR_UPSTREAM_RESET":
    case "PPI_ERR_CONNECT_TIMEOUT":
    case "PPI_ERR_UPSTREAM_TLS":
      return GRPC_UNAVAILABLE;
    case "PPI_ERR_READ_TIMEOUT":
      return GRPC_DEADLINE_EXCEEDED;
    case "PPI_ERR_NO_ROUTE":
      return GRPC_UNIMPLEMENTED;
    default:
      break;
  }
  switch (httpStatus) {
    case 401:
      return GRPC_UNAUTHENTICATED;
    case 403:
      return GRPC_PERMISSION_DENIED;
    case 404:
    case 405:
      return GRPC_UNIMPLEMENTED;
    case 413:
      return GRPC_RESOURCE_EXHAUSTED;
    case 429:
    case 503:
      return GRPC_UNAVAILABLE;
    case 504:
      return GRPC_DEADLINE_EXCEEDED;
    default:
      return GRPC_INTERNAL;
  }
}

/** Pre-encoded status texts (the trailer value of `grpc-status`). */
const STATUS_TEXT: ReadonlyArray<string> = Array.from({ length: 17 }, (_, i) => String(i));

export function grpcStatusText(status: number): string {
  return STATUS_TEXT[status] ?? String(status);
}

/**
 * `grpc-timeout` (TimeoutValue TimeoutUnit: 1-8 digits, then H M S m u n) in milliseconds, rounded
 * up (a sub-millisecond deadline is 1 ms); -1 when absent or malformed (then ignored).
 */
export function parseGrpcTimeout(value: string | null): number {
  if (value === null) return -1;
  const n = value.length;
  if (n < 2 || n > 9) return -1;
  let amount = 0;
  for (let i = 0; i < n - 1; i++) {
    const c = value.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    amount = amount * 10 + c;
  }
  switch (value.charCodeAt(n - 1)) {
    case 72 /* H */:
      return amount * 3_600_000;
    case 77 /* M */:
      return amount * 60_000;
    case 83 /* S */:
      return amount * 1000;
    case 109 /* m */:
      return amount;
    case 117 /* u */:
      return Math.ceil(amount / 1000);
    case 110 /* n */:
      return Math.ceil(amount / 1_000_000);
    default:
      return -1;
  }
}

/** The read timeout of a gRPC request: the route's, capped by its deadline. 0 = none (either). */
export function cappedReadMs(routeMs: number, deadlineMs: number): number {
  if (deadlineMs < 0) return routeMs;
  const deadline = deadlineMs === 0 ? 1 : deadlineMs;
  return routeMs === 0 || deadline < routeMs ? deadline : routeMs;
}

/** Trailer-only fields a gRPC member may put in its response headers (a Trailers-Only response). */
export function isGrpcStatusField(name: string): boolean {
  return name === "grpc-status" || name === "grpc-message" || name === "grpc-status-details-bin";
}

/** `grpc-message` is percent-encoded (gRPC over HTTP/2: Status-Message). Our messages are ASCII: only the few unsafe bytes. */
export function encodeGrpcMessage(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out += c < 0x20 || c > 0x7e || c === 0x25 ? `%${c.toString(16).toUpperCase().padStart(2, "0")}` : text[i];
  }
  return out;
}
