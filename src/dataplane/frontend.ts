// The client-side listeners of one data plane.
//
// Plain port (`--http-port`): one TCP listener. Each new connection is read once: when its first
// bytes are the HTTP/2 client preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", RFC 9113 §3.3, h2c
// with prior knowledge) the socket goes to a node:http2 server, else to the node:http server. The
// sniff costs one "data" listener per connection, nothing per request; the HTTP/1.1 server then
// owns the socket exactly as if it had accepted it (its parser consumes the socket's handle and is
// fed the bytes already read). A connection that sends nothing is closed after the client header
// timeout, as the HTTP/1.1 server would.
//
// TLS port (`--https-port`): node:http2's secure server with `allowHTTP1`: ALPN "h2" gets an
// HTTP/2 session, "http/1.1" (or no ALPN) the HTTP/1.1 server code on the same object. Both kinds
// of request reach the same request handler (Forwarder.handle). Certificates come from the SNI
// callback (tls.ts).
//
// Requests carry their listener: each server gets its own subclass of ProxyRequest /
// H2ProxyRequest whose prototype holds X-Forwarded-Proto, X-Forwarded-Port and `secure`, so the
// request path reads them like any field, without a branch per request.
//
// HTTP/2 sessions: a session without any frame either way for the keep-alive timeout is closed
// gracefully (GOAWAY: streams in flight finish, no new ones); settings allow 100 concurrent streams
// per session (nginx's http2_max_concurrent_streams default was 128, httpd's H2MaxSessionStreams 100).

import { createServer as createHttpServer, Server as HttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createSecureServer, createServer as createH2Server, type Http2SecureServer, type Http2Server, type Http2Session, type ServerHttp2Session } from "node:http2";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { SecureContextOptions, TLSSocket } from "node:tls";
import { ProxyRequest, ProxyResponse } from "./forward.js";
import { H2ProxyRequest, H2ProxyResponse } from "./h2.js";
import { readProxyHeader } from "./proxy-protocol.js";
import { isWebSocketUpgrade } from "./websocket.js";

/** What the listeners call: the ProxyServer's request path, upgrade path and connection counter. */
export interface FrontendHandlers {
  request(req: ProxyRequest | H2ProxyRequest, res: ProxyResponse | H2ProxyResponse): void;
  /** A request with `Expect: 100-continue` (Node then sends no automatic 100). */
  checkContinue(req: ProxyRequest | H2ProxyRequest, res: ProxyResponse | H2ProxyResponse): void;
  upgrade(req: ProxyRequest, socket: Duplex, head: Buffer): void;
  /** HTTP/1.1 CONNECT (allow-connect tunnels, else refused). */
  connect(req: ProxyRequest, socket: Duplex, head: Buffer): void;
  /** HTTP/2 extended CONNECT (RFC 8441: a `:protocol`, e.g. websocket). */
  extendedConnect(req: H2ProxyRequest, res: H2ProxyResponse): void;
  connection(socket: Socket): void;
}

/** HTTP/1.1 server settings both listeners apply (ServerSettings, plus the fixed ones). */
export interface Http1Settings {
  readonly headersTimeout: number;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  readonly maxRequestsPerSocket: number;
}

export interface FrontendOptions {
  readonly maxHeaderSize: number;
  /** How often Node checks the client header/request timeouts. */
  readonly connectionsCheckingInterval: number;
  readonly settings: Http1Settings;
  /** `--proxy-protocol`: every connection starts with a PROXY v1/v2 header (proxy-protocol.ts), read before anything else. */
  readonly proxyProtocol?: boolean;
}

export interface ListenOn {
  readonly port: number;
  readonly host?: string;
  readonly reusePort?: boolean;
}

const PREFACE_START = Buffer.from("PRI", "latin1");

/**
 * Smuggling guards (test/dataplane/smuggling.test.ts), for both HTTP/1.1 servers: llhttp's strict
 * mode whatever NODE_OPTIONS says (no obs-fold, bare LF, CL+TE, bad chunks); HTTP/1.1 without Host
 * is 400; duplicate headers stay separate lines so two Host lines are seen and refused.
 */
const STRICT_HTTP1 = { insecureHTTPParser: false, requireHostHeader: true, joinDuplicateHeaders: false } as const;

