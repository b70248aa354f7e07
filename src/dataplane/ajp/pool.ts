// AJP/1.3 client: one pool of connections per balancer member (httpd keeps one per worker), one
// request at a time per connection, connections reused when the container's END_RESPONSE says so.
// It speaks undici's dispatcher handler API (`dispatch(options, handler)` with onRequestStart /
// onResponseStart / onResponseData / onResponseEnd / onResponseError and a controller with
// pause/resume/abort), so forward.ts's Exchange — balancing, failover, stats, access log, header
// rules — drives an AJP member exactly as an HTTP one.
//
// Errors carry the codes forward.ts's failover and status table already understand: the socket's
// own (ECONNREFUSED...) before connecting, UND_ERR_CONNECT_TIMEOUT, UND_ERR_SOCKET (with the bytes
// this request wrote: 0 means the member never saw it), UND_ERR_HEADERS_TIMEOUT /
// UND_ERR_BODY_TIMEOUT, UND_ERR_CLOSED once the pool is closing. A malformed, truncated or
// unexpected packet is an AjpProtocolError: 502, and the connection is destroyed, never reused.
//
// Request bodies: with a Content-Length the first data packet goes right after the forward request
// (as httpd does; Tomcat expects it), every further one only when the container asks
// (GET_BODY_CHUNK, at most the size it asks for); an empty data packet ends the body. Without a
// Content-Length (a chunked upload) nothing is sent before the container asks. While the container
// waits for client bytes, the read timeout is not running (a slow client is not a slow member).
//
// A connection that served a request before (reused) and fails before any answer and before the
// body was touched is replaced by a fresh one once, transparently (the member closed an idle
// connection). With `pingMs` > 0 (httpd's `ping=`), each request first sends CPing and waits that
// long for CPong; no CPong on a reused connection -> a fresh connection is tried; none on a fresh
// one -> a connect failure (the member goes into error and the request fails over).

import { connect, type Socket } from "node:net";
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import {
  AjpProtocolError,
  CPING_PACKET,
  CPONG,
  EMPTY_BODY_PACKET,
  END_RESPONSE,
  GET_BODY_CHUNK,
  PacketReader,
  SEND_BODY_CHUNK,
  SEND_HEADERS,
  decodeSendHeaders,
  encodeBodyChunk,
  encodeForwardRequest,
  maxBodyChunk,
  type AjpRequestInfo,
} from "./protocol.js";

/** A balancer's AJP settings (`ajp-secret`, `ajp-packet-size`, `ajp-ping`): the same for all its members. */
export interface AjpSettings {
  /** Packet size (4-byte header included): 8192 default, up to 65536; must equal Tomcat's `packetSize`. */
  readonly packetSize: number;
  /** Shared secret (Tomcat's `secret` with `secretRequired`), or null. */
  readonly secret: string | null;
  /** CPing before each request, waiting this long for CPong; 0 = off. */
  readonly pingMs: number;
}

/** Dispatch options of an AJP request: undici's, plus what the forward request says about the client. */
export interface AjpDispatchOptions extends Dispatcher.DispatchOptions {
  readonly ajp: AjpRequestInfo;
}

export interface AjpPoolOptions extends AjpSettings {
  /** Idle time after which a pooled connection is closed. */
  readonly keepAliveTimeoutMs: number;
}

/** An error with a stable `code` (and, for socket errors, the bytes this request wrote). */
export class AjpConnectionError extends Error {
  readonly code: string;
  readonly socket: { readonly bytesWritten: number } | undefined;
  constructor(code: string, message: string, bytesWritten?: number, cause?: unknown) {
    super(message, { cause });
    this.name = "AjpConnectionError";
    this.code = code;
    this.socket = bytesWritten === undefined ? undefined : { bytesWritten };
  }
}

const NO_TRAILERS = Object.freeze({}) as Record<string, string>;
const TEXT_431 = Buffer.from("Request Header Fields Too Large\n", "latin1");

