// HTTP/2 requests on the same request path as HTTP/1.1 (Forwarder.handle): node:http2's
// compatibility classes, subclassed so that what the forwarder reads looks like an HTTP/1.1
// request. The mapping is done once, in the request's constructor, for HTTP/2 streams only: the
// HTTP/1.1 path is untouched.
//
// Request (RFC 9113 §8.3, and §8.2.3 for the way to HTTP/1.1):
// - pseudo-headers are never forwarded; `:authority` becomes Host. A Host header that differs
//   from `:authority` is kept as a second Host, which the forwarder answers with 400 (RFC 9113
//   §8.3.1: such a request is malformed); an equal one is dropped.
// - several `cookie` fields are joined with "; " into one (HTTP/1.1 allows one Cookie line).
// - a stream whose HEADERS frame did not end it carries a body: without a content-length the
//   request is marked `transfer-encoding: chunked` (which HTTP/2 clients cannot send themselves:
//   nghttp2 refuses connection-specific fields), so the forwarder streams it upstream chunked,
//   exactly as it does an HTTP/1.1 chunked body. The marker itself is never forwarded.
// Response: the flat header list goes through `writeHead`, which node:http2 appends field by field
// (so several Set-Cookie survive); connection-specific fields never reach it (the forwarder drops
// hop-by-hop fields, and node:http2 drops a `connection` field).

import { Http2ServerRequest, Http2ServerResponse, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { ReadableOptions } from "node:stream";
import type { Exchange } from "./forward.js";

/** Raw headers of an HTTP/2 request as an HTTP/1.1 request would have them (see the file comment). */
export function http1RawHeaders(raw: ReadonlyArray<string>, hasBody: boolean): string[] {
  const out: string[] = [];
  let authority: string | null = null;
  let host: string | null = null;
  let cookie: string | null = null;
  let hasLength = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? "";
    const value = raw[i + 1] ?? "";
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ":authority") authority = value;
      continue;
    }
    switch (name) {
      case "host":
        if (host === null) host = value;
        else out.push("host", value); // a second Host: 400, as in HTTP/1.1
        continue;
      case "cookie":
        cookie = cookie === null ? value : `${cookie}; ${value}`;
        continue;
      case "content-length":
        hasLength = true;
        break;
    }
    out.push(name, value);
  }
  if (authority !== null) {
    out.push("host", authority);
    if (host !== null && host.toLowerCase() !== authority.toLowerCase()) out.push("host", host);
  } else if (host !== null) out.push("host", host);
  if (cookie !== null) out.push("cookie", cookie);
  if (hasBody && !hasLength) out.push("transfer-encoding", "chunked");
  return out;
}

/** An HTTP/2 request as the forwarder reads it. `forwardedProto`/`forwardedPort` come from the listener's subclass (see ProxyRequest). */
export class H2ProxyRequest extends Http2ServerRequest {
  declare forwardedProto: string;
  declare forwardedPort: string;
  /** True on the TLS listener. */
  declare secure: boolean;

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, options: ReadableOptions, rawHeaders: ReadonlyArray<string>) {
    super(stream, headers, options, http1RawHeaders(rawHeaders, !stream.endAfterHeaders));
  }
}
H2ProxyRequest.prototype.forwardedProto = "http";
H2ProxyRequest.prototype.forwardedPort = "";
H2ProxyRequest.prototype.secure = false;

export class H2ProxyResponse extends Http2ServerResponse<H2ProxyRequest> {
  exchange: Exchange | null = null;
  /** A gRPC request: errors the proxy generates are gRPC statuses (see ProxyResponse). */
  grpc = false;
  /** `Expect: 100-continue` not answered yet (see ProxyResponse). */
  continuePending = false;
}