/** A plain HTTP/2 CONNECT (no `:protocol`) reaches the "connect" event as a compat response: 405 (CONNECT tunnels are HTTP/1.1 only). */
function refuseH2Connect(res: H2ProxyResponse): void {
  res.writeHead(405, ["content-type", "text/plain; charset=utf-8"]);
  res.end("Method Not Allowed\n");
}

/** The "connect" listener of an HTTP/2-only server (h2c): extended CONNECT to the tunnels, plain CONNECT refused. */
function h2ConnectListener(handlers: FrontendHandlers): (req: H2ProxyRequest, res: H2ProxyResponse) => void {
  return (req, res) => {
    if (req.headers[":protocol"] !== undefined) handlers.extendedConnect(req, res);
    else refuseH2Connect(res);
  };
}

function noopError(): void {}

function destroyOnTimeout(this: Socket): void {
  this.destroy();
}

/** h2 "session" event: idle sessions close gracefully after `idleMs` (read when the session starts). */
function sessionIdleClose(this: Http2Session): void {
  if (!this.closed && !this.destroyed) this.close();
}

function requestClass(proto: "http" | "https", secure: boolean): typeof ProxyRequest {
  const cls = class extends ProxyRequest {};
  cls.prototype.forwardedProto = proto;
  cls.prototype.secure = secure;
  return cls;
}

function h2RequestClass(proto: "http" | "https", secure: boolean): typeof H2ProxyRequest {
  const cls = class extends H2ProxyRequest {};
  cls.prototype.forwardedProto = proto;
  cls.prototype.secure = secure;
  return cls;
}

/** Applies the HTTP/1.1 settings to a server (Node reads them per connection event). */
function applyHttp1(server: object, s: Http1Settings): void {
  const h = server as HttpServer;
  h.headersTimeout = s.headersTimeout;
  h.requestTimeout = s.requestTimeout;
  h.keepAliveTimeout = s.keepAliveTimeout;
  h.maxRequestsPerSocket = s.maxRequestsPerSocket;
}

/** HTTP/2 sessions of one server: tracked for graceful and forced shutdown. */
class Sessions {
  readonly #open = new Set<ServerHttp2Session>();
  idleMs: number;
  readonly #onClose: (this: ServerHttp2Session) => void;