/** Methods a request may be sent again for after it reached the member (RFC 9110 §9.2.2). */
function isIdempotent(method: string): boolean {
  return method === "GET" || method === "HEAD" || method === "OPTIONS" || method === "PUT" || method === "DELETE" || method === "TRACE";
}

/** One request on the pool: the controller handed to the handler, and the request-side state. */
class AjpExchange implements Dispatcher.DispatchController {
  readonly options: Dispatcher.DispatchOptions;
  readonly handler: Dispatcher.DispatchHandler;
  readonly settings: AjpSettings;
  readonly info: AjpRequestInfo;
  readonly body: (Readable & { complete?: boolean }) | null;
  /** Content-Length > 0: the first data packet goes unasked. */
  readonly sendsFirst: boolean;
  conn: AjpConnection | null = null;
  /** onRequestStart was called. */
  started = false;
  /** A response packet arrived. */
  answered = false;
  headers = false;
  /** The request body was read from (it cannot be sent again). */
  touched = false;
  /** Bytes the container asked for and did not get yet; 0 = none outstanding. */
  want = 0;
  /** Client bytes read but not sent yet. */
  pending: Buffer | null = null;
  bodyEnded = false;
  /** Bytes this request wrote on its connection. */
  written = 0;
  /** The forward request was written. */
  sent = false;
  done = false;
  #aborted = false;
  #paused = false;
  #reason: Error | null = null;

  constructor(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, settings: AjpSettings, info: AjpRequestInfo) {
    this.options = options;
    this.handler = handler;
    this.settings = settings;
    this.info = info;
    const body = options.body;
    if (body === null || body === undefined) {
      this.body = null;
      this.bodyEnded = true;
    } else if (typeof body === "string" || body instanceof Uint8Array) {
      this.body = null;
      this.pending = typeof body === "string" ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      this.bodyEnded = true;
      if (this.pending.length === 0) this.pending = null;
    } else {
      this.body = body as Readable;
    }
    this.sendsFirst = contentLength(options.headers) > 0;
  }

  get aborted(): boolean {
    return this.#aborted;
  }
  get paused(): boolean {
    return this.#paused;
  }
  get reason(): Error | null {
    return this.#reason;
  }

  abort(reason: Error): void {
    if (this.done || this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const conn = this.conn;
    if (conn !== null) conn.fail(this, reason, false);
    else finishWithError(this, reason);
  }

  pause(): void {
    this.#paused = true;
    this.conn?.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.conn?.resume();
  }
}

/** Content-Length from a flat header list (or a record); -1 when absent. */
function contentLength(headers: Dispatcher.DispatchOptions["headers"]): number {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (headers[i] === "content-length") return Number(headers[i + 1]) || 0;
    }
  }
  return -1;
}

function flatHeaders(headers: Dispatcher.DispatchOptions["headers"]): ReadonlyArray<string> {
  if (headers === null || headers === undefined) return [];
  if (Array.isArray(headers)) return headers as string[];
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (value === undefined) continue;
    if (typeof value === "string") out.push(name.toLowerCase(), value);
    else for (const v of value) out.push(name.toLowerCase(), v);
  }
  return out;
}

function finishWithError(ex: AjpExchange, err: Error): void {
  if (ex.done) return;
  ex.done = true;
  ex.conn = null;
  ex.handler.onResponseError?.(ex, err);
}

// A plain object, not an enum: workers run from .ts sources in tests with type stripping only
// (tsconfig erasableSyntaxOnly).
const State = { Connecting: 0, Idle: 1, Pinging: 2, Active: 3, Closed: 4 } as const;
type State = (typeof State)[keyof typeof State];

/** One TCP connection to the member. */
class AjpConnection {
  readonly #pool: AjpPool;
  readonly socket: Socket;
  #state: State = State.Connecting;
  #ex: AjpExchange | null = null;
  /** Served a request before (a failure may be a stale connection). */
  reused = false;
  #buf: Buffer | null = null;
  #off = 0;
  #timer: NodeJS.Timeout | null = null;
  #timerKind: "connect" | "ping" | "headers" | "body" | "idle" | null = null;
  #parsing = false;
  readonly #onBody = (): void => this.#bodyReady();

