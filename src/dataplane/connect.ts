// CONNECT tunnels (httpd's mod_proxy_connect with AllowCONNECT), opt-in per Ingress: the proxy
// server's "connect" event. `CONNECT host:port` is let through only when
//   - host is one of the Ingress's own hosts: an exact or wildcard virtual host of the router (the
//     catch-all "" host and the cluster's default backend never count), and
//   - the route that host's "/" resolves to (or the host's default backend) has `allow-connect`
//     listing that port.
// The tunnel then goes to a member of that route's balancer (byrequests/sticky-less election,
// failover on connect failure like any request), never to the named host: port and host are only
// checked, never dialled. After `200 Connection Established` both sockets are piped as raw TCP
// (backpressure both ways; an end is a half-close); `websocket-idle-timeout` of the route closes an
// idle tunnel. Bytes both ways are added to the member's traffic counters when the tunnel closes.
//
// Refusals: a malformed target -> 400; a host this proxy serves with allow-connect whose list
// lacks the port -> 403; anything else (foreign host, no allow-connect, catch-all only) -> 405, as
// before tunnels existed (never an open proxy). Like WebSocket tunnels, a tunnel holds its member
// (snapshot swaps and member removal leave it open) and is destroyed at the end of the shutdown grace.

import type { IncomingMessage } from "node:http";
import { connect as tcpConnect, type Socket } from "node:net";
import { pipeline, type Duplex } from "node:stream";
import type { Balancer, BalancerMember } from "./balancer/index.js";
import { ERROR_RESPONSES, NoMemberError, RateLimitedError, classifyUpstreamError, type ProxyError } from "./errors.js";
import { ProxyRequest, type Forwarder } from "./forward.js";
import { clientAddress, limitKey } from "./perimeter.js";
import type { CompiledRoute, Router } from "./router.js";

function noop(): void {}

const ESTABLISHED = "HTTP/1.1 200 Connection Established\r\n\r\n";

function refusal(status: number, text: string): string {
  const body = `${text}\n`;
  return `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`;
}

const BAD_REQUEST = refusal(400, "Bad Request");
const FORBIDDEN = refusal(403, "Forbidden");
const NOT_ALLOWED = refusal(405, "Method Not Allowed");

/**
 * Ends a refused CONNECT socket. A detached socket is paused: it is drained so the client's FIN is
 * read and the socket closes (else one that sent bytes after its CONNECT head stays half-open).
 */
function refuse(socket: Duplex, answer: string): void {
  socket.end(answer);
  socket.resume();
}

function answerError(socket: Duplex, error: ProxyError): void {
  const r = ERROR_RESPONSES[error.code];
  let answer = refusal(r.status, r.body.toString("latin1").trim());
  if (error instanceof RateLimitedError) answer = answer.replace("\r\n", `\r\nretry-after: ${error.retryAfter}\r\n`);
  refuse(socket, answer);
}

/** `host:port` of an authority-form target; host lower-case without brackets; null when malformed. */
export function parseAuthority(target: string): { host: string; port: number } | null {
  let host: string;
  let portText: string;
  if (target.startsWith("[")) {
    const close = target.indexOf("]");
    if (close === -1 || target.charCodeAt(close + 1) !== 58 /* : */) return null;
    host = target.slice(1, close);
    portText = target.slice(close + 2);
  } else {
    const colon = target.lastIndexOf(":");
    if (colon <= 0 || target.indexOf(":") !== colon) return null;
    host = target.slice(0, colon);
    portText = target.slice(colon + 1);
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port < 1 || port > 65535) return null;
  if (host === "" || !/^[A-Za-z0-9.:_-]+$/.test(host)) return null;
  return { host: host.toLowerCase().replace(/\.$/, ""), port };
}

/** The route a CONNECT to `host` may use: the host's own "/" route or default backend; null = none. */
export function connectRoute(router: Router, host: string): CompiledRoute | null {
  if (!router.servesHost(host)) return null;
  const vh = router.findHost(host);
  if (vh === null) return null;
  return vh.match("/") ?? vh.fallback;
}

/** The CONNECT path of one ProxyServer. */
export class ConnectProxy {
  readonly #fw: Forwarder;
  readonly #tunnels = new Set<ConnectTunnel>();
  #open = 0;

  constructor(forwarder: Forwarder) {
    this.#fw = forwarder;
  }

  /** Tunnels established (200 sent) and not closed yet. */
  get openTunnels(): number {
    return this.#open;
  }

  get forwarder(): Forwarder {
    return this.#fw;
  }

  /** The server's "connect" event, against the router read once by the caller. */
  handle(router: Router, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", noop);
    const target = parseAuthority(req.url ?? "");
    if (target === null) {
      refuse(socket, BAD_REQUEST);
      return;
    }
    const route = connectRoute(router, target.host);
    // Never raw TCP to an AJP connector: that would hand the client the AJP protocol itself
    // (request attributes, the secret's check) — the Ghostcat exposure the secret exists for.
    if (route === null || route.connectPorts === null || route.balancer.transport.ajp !== null) {
      refuse(socket, NOT_ALLOWED);
      return;
    }
    const fw = this.#fw;
    // Perimeter (issue #11: access control applies to CONNECT too): allow/deny CIDRs (403),
    // limit-rps (429), limit-connections (429; an open tunnel holds its slot), before the port check.
    const peer = fw.peerAddress(socket as Socket);
    const forwarded = req.headers["x-forwarded-for"];
    const client = fw.trustedProxies === null ? peer : clientAddress(peer, typeof forwarded === "string" ? forwarded : null, fw.trustedProxies);
    if (req instanceof ProxyRequest) req.client = client;
    const denied = fw.admit(route, client, performance.now());
    if (denied !== null) {
      answerError(socket, denied);
      return;
    }
    if (!route.connectPorts.includes(target.port)) {
      refuse(socket, FORBIDDEN);
      return;
    }
    const balancer = route.balancer;
    const stamp = fw.nextStamp();
    const member = balancer.pick(null, stamp);
    if (member === null) {
      answerError(socket, new NoMemberError());
      return;
    }
    if (fw.log.isLevelEnabled("debug")) fw.log.debug({ host: target.host, port: target.port, member: member.key, ingress: route.ingress }, "connect");
    const tunnel = new ConnectTunnel(this, socket as Socket, head, route, balancer, member, stamp);
    if (route.limitConnections !== null && route.limiter !== null) {
      tunnel.slotKey = limitKey(client);
      route.limiter.acquire(tunnel.slotKey);
    }
    this.#tunnels.add(tunnel);
    tunnel.connect();
  }