  constructor(idleMs: number) {
    this.idleMs = idleMs;
    const open = this.#open;
    this.#onClose = function (this: ServerHttp2Session) {
      open.delete(this);
    };
  }

  readonly add = (session: ServerHttp2Session): void => {
    this.#open.add(session);
    session.once("close", this.#onClose);
    session.setTimeout(this.idleMs, sessionIdleClose);
  };

  get size(): number {
    return this.#open.size;
  }

  closeAll(): void {
    for (const s of this.#open) if (!s.closed) s.close();
  }

  destroyAll(): void {
    for (const s of this.#open) s.destroy();
  }
}

/**
 * Every raw connection of a listener, for the forced close at the end of a shutdown: node:http2
 * only ends (never destroys) the socket of a session that was closed gracefully before, so a
 * client that never sends its FIN would hold the listener open.
 */
class RawConnections {
  readonly #open = new Set<Socket>();
  readonly #onClose: (this: Socket) => void;

  constructor() {
    const open = this.#open;
    this.#onClose = function (this: Socket) {
      open.delete(this);
    };
  }

  add(socket: Socket): void {
    this.#open.add(socket);
    socket.once("close", this.#onClose);
  }

  destroyAll(): void {
    for (const s of this.#open) s.destroy();
  }
}

/** Settings sent to every HTTP/2 client; SETTINGS_ENABLE_CONNECT_PROTOCOL: WebSockets over HTTP/2 (RFC 8441). */
const H2_SETTINGS = { maxConcurrentStreams: 100, enablePush: false, enableConnectProtocol: true } as const;

export class PlainFrontend {
  readonly #net: NetServer;
  readonly http: HttpServer<typeof ProxyRequest, typeof ProxyResponse>;
  readonly #h2c: Http2Server<typeof IncomingMessage, typeof ServerResponse, typeof H2ProxyRequest, typeof H2ProxyResponse>;
  readonly #sessions: Sessions;
  readonly #raw = new RawConnections();
  readonly #request: typeof ProxyRequest;
  readonly #h2Request: typeof H2ProxyRequest;
  /** Read when a connection starts: how long it may stay silent before its first bytes. */
  readonly #timing: { headersTimeout: number };

  constructor(handlers: FrontendHandlers, options: FrontendOptions) {
    this.#request = requestClass("http", false);
    this.#h2Request = h2RequestClass("http", false);
    this.http = createHttpServer<typeof ProxyRequest, typeof ProxyResponse>(
      {
        IncomingMessage: this.#request,
        ServerResponse: ProxyResponse,
        keepAliveTimeout: options.settings.keepAliveTimeout,
        headersTimeout: options.settings.headersTimeout,
        requestTimeout: options.settings.requestTimeout,
        connectionsCheckingInterval: options.connectionsCheckingInterval,
        maxHeaderSize: options.maxHeaderSize,
        ...STRICT_HTTP1,
        // Only WebSocket upgrades reach "upgrade"; others (h2c Upgrade...) are plain requests (Upgrade ignored).
        shouldUpgradeCallback: isWebSocketUpgrade,
      },
      handlers.request,
    );
    this.http.on("upgrade", handlers.upgrade);
    this.http.on("checkContinue", handlers.checkContinue);
    this.http.on("connect", handlers.connect);
    this.#sessions = new Sessions(options.settings.keepAliveTimeout);
    this.#h2c = createH2Server({ Http2ServerRequest: this.#h2Request, Http2ServerResponse: H2ProxyResponse, maxHeaderListPairs: 256, settings: { ...H2_SETTINGS, maxHeaderListSize: options.maxHeaderSize } }, handlers.request);
    this.#h2c.on("session", this.#sessions.add);
    this.#h2c.on("checkContinue", handlers.checkContinue);
    this.#h2c.on("connect", h2ConnectListener(handlers));
    const timing = (this.#timing = { headersTimeout: options.settings.headersTimeout });
    const http = this.http;
    const h2c = this.#h2c;
    // One listener function per frontend, called with the socket as `this`.
    const onFirstBytes = function (this: Socket, chunk: Buffer): void {
      this.setTimeout(0);
      this.off("timeout", destroyOnTimeout);
      if (chunk.length < PREFACE_START.length && PREFACE_START.subarray(0, chunk.length).equals(chunk)) {
        // "P" or "PR" alone: look again with the next bytes (rare: a closure per such connection).
        const first = chunk;
        this.setTimeout(timing.headersTimeout);
        this.once("timeout", destroyOnTimeout);
        this.once("data", function (this: Socket, next: Buffer) {
          onFirstBytes.call(this, Buffer.concat([first, next]));
        });
        return;
      }
      if (chunk[0] === 0x50 /* P */ && chunk[1] === 0x52 && chunk[2] === 0x49) {
        // h2c: the session reads the bytes already buffered on its first tick. node:http2 expects
        // a socket that closes when the client's FIN comes (as its own servers make them).
        this.allowHalfOpen = false;
        this.pause();
        this.unshift(chunk);
        h2c.emit("connection", this);
        return;
      }
      // HTTP/1.x: the server attaches its parser (which consumes the handle from now on), then
      // gets the bytes read so far through its own "data" listener, before any further read.
      http.emit("connection", this);
      this.emit("data", chunk);
    };
    this.#onFirstBytes = onFirstBytes;
    const afterProxyHeader = (socket: Socket): void => {
      this.#sniff(socket);
      socket.resume();
    };
    const proxyProtocol = options.proxyProtocol === true;
    this.#net = createNetServer({ allowHalfOpen: true, noDelay: true }, (socket: Socket) => {
      handlers.connection(socket);
      this.#raw.add(socket);
      // --proxy-protocol: the PROXY header first (within the header timeout), then the h2c sniff on what follows.
      if (proxyProtocol) readProxyHeader(socket, timing.headersTimeout, afterProxyHeader);
      else this.#sniff(socket);
    });
    // The HTTP/1.1 server never listens itself: start its header/request timeout checks.
    this.http.emit("listening");
  }

  readonly #onFirstBytes: (this: Socket, chunk: Buffer) => void;

  #sniff(socket: Socket): void {
    socket.setTimeout(this.#timing.headersTimeout);
    socket.once("timeout", destroyOnTimeout);
    socket.once("data", this.#onFirstBytes);
  }

  applySettings(s: Http1Settings): void {
    applyHttp1(this.http, s);
    this.#timing.headersTimeout = s.headersTimeout;
    this.#sessions.idleMs = s.keepAliveTimeout;
  }

  /** `max-connections-per-worker`: net.Server maxConnections (over it a new connection is closed at once and "drop" emitted). */
  setMaxConnections(max: number, onDrop: () => void): void {
    this.#net.maxConnections = max;
    if (this.#net.listenerCount("drop") === 0) this.#net.on("drop", onDrop);
  }

  listen(on: ListenOn): Promise<AddressInfo> {
    return listenOn(this.#net, on).then((address) => {
      this.#request.prototype.forwardedPort = String(address.port);
      this.#h2Request.prototype.forwardedPort = String(address.port);
      return address;
    });
  }

  get address(): AddressInfo | null {
    const a = this.#net.address();
    return a !== null && typeof a === "object" ? a : null;
  }

  /** Stops accepting; resolves once every connection (HTTP/1.1 and h2c) is closed. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      if (!this.#net.listening) resolve();
      else this.#net.close(() => resolve());
    });
    // Stops the timeout checks and closes idle HTTP/1.1 connections.
    this.http.close();
    this.#sessions.closeAll();
    return closed;
  }

  closeIdleConnections(): void {
    this.http.closeIdleConnections();
  }

  closeAllConnections(): void {
    this.http.closeAllConnections();
    this.#sessions.destroyAll();
    this.#raw.destroyAll();
  }
}

export interface TlsFrontendOptions extends FrontendOptions {
  /** The default certificate's context options (and the protocol settings), used when the SNI callback has no better one. */
  readonly secure: SecureContextOptions;
  readonly SNICallback: (servername: string, cb: (err: Error | null, ctx?: import("node:tls").SecureContext) => void) => void;
}

export class TlsFrontend {
  readonly #server: Http2SecureServer<typeof ProxyRequest, typeof ProxyResponse, typeof H2ProxyRequest, typeof H2ProxyResponse>;
  /** `--proxy-protocol`: the TCP listener that reads the PROXY header, then hands the socket to the TLS server; null = off. */
  readonly #front: NetServer | null = null;
  readonly #timing: { headersTimeout: number };
  readonly #sessions: Sessions;
  readonly #raw = new RawConnections();
  readonly #request: typeof ProxyRequest;
  readonly #h2Request: typeof H2ProxyRequest;

  constructor(handlers: FrontendHandlers, options: TlsFrontendOptions) {
    this.#request = requestClass("https", true);
    this.#h2Request = h2RequestClass("https", true);
    this.#request.prototype.forwardedPort = "";
    this.#server = createSecureServer(
      {
        ...options.secure,
        SNICallback: options.SNICallback,
        allowHTTP1: true,
        Http1IncomingMessage: this.#request,
        Http1ServerResponse: ProxyResponse,
        Http2ServerRequest: this.#h2Request,
        Http2ServerResponse: H2ProxyResponse,
        maxHeaderListPairs: 256,
        settings: { ...H2_SETTINGS, maxHeaderListSize: options.maxHeaderSize },
        // HTTP/1.1 over TLS: the same parser settings as the plain listener.
        ...({ maxHeaderSize: options.maxHeaderSize, connectionsCheckingInterval: options.connectionsCheckingInterval, noDelay: true, ...STRICT_HTTP1 } as object),
      },
      handlers.request as never,
    );
    applyHttp1(this.#server, options.settings);
    (this.#server as unknown as { shouldUpgradeCallback: typeof isWebSocketUpgrade }).shouldUpgradeCallback = isWebSocketUpgrade;
    this.#server.on("upgrade", handlers.upgrade);
    this.#server.on("checkContinue", handlers.checkContinue);
    // HTTP/1.1 CONNECT gets (req, socket, head); an HTTP/2 one (req, compat response).
    const h2Connect = h2ConnectListener(handlers);
    this.#server.on("connect", (req: ProxyRequest | H2ProxyRequest, target: Duplex | H2ProxyResponse, head?: Buffer) => {
      if (target instanceof H2ProxyResponse) h2Connect(req as H2ProxyRequest, target);
      else handlers.connect(req as ProxyRequest, target, head ?? Buffer.alloc(0));
    });
    this.#sessions = new Sessions(options.settings.keepAliveTimeout);
    this.#server.on("session", this.#sessions.add);
    // Raw TCP connections (before the handshake): counted like the plain listener's.
    this.#server.on("connection", handlers.connection);
    this.#server.on("connection", (socket: Socket) => this.#raw.add(socket));
    const timing = (this.#timing = { headersTimeout: options.settings.headersTimeout });
    if (options.proxyProtocol === true) {
      // The PROXY header comes before the TLS handshake: read it from the raw socket, then the TLS
      // server takes the socket (TLSSocket feeds itself the bytes already read and put back).
      const server = this.#server;
      const toTls = (socket: Socket): void => {
        server.emit("connection", socket);
      };
      this.#front = createNetServer({ noDelay: true }, (socket: Socket) => {
        socket.on("error", noopError);
        readProxyHeader(socket, timing.headersTimeout, toTls);
      });
    }
  }

  /** The server (for tests and ticket keys). */
  get server(): Http2SecureServer<typeof ProxyRequest, typeof ProxyResponse, typeof H2ProxyRequest, typeof H2ProxyResponse> {
    return this.#server;
  }

  /** `max-connections-per-worker`: net.Server maxConnections (over it a new connection is closed at once and "drop" emitted). */
  setMaxConnections(max: number, onDrop: () => void): void {
    const listener = this.#front ?? this.#server;
    listener.maxConnections = max;
    if (listener.listenerCount("drop") === 0) listener.on("drop", onDrop);
  }

  /** Replaces the default context's options (default certificate, protocols, ciphers) for new handshakes. */
  setSecureContext(options: SecureContextOptions): void {
    this.#server.setSecureContext(options);
  }

  applySettings(s: Http1Settings): void {
    applyHttp1(this.#server, s);
    this.#sessions.idleMs = s.keepAliveTimeout;
    this.#timing.headersTimeout = s.headersTimeout;
  }

  listen(on: ListenOn): Promise<AddressInfo> {
    return listenOn(this.#front ?? (this.#server as unknown as NetServer), on).then((address) => {
      this.#request.prototype.forwardedPort = String(address.port);
      this.#h2Request.prototype.forwardedPort = String(address.port);
      return address;
    });
  }

  get address(): AddressInfo | null {
    const a = (this.#front ?? this.#server).address();
    return a !== null && typeof a === "object" ? a : null;
  }

  /** Stops accepting, closes idle HTTP/1.1 connections, sends GOAWAY; resolves once every connection is closed. */
  close(): Promise<void> {
    const front = this.#front;
    if (front !== null) {
      // The TLS server never listens itself: its idle connections are closed here, the front's close waits for all.
      this.closeIdleConnections();
      this.#sessions.closeAll();
      return new Promise<void>((resolve) => {
        if (!front.listening) resolve();
        else front.close(() => resolve());
      });
    }
    return new Promise<void>((resolve) => {
      if (!this.#server.listening) resolve();
      else this.#server.close(() => resolve());
    });
  }

  closeIdleConnections(): void {
    // Http2SecureServer with allowHTTP1 closes its idle HTTP/1.1 connections (missing from @types/node).
    (this.#server as unknown as { closeIdleConnections(): void }).closeIdleConnections();
  }

  closeAllConnections(): void {
    HttpServer.prototype.closeAllConnections.call(this.#server as unknown as HttpServer);
    this.#sessions.destroyAll();
    this.#raw.destroyAll();
  }
}

/** The TLS socket of a request, when there is one (tests, logs). */
export function isTlsSocket(socket: Socket): socket is TLSSocket {
  return (socket as TLSSocket).encrypted === true;
}

function listenOn(server: NetServer, on: ListenOn): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once("error", onError);
    server.listen({ port: on.port, host: on.host, reusePort: on.reusePort ?? false }, () => {
      server.off("error", onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