  constructor(pool: AjpPool, host: string, port: number, connectMs: number) {
    this.#pool = pool;
    this.socket = connect({ host, port, noDelay: true });
    this.socket.on("connect", () => this.#connected());
    this.socket.on("data", (d: Buffer) => this.#data(d));
    this.socket.on("error", (err: Error) => this.#socketError(err));
    this.socket.on("close", () => this.#closed());
    if (connectMs > 0) this.#arm("connect", connectMs);
  }

  get idle(): boolean {
    return this.#state === State.Idle;
  }

  /** Takes a request: runs it once connected (and pinged). */
  assign(ex: AjpExchange): void {
    this.#ex = ex;
    ex.conn = this;
    if (this.#state === State.Connecting) return;
    this.#begin(ex);
  }

  #connected(): void {
    if (this.#state !== State.Connecting) return;
    this.#clearTimer();
    const ex = this.#ex;
    if (ex === null) {
      this.#state = State.Idle;
      return;
    }
    this.#begin(ex);
  }

  #begin(ex: AjpExchange): void {
    if (ex.settings.pingMs > 0) {
      this.#state = State.Pinging;
      this.#write(ex, CPING_PACKET);
      this.#arm("ping", ex.settings.pingMs);
      return;
    }
    this.#send(ex);
  }

  /** Writes the forward request (and the first body chunk when it goes unasked). */
  #send(ex: AjpExchange): void {
    this.#state = State.Active;
    const { options, settings } = ex;
    const packet = encodeForwardRequest(options.method, options.path, flatHeaders(options.headers), ex.info, settings.secret, settings.packetSize);
    if (packet === null) {
      // Nothing was written: the connection stays usable. httpd answers such a request itself.
      this.#ex = null;
      ex.conn = null;
      this.#pool.release(this, true);
      answerTooLarge(ex);
      return;
    }
    if (!ex.started) {
      ex.started = true;
      ex.handler.onRequestStart?.(ex, {});
      if (ex.done) return; // aborted from onRequestStart
    }
    this.#write(ex, packet);
    ex.sent = true;
    const readMs = options.headersTimeout ?? 0;
    if (ex.sendsFirst) {
      ex.want = maxBodyChunk(settings.packetSize);
      this.#pumpBody(ex);
    } else if (readMs > 0) this.#arm("headers", readMs);
  }

  #write(ex: AjpExchange, packet: Buffer): void {
    ex.written += packet.length;
    this.socket.write(packet);
  }

  // ---- request body ----

  /** Sends up to `ex.want` body bytes, or the end-of-body packet, or waits for the client. */
  #pumpBody(ex: AjpExchange): void {
    if (ex.want === 0 || this.#ex !== ex) return;
    let chunk = ex.pending;
    ex.pending = null;
    const body = ex.body;
    if (chunk === null && body !== null && !ex.bodyEnded) {
      ex.touched = true;
      chunk = body.read() as Buffer | null;
      if (chunk === null) {
        if (body.readableEnded || (body.complete === true && body.readableLength === 0)) {
          ex.bodyEnded = true;
        } else {
          // Waiting for the client, not for the member: no read timeout meanwhile.
          this.#clearTimer();
          body.once("readable", this.#onBody);
          body.once("end", this.#onBody);
          return;
        }
      }
    }
    const want = ex.want;
    ex.want = 0;
    if (chunk === null) {
      this.#write(ex, EMPTY_BODY_PACKET);
    } else if (chunk.length > want) {
      this.#write(ex, encodeBodyChunk(chunk.subarray(0, want)));
      ex.pending = chunk.subarray(want);
    } else {
      this.#write(ex, encodeBodyChunk(chunk));
    }
    this.#armRead(ex);
  }

  #bodyReady(): void {
    const ex = this.#ex;
    if (ex === null || ex.body === null) return;
    ex.body.off("readable", this.#onBody);
    ex.body.off("end", this.#onBody);
    this.#pumpBody(ex);
  }

  #detachBody(ex: AjpExchange): void {
    if (ex.body !== null) {
      ex.body.off("readable", this.#onBody);
      ex.body.off("end", this.#onBody);
    }
  }

  // ---- response ----

  #data(d: Buffer): void {
    if (this.#buf === null || this.#off >= this.#buf.length) {
      this.#buf = d;
      this.#off = 0;
    } else {
      this.#buf = Buffer.concat([this.#buf.subarray(this.#off), d]);
      this.#off = 0;
    }
    this.#parse();
  }

  #parse(): void {
    if (this.#parsing) return;
    this.#parsing = true;
    try {
      while (this.#buf !== null) {
        const ex = this.#ex;
        if (ex === null) {
          // Bytes on an idle connection: out of step; never reuse it.
          this.destroy();
          return;
        }
        if (ex.paused) return;
        const buf = this.#buf;
        const start = this.#off;
        const avail = buf.length - start;
        if (avail < 4) return;
        if (buf[start] !== 0x41 || buf[start + 1] !== 0x42) throw new AjpProtocolError("packet without the AB prefix");
        const len = buf.readUInt16BE(start + 2);
        if (len === 0 || len > ex.settings.packetSize - 4) throw new AjpProtocolError(`packet length ${len} outside 1..${ex.settings.packetSize - 4}`);
        if (avail < 4 + len) return;
        const end = start + 4 + len;
        this.#off = end;
        if (this.#off >= buf.length) {
          this.#buf = null;
          this.#off = 0;
        }
        this.#packet(ex, new PacketReader(buf, start + 4, end));
      }
    } catch (err) {
      const ex = this.#ex;
      if (ex !== null) this.fail(ex, err instanceof Error ? err : new AjpProtocolError(String(err)), false);
      else this.destroy();
    } finally {
      this.#parsing = false;
    }
  }

  #packet(ex: AjpExchange, r: PacketReader): void {
    const type = r.byte();
    if (this.#state === State.Pinging) {
      if (type !== CPONG) throw new AjpProtocolError(`expected CPong, got packet type ${type}`);
      this.#clearTimer();
      this.#send(ex);
      return;
    }
    if (this.#state !== State.Active) throw new AjpProtocolError(`packet type ${type} while not serving a request`);
    ex.answered = true;
    switch (type) {
      case SEND_HEADERS: {
        if (ex.headers) throw new AjpProtocolError("a second SEND_HEADERS");
        const head = decodeSendHeaders(r);
        ex.headers = true;
        this.#armRead(ex);
        ex.handler.onResponseStart?.(ex, head.status, head.headers, head.message);
        return;
      }
      case SEND_BODY_CHUNK: {
        if (!ex.headers) throw new AjpProtocolError("SEND_BODY_CHUNK before SEND_HEADERS");
        const n = r.int16();
        const chunk = r.bytes(n);
        this.#armRead(ex);
        if (n !== 0) ex.handler.onResponseData?.(ex, chunk);
        return;
      }
      case GET_BODY_CHUNK: {
        if (ex.headers) throw new AjpProtocolError("GET_BODY_CHUNK after SEND_HEADERS");
        if (ex.want !== 0) throw new AjpProtocolError("GET_BODY_CHUNK while one is outstanding");
        const asked = r.int16();
        ex.want = Math.max(1, Math.min(asked, maxBodyChunk(ex.settings.packetSize)));
        this.#pumpBody(ex);
        return;
      }
      case END_RESPONSE: {
        if (!ex.headers) throw new AjpProtocolError("END_RESPONSE before SEND_HEADERS");
        const reuse = r.byte() === 1;
        this.#clearTimer();
        this.#detachBody(ex);
        this.#ex = null;
        ex.conn = null;
        ex.done = true;
        // Reusable only in step: nothing left over, no body chunk owed or asked for.
        const inStep = reuse && this.#buf === null && ex.want === 0;
        this.reused = true;
        this.#pool.release(this, inStep);
        ex.handler.onResponseEnd?.(ex, NO_TRAILERS);
        return;
      }
      default:
        throw new AjpProtocolError(`unexpected packet type ${type}`);
    }
  }

  // ---- timers ----

  #armRead(ex: AjpExchange): void {
    const ms = ex.headers ? (ex.options.bodyTimeout ?? 0) : (ex.options.headersTimeout ?? 0);
    if (ms > 0) this.#arm(ex.headers ? "body" : "headers", ms);
    else this.#clearTimer();
  }

  #arm(kind: "connect" | "ping" | "headers" | "body" | "idle", ms: number): void {
    if (this.#timer !== null && this.#timerKind === kind) {
      this.#timer.refresh();
      return;
    }
    this.#clearTimer();
    this.#timerKind = kind;
    this.#timer = setTimeout(() => this.#timeout(), ms);
    if (kind === "idle") this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
      this.#timerKind = null;
    }
  }

  #timeout(): void {
    const kind = this.#timerKind;
    this.#timer = null;
    this.#timerKind = null;
    const ex = this.#ex;
    if (kind === "idle" || ex === null) {
      this.destroy();
      return;
    }
    switch (kind) {
      case "connect":
        this.fail(ex, new AjpConnectionError("UND_ERR_CONNECT_TIMEOUT", "AJP connect timeout"), false);
        return;
      case "ping":
        // No CPong in time: a reused connection is replaced once; a fresh one is a connect failure.
        this.fail(ex, new AjpConnectionError("UND_ERR_CONNECT_TIMEOUT", "no AJP CPong within the ping timeout"), this.reused);
        return;
      case "headers":
        this.fail(ex, new AjpConnectionError("UND_ERR_HEADERS_TIMEOUT", "AJP response headers timeout"), false);
        return;
      default:
        this.fail(ex, new AjpConnectionError("UND_ERR_BODY_TIMEOUT", "AJP response body timeout"), false);
    }
  }

  // ---- flow control, failure, close ----

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
    if (this.#buf !== null) this.#parse();
  }

  /** Ends the request with `err` and destroys the connection; `retry`: try a fresh connection instead when the request is untouched. */
  fail(ex: AjpExchange, err: Error, retry: boolean): void {
    if (this.#ex === ex) this.#ex = null;
    this.#detachBody(ex);
    this.destroy();
    if (ex.done) return;
    ex.conn = null;
    // Once more on a fresh connection only while nothing can have happened twice: no answer, body
    // untouched, and the request not sent yet or idempotent.
    if (retry && !ex.answered && !ex.touched && !ex.aborted && (!ex.sent || isIdempotent(ex.options.method))) {
      if (this.#pool.retry(ex)) return;
    }
    finishWithError(ex, err);
  }

  #socketError(err: Error): void {
    const ex = this.#ex;
    if (ex === null) {
      this.destroy();
      return;
    }
    if (this.#state === State.Connecting) {
      // Never connected: the socket's own error (ECONNREFUSED, EHOSTUNREACH...) tells the failover it is a connect failure.
      this.fail(ex, err, false);
      return;
    }
    this.fail(ex, new AjpConnectionError("UND_ERR_SOCKET", `AJP connection error: ${err.message}`, ex.written, err), this.reused);
  }

  #closed(): void {
    const ex = this.#ex;
    const wasConnecting = this.#state === State.Connecting;
    this.#state = State.Closed;
    this.#clearTimer();
    this.#pool.forget(this);
    if (ex === null) return;
    const code = wasConnecting ? "ECONNRESET" : "UND_ERR_SOCKET";
    this.fail(ex, new AjpConnectionError(code, ex.answered ? "AJP connection closed mid-response (truncated)" : "AJP connection closed before a response", wasConnecting ? undefined : ex.written), this.reused);
  }

  /** Back to the pool: idle until the keep-alive timeout. */
  parkIdle(ms: number): void {
    this.#state = State.Idle;
    this.#buf = null;
    this.#off = 0;
    if (ms > 0) this.#arm("idle", ms);
  }

  /** Taken from the idle list for a request. */
  unpark(): void {
    this.#clearTimer();
  }

  destroy(): void {
    if (this.#state === State.Closed && this.socket.destroyed) return;
    this.#state = State.Closed;
    this.#clearTimer();
    this.#buf = null;
    this.socket.destroy();
    this.#pool.forget(this);
  }
}

/** A synthetic 431: the request head does not fit one AJP packet (nothing reached the member). */
function answerTooLarge(ex: AjpExchange): void {
  if (ex.done) return;
  ex.done = true;
  const h = ex.handler;
  h.onResponseStart?.(ex, 431, { "content-type": "text/plain; charset=utf-8", "content-length": String(TEXT_431.length) }, "Request Header Fields Too Large");
  h.onResponseData?.(ex, TEXT_431);
  h.onResponseEnd?.(ex, NO_TRAILERS);
}

/** The AJP connections to one member (for one connect timeout). */
export class AjpPool {
  readonly #host: string;
  readonly #port: number;
  readonly #connectMs: number;
  readonly #options: AjpPoolOptions;
  readonly #settings: AjpSettings;
  /** Idle connections, most recently used last (LIFO: the warmest is reused first). */
  readonly #idle: AjpConnection[] = [];
  readonly #all = new Set<AjpConnection>();
  #opened = 0;
  #closed = false;
  #drained: (() => void) | null = null;

  constructor(host: string, port: number, connectMs: number, options: AjpPoolOptions) {
    this.#host = host;
    this.#port = port;
    this.#connectMs = connectMs;
    this.#options = options;
    this.#settings = { packetSize: options.packetSize, secret: options.secret, pingMs: options.pingMs };
  }

  /** Connections open now (idle and busy). */
  get connections(): number {
    return this.#all.size;
  }

  get idleConnections(): number {
    return this.#idle.length;
  }

  /** Connections opened since the pool was made (reuse shows as fewer than requests). */
  get opened(): number {
    return this.#opened;
  }

  get closed(): boolean {
    return this.#closed;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const info = (options as Partial<AjpDispatchOptions>).ajp;
    if (info === undefined) throw new TypeError("AjpPool.dispatch needs the client facts (options.ajp)");
    const ex = new AjpExchange(options, handler, this.#settings, info);
    if (this.#closed) {
      queueMicrotask(() => finishWithError(ex, new AjpConnectionError("UND_ERR_CLOSED", "AJP pool closed")));
      return false;
    }
    let conn: AjpConnection | undefined;
    while ((conn = this.#idle.pop()) !== undefined && !conn.idle);
    if (conn === undefined) conn = this.#open();
    else conn.unpark();
    conn.assign(ex);
    return true;
  }

  #open(): AjpConnection {
    const conn = new AjpConnection(this, this.#host, this.#port, this.#connectMs);
    this.#opened++;
    this.#all.add(conn);
    return conn;
  }

  /** @internal A reused connection failed before the request reached the member: once more on a fresh one. */
  retry(ex: AjpExchange): boolean {
    if (this.#closed) return false;
    this.#open().assign(ex);
    return true;
  }

  /** @internal A request ended on `conn`. */
  release(conn: AjpConnection, reusable: boolean): void {
    if (!reusable || this.#closed) {
      conn.destroy();
      return;
    }
    conn.parkIdle(this.#options.keepAliveTimeoutMs);
    this.#idle.push(conn);
  }

  /** @internal `conn` closed. */
  forget(conn: AjpConnection): void {
    if (!this.#all.delete(conn)) return;
    const i = this.#idle.indexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
    if (this.#drained !== null && this.#all.size === 0) {
      const done = this.#drained;
      this.#drained = null;
      done();
    }
  }

  /** Graceful: no new requests; idle connections close now, busy ones after their request. */
  close(): Promise<void> {
    this.#closed = true;
    for (const c of [...this.#idle]) c.destroy();
    if (this.#all.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#drained;
      this.#drained = () => {
        previous?.();
        resolve();
      };
    });
  }

  /** Abrupt: every connection now (requests on them fail). */
  destroy(): Promise<void> {
    this.#closed = true;
    for (const c of [...this.#all]) c.destroy();
    this.#all.clear();
    this.#idle.length = 0;
    const done = this.#drained;
    this.#drained = null;
    done?.();
    return Promise.resolve();
  }
}

/**
 * CPing/CPong on a fresh connection (the `TCP` health check of AJP members, httpd's hcmethod=CPING).
 * Returns a cancel function; `done(null)` on CPong, `done(reason)` otherwise; at most once, never after cancel.
 */
export function probeCping(host: string, port: number, timeoutMs: number, done: (error: string | null) => void): () => void {
  let finished = false;
  const socket = connect({ host, port });
  socket.unref();
  let got = Buffer.alloc(0);
  const finish = (error: string | null): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.destroy();
    done(error);
  };
  const timer = setTimeout(() => finish("timeout (no CPong)"), timeoutMs);
  timer.unref();
  socket.once("connect", () => socket.write(CPING_PACKET));
  socket.on("data", (d: Buffer) => {
    got = Buffer.concat([got, d]);
    if (got.length < 5) return;
    finish(got[0] === 0x41 && got[1] === 0x42 && got.readUInt16BE(2) === 1 && got[4] === CPONG ? null : "not a CPong");
  });
  socket.on("error", (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
  socket.on("close", () => finish("connection closed before CPong"));
  return () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.destroy();
  };
}


/** A check request's client facts: the proxy itself on loopback. */
const CHECK_INFO: AjpRequestInfo = Object.freeze({ remoteAddr: "127.0.0.1", remotePort: 0, localAddr: "", serverName: "localhost", serverPort: 0, tls: null, route: null });

/**
 * An HTTP-method health check over AJP (hcmethod GET/HEAD/OPTIONS on an AJP member): one request on
 * a fresh connection, body read and discarded up to `bodyCap`. `done(status, null)` once the
 * response ended (or the cap was reached), `done(null, reason)` on failure; at most once, never
 * after cancel. Returns a cancel function.
 */
export function probeAjpRequest(
  host: string,
  port: number,
  check: { readonly method: string; readonly uri: string; readonly hostHeader: string; readonly userAgent: string; readonly settings: AjpSettings },
  timeoutMs: number,
  bodyCap: number,
  done: (status: number | null, error: string | null) => void,
): () => void {
  const pool = new AjpPool(host, port, timeoutMs, { ...check.settings, keepAliveTimeoutMs: 0 });
  let finished = false;
  let status: number | null = null;
  let bytes = 0;
  const finish = (error: string | null): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    void pool.destroy();
    done(error === null ? status : null, error);
  };
  const timer = setTimeout(() => finish("timeout"), timeoutMs);
  timer.unref();
  const handler: Dispatcher.DispatchHandler = {
    onResponseStart: (_c, code) => {
      status = code;
    },
    onResponseData: (_c, chunk) => {
      bytes += chunk.length;
      if (bytes >= bodyCap) finish(null);
    },
    onResponseEnd: () => finish(null),
    onResponseError: (_c, err) => finish((err as { code?: string }).code ?? err.message),
  };
  const options: AjpDispatchOptions = {
    method: check.method,
    path: check.uri,
    headers: ["host", check.hostHeader, "user-agent", check.userAgent],
    body: null,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    ajp: CHECK_INFO,
  };
  pool.dispatch(options, handler);
  return () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    void pool.destroy();
  };
}
