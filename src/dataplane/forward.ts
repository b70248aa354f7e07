// The request path: route, elect a member, forward with undici `dispatch` and one handler object
// per request (no per-request closures: listeners are shared functions that find their exchange
// through the ServerResponse subclass). Bodies stream both ways with backpressure; a client abort
// aborts the upstream request; an upstream error ends the client response (destroyed once
// headers are out).

import { IncomingMessage, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import type { Logger } from "../util/index.js";
import type { BalancerMember } from "./balancer/index.js";
import {
  BadRequestError,
  ClientAbortError,
  ERROR_RESPONSES,
  ForeignHostError,
  NoMemberError,
  NoRouteError,
  TransferCodingError,
  classifyUpstreamError,
  type ProxyError,
} from "./errors.js";
import { connectionTokens, isHopByHop, removeNames } from "./headers.js";
import { parseHost } from "./host.js";
import type { CompiledRoute, Router } from "./router.js";

export class ProxyRequest extends IncomingMessage {}

export class ProxyResponse extends ServerResponse<ProxyRequest> {
  exchange: Exchange | null = null;
}

export interface ForwarderOptions {
  readonly log: Logger;
  readonly accessLog: Logger | null;
  /** Test mode: `x-proxypass-worker` response header with this id; null = off. */
  readonly workerId: string | null;
}

const TEXT_PLAIN = "text/plain; charset=utf-8";

function noop(): void {}

function onResponseDrain(this: ProxyResponse): void {
  const ex = this.exchange;
  if (ex !== null) ex.resume();
}

function onResponseClose(this: ProxyResponse): void {
  const ex = this.exchange;
  if (ex !== null && !this.writableFinished) ex.clientGone();
}

/** One proxied request: the undici handler (new-style API) plus the bookkeeping for logs and counters. */
export class Exchange implements Dispatcher.DispatchHandler {
  readonly #fw: Forwarder;
  readonly #req: ProxyRequest;
  readonly #res: ProxyResponse;
  readonly #route: CompiledRoute;
  readonly #member: BalancerMember;
  readonly #start: number;
  readonly #host: string;
  #controller: Dispatcher.DispatchController | null = null;
  #bytes = 0;
  #done = false;
  #clientGone = false;

  constructor(fw: Forwarder, req: ProxyRequest, res: ProxyResponse, route: CompiledRoute, member: BalancerMember, start: number, host: string) {
    this.#fw = fw;
    this.#req = req;
    this.#res = res;
    this.#route = route;
    this.#member = member;
    this.#start = start;
    this.#host = host;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#clientGone) controller.abort(new ClientAbortError());
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // informational: not relayed
    const out: string[] = [];
    let listed: string[] | null = null;
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined) continue;
      if (isHopByHop(name)) {
        // Several Connection lines arrive as an array: every line's tokens are hop-by-hop.
        if (name === "connection") listed = connectionTokens(typeof value === "string" ? value : value.join(","));
        continue;
      }
      if (typeof value === "string") out.push(name, value);
      else for (let i = 0; i < value.length; i++) out.push(name, value[i] ?? "");
    }
    if (listed !== null) removeNames(out, listed);
    if (this.#route.responseRules !== null) this.#route.responseRules.apply(out);
    if (this.#fw.workerId !== null) out.push("x-proxypass-worker", this.#fw.workerId);
    this.#res.writeHead(statusCode, out);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#bytes += chunk.length;
    if (!this.#res.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.#res.end();
    this.#finish(this.#res.statusCode);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.#done) return;
    if (this.#clientGone) {
      this.#finish(499);
      return;
    }
    const error = classifyUpstreamError(err);
    if (this.#fw.log.isLevelEnabled("debug")) {
      this.#fw.log.debug({ err, code: error.code, member: this.#member.key, ingress: this.#route.ingress }, "upstream error");
    }
    if (!this.#res.headersSent) {
      const status = this.#fw.sendError(this.#res, error);
      this.#finish(status);
    } else {
      this.#res.destroy(error);
      this.#finish(this.#res.statusCode);
    }
  }

  resume(): void {
    if (this.#controller !== null) this.#controller.resume();
  }

  clientGone(): void {
    if (this.#done || this.#clientGone) return;
    this.#clientGone = true;
    if (this.#controller !== null) this.#controller.abort(new ClientAbortError());
  }

  #finish(status: number): void {
    if (this.#done) return;
    this.#done = true;
    this.#member.release();
    this.#res.exchange = null;
    if (this.#fw.accessLog !== null) {
      this.#fw.accessLog.info(
        {
          method: this.#req.method,
          host: this.#host,
          path: this.#req.url,
          status,
          bytes: this.#bytes,
          durationMs: Math.round((performance.now() - this.#start) * 1000) / 1000,
          member: this.#member.key,
          ingress: this.#route.ingress,
        },
        "request",
      );
    }
  }
}

function startsWithHttpScheme(url: string): number {
  // Returns the index after "scheme://" for http/https absolute-form, else -1. Case-insensitive.
  const lower = url.length > 8 ? url.slice(0, 8).toLowerCase() : url.toLowerCase();
  if (lower.startsWith("http://")) return 7;
  if (lower.startsWith("https://")) return 8;
  return -1;
}

/** Stateless per request: holds the per-server settings the request path reads. */
export class Forwarder {
  readonly log: Logger;
  readonly accessLog: Logger | null;
  readonly workerId: string | null;
  /** Value of X-Forwarded-Port: the listener's port, set once listening. */
  forwardedPort = "";
  readonly forwardedProto = "http";

  constructor(options: ForwarderOptions) {
    this.log = options.log;
    this.accessLog = options.accessLog;
    this.workerId = options.workerId;
  }

  /** Writes the error's short plain-text response; returns its status. */
  sendError(res: ProxyResponse, error: ProxyError): number {
    const r = ERROR_RESPONSES[error.code];
    if (this.workerId !== null) {
      res.writeHead(r.status, ["content-type", TEXT_PLAIN, "content-length", r.contentLength, "x-proxypass-worker", this.workerId]);
    } else {
      res.writeHead(r.status, ["content-type", TEXT_PLAIN, "content-length", r.contentLength]);
    }
    res.end(r.body);
    return r.status;
  }

  #reject(req: ProxyRequest, res: ProxyResponse, error: ProxyError, host: string, start: number): void {
    const status = this.sendError(res, error);
    if (this.accessLog !== null) {
      this.accessLog.info(
        { method: req.method, host, path: req.url, status, bytes: 0, durationMs: Math.round((performance.now() - start) * 1000) / 1000, member: null, ingress: null, code: error.code },
        "request",
      );
    }
  }

  /** Handles one request against the router it was given (read once by the caller). */
  handle(router: Router, req: ProxyRequest, res: ProxyResponse): void {
    const start = performance.now();
    const url = req.url ?? "/";
    const raw = req.rawHeaders;

    // One pass over the raw headers: forwarded set (lower-case names), plus what we need.
    const headers: string[] = [];
    let hostValue = "";
    let hostCount = 0;
    let forwardedFor: string | null = null;
    let listed: string[] | null = null;
    let hasBody = false;
    let unchunked = false;
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
        case "x-forwarded-host":
        case "x-forwarded-port":
        case "via":
          continue;
        case "content-length":
          hasBody = true;
          break;
        case "transfer-encoding":
          // Node only de-chunks; any other coding (gzip, chunked) would reach the upstream undeclared.
          hasBody = true;
          if (value.length !== 7 || (value !== "chunked" && value.toLowerCase() !== "chunked")) unchunked = true;
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
    if (unchunked) {
      this.#reject(req, res, new TransferCodingError(), hostValue, start);
      return;
    }
    if (hostCount > 1) {
      // RFC 9112 §3.2: more than one Host is a 400 (which one would a front proxy have routed by?).
      this.#reject(req, res, new BadRequestError("duplicate Host"), hostValue, start);
      return;
    }

    // Request target: origin-form; absolute-form only for a host we serve (never an open proxy).
    let path = url;
    let host: string | null;
    if (url.charCodeAt(0) !== 47 /* / */) {
      const schemeEnd = startsWithHttpScheme(url);
      if (schemeEnd === -1) {
        this.#reject(req, res, new BadRequestError(), hostValue, start);
        return;
      }
      let authorityEnd = url.length;
      for (let i = schemeEnd; i < url.length; i++) {
        const c = url.charCodeAt(i);
        if (c === 47 || c === 63 || c === 35) {
          authorityEnd = i;
          break;
        }
      }
      const authority = url.slice(schemeEnd, authorityEnd);
      host = authority === "" ? null : parseHost(authority); // null: userinfo, bad port...
      if (host === null || !router.servesHost(host)) {
        this.#reject(req, res, new ForeignHostError(), hostValue, start);
        return;
      }
      hostValue = authority;
      path = authorityEnd === url.length ? "/" : url.charCodeAt(authorityEnd) === 47 ? url.slice(authorityEnd) : `/${url.slice(authorityEnd)}`;
    } else {
      host = parseHost(hostValue); // null: a value other than uri-host [":" port]
      if (host === null) {
        this.#reject(req, res, new BadRequestError("invalid Host"), hostValue, start);
        return;
      }
    }

    const q = path.indexOf("?");
    const route = router.route(host, q === -1 ? path : path.slice(0, q));
    if (route === null) {
      this.#reject(req, res, new NoRouteError(), hostValue, start);
      return;
    }
    const member = route.balancer.pick(null, 0);
    if (member === null) {
      this.#reject(req, res, new NoMemberError(), hostValue, start);
      return;
    }

    const upstreamHost = route.upstreamHost ?? hostValue;
    if (upstreamHost !== "") headers.push("host", upstreamHost); // else undici sends the member's address
    const remote = req.socket.remoteAddress ?? "";
    headers.push("x-forwarded-for", forwardedFor === null ? remote : `${forwardedFor}, ${remote}`);
    headers.push("x-forwarded-proto", this.forwardedProto);
    if (hostValue !== "") headers.push("x-forwarded-host", hostValue);
    headers.push("x-forwarded-port", this.forwardedPort);
    if (route.requestRules !== null) route.requestRules.apply(headers);

    const exchange = new Exchange(this, req, res, route, member, start, hostValue);
    res.exchange = exchange;
    res.on("drain", onResponseDrain);
    res.on("close", onResponseClose);
    if (hasBody) req.on("error", noop);

    if (this.log.isLevelEnabled("debug")) {
      this.log.debug({ host, path, member: member.key, ingress: route.ingress }, "forwarding");
    }
    member.upstream.pool(route.connectMs).dispatch(
      {
        path,
        method: req.method ?? "GET",
        headers,
        body: hasBody ? req : null,
        headersTimeout: route.readMs,
        bodyTimeout: route.readMs,
      },
      exchange,
    );
  }
}