  /** Shutdown: destroys every tunnel left. */
  destroyAll(): void {
    for (const t of [...this.#tunnels]) t.destroy();
  }

  /** @internal */
  opened(): void {
    this.#open++;
  }

  /** @internal */
  closed(tunnel: ConnectTunnel, wasOpen: boolean): void {
    if (this.#tunnels.delete(tunnel) && wasOpen) this.#open--;
  }
}

class ConnectTunnel {
  readonly #proxy: ConnectProxy;
  readonly #client: Socket;
  readonly #head: Buffer;
  readonly #route: CompiledRoute;
  readonly #balancer: Balancer;
  #member: BalancerMember;
  readonly #stamp: number;
  #upstream: Socket | null = null;
  #timer: NodeJS.Timeout | null = null;
  #retries = 0;
  #open = false;
  #clientClosed = false;
  #upstreamClosed = false;
  #done = false;
  /** `limit-connections`: the client key whose slot this tunnel holds until it closes; null = none. */
  slotKey: string | null = null;

  constructor(proxy: ConnectProxy, client: Socket, head: Buffer, route: CompiledRoute, balancer: Balancer, member: BalancerMember, stamp: number) {
    this.#proxy = proxy;
    this.#client = client;
    this.#head = head;
    this.#route = route;
    this.#balancer = balancer;
    this.#member = member;
    this.#stamp = stamp;
    client.once("close", () => this.#clientClose());
  }

  connect(): void {
    const m = this.#member;
    const upstream = tcpConnect({ host: m.address, port: m.port, noDelay: true });
    this.#upstream = upstream;
    upstream.on("error", (err: Error) => this.#failed(upstream, err));
    upstream.once("connect", () => this.#connected(upstream));
    upstream.once("close", () => this.#upstreamClose(upstream));
    const ms = this.#route.connectMs;
    if (ms > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        const err = Object.assign(new Error("connect timeout"), { code: "UND_ERR_CONNECT_TIMEOUT" });
        this.#failed(upstream, err);
      }, ms);
    }
  }

  #clearTimer(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  #failed(upstream: Socket, err: Error): void {
    if (this.#upstream !== upstream || this.#open) return;
    this.#clearTimer();
    this.#upstream = null;
    upstream.destroy();
    if (this.#done) return;
    const member = this.#member;
    const balancer = this.#balancer;
    const failover = balancer.config.failover;
    member.markError(failover.retryMs);
    if (this.#clientClosed) {
      this.#finish();
      return;
    }
    if (this.#retries < (failover.maxAttempts ?? balancer.defaultMaxAttempts)) {
      member.mark = this.#stamp;
      const next = balancer.pick(null, this.#stamp);
      if (next !== null) {
        member.release();
        this.#member = next;
        this.#retries++;
        this.connect();
        return;
      }
    }
    answerError(this.#client, classifyUpstreamError(err));
    this.#finish();
  }

  #connected(upstream: Socket): void {
    if (this.#upstream !== upstream) return;
    this.#clearTimer();
    if (this.#clientClosed) {
      upstream.destroy();
      return;
    }
    this.#member.clearError();
    this.#open = true;
    this.#proxy.opened();
    const client = this.#client;
    client.write(ESTABLISHED);
    if (this.#head.length !== 0) upstream.write(this.#head);
    const idleMs = this.#route.websocketIdleMs;
    if (idleMs !== null) {
      const onIdle = (): void => this.destroy();
      client.setTimeout(idleMs, onIdle);
      upstream.setTimeout(idleMs, onIdle);
    }
    pipeline(client, upstream, noop);
    pipeline(upstream, client, noop);
  }

  #clientClose(): void {
    this.#clientClosed = true;
    const up = this.#upstream;
    if (up !== null && !this.#open) {
      // Still connecting: give up.
      this.#clearTimer();
      this.#upstream = null;
      up.destroy();
      this.#finish();
      return;
    }
    if (up !== null && !this.#upstreamClosed) up.destroySoon();
    this.#maybeFinish();
  }

  #upstreamClose(upstream: Socket): void {
    if (this.#upstream !== upstream) return;
    this.#upstreamClosed = true;
    if (!this.#clientClosed) this.#client.destroySoon();
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    if (this.#clientClosed && (this.#upstream === null || this.#upstreamClosed)) this.#finish();
  }

  /** Closes both sides now (idle timeout, shutdown). */
  destroy(): void {
    this.#clearTimer();
    this.#upstream?.destroy();
    this.#client.destroy();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#clearTimer();
    const up = this.#upstream;
    // Bytes the member got from the client (after the CONNECT head) and sent back.
    if (this.#open && up !== null) this.#member.addTraffic(up.bytesWritten, up.bytesRead);
    this.#member.release();
    if (this.slotKey !== null) this.#route.limiter?.release(this.slotKey);
    this.#proxy.closed(this, this.#open);
  }
}
