// custom-error-pages (httpd ProxyErrorOverride with ErrorDocument; ingress-nginx custom-http-errors
// with its default backend): for the statuses a route lists, the body of the member's response (or
// of the proxy's own 502/503/504) is replaced, the status kept. The body comes from, in order:
//   1. the route's `custom-error-backend` Service: GET / with ingress-nginx's X-Code, X-Format,
//      X-Original-URI, X-Namespace, X-Ingress-Name, X-Service-Name, X-Service-Port, X-Request-ID
//      headers; its answer is used when it is 2xx or the X-Code status, at most 256 KiB, in 5 s;
//   2. the ConfigMap's `error-page-<status>` page (text/html);
//   3. the built-in plain-text body.
// The error backend's request never goes through routing, so nothing it answers is overridden
// again: no loop. Not for HEAD (no body to replace), gRPC (gRPC statuses) or upgrades.
// Compiled once per route table: pages as Buffers, shared; per route a status table.

import { STATUS_CODES } from "node:http";
import type { ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import type { RouteOptions } from "../model/index.js";
import { errorBackendId } from "../model/index.js";
import type { Balancer, BalancerMember } from "./balancer/index.js";

/** Time for the error backend: connect, response headers, and between body chunks. */
export const ERROR_BACKEND_TIMEOUT_MS = 5_000;
/** A larger answer from the error backend is not used (the ConfigMap page or the built-in one is). */
export const MAX_ERROR_BACKEND_BODY = 256 * 1024;

const HTML = "text/html; charset=utf-8";
const TEXT_PLAIN = "text/plain; charset=utf-8";
const noPages: ReadonlyMap<number, Buffer> = new Map();
const controlCharacter = /[\r\n\0]/;

/** Who answers the client: completes the page's head (cookies, rules, worker id) and accounts for it. */
export interface ErrorPageOwner {
  /** Adds the owner's header lines to a page's head before it is written. */
  completeErrorHead(head: string[]): void;
  /** The page was written (or the client left: status 499); `bytes` of body. */
  errorPageSent(status: number, bytes: number): void;
}

/** A route's error pages: which statuses, the ConfigMap pages, the error backend. */
export class ErrorPages {
  /** Index status - 400: 1 where the route lists the status. */
  readonly #listed: Uint8Array;
  readonly #pages: ReadonlyArray<Buffer | null>;
  /** `custom-error-backend`'s balancer; null = none. */
  readonly backend: Balancer | null;
  /** X-Namespace and X-Ingress-Name: the route's Ingress. */
  readonly namespace: string;
  readonly ingressName: string;

  constructor(statuses: ReadonlyArray<number>, pages: ReadonlyMap<number, Buffer>, backend: Balancer | null, ingress: string) {
    const listed = new Uint8Array(200);
    const table: Array<Buffer | null> = new Array<Buffer | null>(200).fill(null);
    for (const s of statuses) {
      if (s < 400 || s > 599) continue;
      listed[s - 400] = 1;
      table[s - 400] = pages.get(s) ?? null;
    }
    this.#listed = listed;
    this.#pages = table;
    this.backend = backend;
    const slash = ingress.indexOf("/");
    this.namespace = ingress.slice(0, slash);
    this.ingressName = ingress.slice(slash + 1);
  }

  /**
   * A route's error pages; null when it lists no status, or when it has no error backend and none
   * of its statuses has a ConfigMap page (nothing to serve: responses pass unchanged).
   */
  static compile(options: RouteOptions, ingress: string, pages: ReadonlyMap<number, Buffer> | null, backendOf: ((id: string) => Balancer) | null): ErrorPages | null {
    const statuses = options.customErrorPages;
    if (statuses === undefined || statuses.length === 0) return null;
    const p = pages ?? noPages;
    const backend = options.customErrorBackend !== undefined && backendOf !== null ? backendOf(errorBackendId(ingress, options.customErrorBackend)) : null;
    if (backend === null && !statuses.some((s) => p.has(s))) return null;
    return new ErrorPages(statuses, p, backend, ingress);
  }

  /** The `error-page-<status>` keys of the server settings as Buffers. */
  static pagesOf(errorPages: Readonly<Record<string, string>> | undefined): ReadonlyMap<number, Buffer> {
    const out = new Map<number, Buffer>();
    if (errorPages === undefined) return out;
    for (const key of Object.keys(errorPages)) out.set(Number(key), Buffer.from(errorPages[key] as string, "utf8"));
    return out;
  }

  /** Whether a response with `status` to a `method` request gets an error page (never HEAD or gRPC). */
  applies(status: number, method: string | undefined, grpc: boolean): boolean {
    if (status < 400 || status > 599 || this.#listed[status - 400] !== 1 || method === "HEAD" || grpc) return false;
    return this.backend !== null || this.#pages[status - 400] !== null;
  }

  /** The ConfigMap page for `status`, or null. */
  pageFor(status: number): Buffer | null {
    return status >= 400 && status < 600 ? (this.#pages[status - 400] ?? null) : null;
  }
}

/** The built-in body of a status without a page: "503 Service Unavailable\n". */
export function builtInErrorBody(status: number): Buffer {
  return Buffer.from(`${status} ${STATUS_CODES[status] ?? "Error"}\n`, "latin1");
}

/**
 * One error page being served: asks the error backend (when the route has one and it has a usable
 * member), else falls back at once. Also the undici handler of the error backend's request.
 */
export class ErrorPageFetch implements Dispatcher.DispatchHandler {
  readonly #owner: ErrorPageOwner;
  readonly #res: ServerResponse;
  readonly #status: number;
  readonly #pages: ErrorPages;
  /** Built-in body and type, when neither the backend nor the ConfigMap gives one. */
  readonly #fallback: Buffer;
  readonly #fallbackType: string;
  #member: BalancerMember | null = null;
  #chunks: Buffer[] = [];
  #size = 0;
  #type = HTML;
  #usable = false;
  #done = false;

  constructor(owner: ErrorPageOwner, res: ServerResponse, status: number, pages: ErrorPages, fallback: Buffer | null, fallbackType: string = TEXT_PLAIN) {
    this.#owner = owner;
    this.#res = res;
    this.#status = status;
    this.#pages = pages;
    this.#fallback = fallback ?? builtInErrorBody(status);
    this.#fallbackType = fallbackType;
  }

  /**
   * Starts: `rawHeaders` of the client's request (for Accept), its target, request id and Host;
   * `service` the balancer id ("ns/name:port") of the route side that failed; `stamp` a failover stamp.
   */
  start(rawHeaders: ReadonlyArray<string>, originalUri: string, requestId: string, hostValue: string, service: string, stamp: number): void {
    const backend = this.#pages.backend;
    const member = backend === null || backend.transport.failClosed ? null : backend.pick(null, stamp);
    if (backend === null || member === null) {
      this.#fallBack();
      return;
    }
    this.#member = member;
    let accept = "";
    for (let i = 0; i < rawHeaders.length; i += 2) {
      if ((rawHeaders[i] as string).toLowerCase() === "accept") {
        accept = rawHeaders[i + 1] ?? "";
        break;
      }
    }
    const slash = service.indexOf("/");
    const colon = service.lastIndexOf(":");
    const headers: string[] = [
      "x-code", String(this.#status),
      "x-format", accept,
      "x-original-uri", originalUri,
      "x-namespace", this.#pages.namespace,
      "x-ingress-name", this.#pages.ingressName,
      "x-service-name", colon > slash ? service.slice(slash + 1, colon) : "",
      "x-service-port", colon > slash ? service.slice(colon + 1) : "",
      "x-request-id", requestId,
    ];
    if (hostValue !== "") headers.push("host", hostValue);
    const options: Dispatcher.DispatchOptions & { servername: string | null } = {
      path: "/",
      method: "GET",
      headers,
      body: null,
      headersTimeout: ERROR_BACKEND_TIMEOUT_MS,
      bodyTimeout: ERROR_BACKEND_TIMEOUT_MS,
      servername: backend.transport.servername,
    };
    member.upstream.pool(ERROR_BACKEND_TIMEOUT_MS, backend.transport).dispatch(options, this);
  }

  onRequestStart(): void {}

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // informational
    // ingress-nginx's error backends answer with X-Code as their status; 2xx is accepted too.
    this.#usable = statusCode === this.#status || (statusCode >= 200 && statusCode < 300);
    if (!this.#usable) {
      controller.abort(new Error(`error backend answered ${statusCode}`));
      return;
    }
    const type = headers["content-type"];
    if (typeof type === "string" && type !== "" && !controlCharacter.test(type)) this.#type = type;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#usable) return;
    this.#size += chunk.length;
    if (this.#size > MAX_ERROR_BACKEND_BODY) {
      this.#usable = false;
      controller.abort(new Error("error backend answer too large"));
      return;
    }
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    this.#release();
    if (!this.#usable) {
      this.#fallBack();
      return;
    }
    const body = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks, this.#size);
    this.#chunks = [];
    this.#send(body, this.#type);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, _err: Error): void {
    this.#release();
    this.#chunks = [];
    this.#fallBack();
  }

  #release(): void {
    const member = this.#member;
    if (member === null) return;
    this.#member = null;
    member.addTraffic(0, this.#size);
    member.release();
  }

  #fallBack(): void {
    const page = this.#pages.pageFor(this.#status);
    if (page !== null) this.#send(page, HTML);
    else this.#send(this.#fallback, this.#fallbackType);
  }

  #send(body: Buffer, type: string): void {
    if (this.#done) return;
    this.#done = true;
    const res = this.#res;
    if (res.destroyed || res.headersSent) {
      // The client left while the page was fetched.
      this.#owner.errorPageSent(499, 0);
      return;
    }
    const head = ["content-type", type, "content-length", String(body.length), "cache-control", "no-store"];
    this.#owner.completeErrorHead(head);
    res.writeHead(this.#status, head);
    res.end(body);
    this.#owner.errorPageSent(this.#status, body.length);
  }
}
