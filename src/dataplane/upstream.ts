// One undici keep-alive pool per balancer member (and per connect timeout, since undici sets the
// connect timeout per pool), created lazily and kept while the member exists across snapshots.
// When the member is removed, its pools close gracefully: pool.close() lets queued and running
// requests finish, then closes the sockets. The options object is read when a pool is created, so
// its owner (ProxyServer, for `upstream-keep-alive-timeout`) may change it: new pools use the new value.
// The pool's kind comes from the balancer's transport (upstream-transport.ts: protocol and TLS);
// when the transport's key changes (another protocol, SNI name or CA), the member's pools are
// replaced and the old ones close gracefully.

import type { Dispatcher } from "undici";
import { HTTP_TRANSPORT, type UpstreamTransport } from "./upstream-transport.js";

export interface UpstreamOptions {
  /** Keep-alive idle time of upstream connections. */
  readonly keepAliveTimeoutMs: number;
}

export const DEFAULT_UPSTREAM_OPTIONS: UpstreamOptions = Object.freeze({ keepAliveTimeoutMs: 4_000 });

/** Upstream options their owner changes at runtime (read by each pool creation). */
export type LiveUpstreamOptions = { -readonly [K in keyof UpstreamOptions]: UpstreamOptions[K] };

export class Upstream {
  readonly origin: string;
  readonly #options: UpstreamOptions;
  readonly #address: string;
  readonly #port: number;
  /** The transport the pools below were made for. */
  #transport: UpstreamTransport = HTTP_TRANSPORT;
  /** The pool for the most recent connect timeout (fast path: one timeout per member). */
  #pool: Dispatcher | null = null;
  #poolConnectMs = -1;
  /** Pools for other connect timeouts, created only when routes to one balancer differ. */
  #others: Map<number, Dispatcher> | null = null;
  /** Pools of a previous transport, closing after their requests. */
  readonly #replaced = new Map<Dispatcher, Promise<void>>();
  #closed = false;

  constructor(address: string, port: number, options: UpstreamOptions) {
    this.origin = address.includes(":") ? `http://[${address}]:${port}` : `http://${address}:${port}`;
    this.#address = address;
    this.#port = port;
    this.#options = options;
  }

  /** `connectMs` 0 = no connect timeout. `transport`: the balancer's (default plain HTTP/1.1). */
  pool(connectMs: number, transport: UpstreamTransport = HTTP_TRANSPORT): Dispatcher {
    if (transport !== this.#transport) this.#switch(transport);
    if (this.#pool !== null && this.#poolConnectMs === connectMs) return this.#pool;
    if (this.#pool === null) {
      this.#pool = this.#create(connectMs);
      this.#poolConnectMs = connectMs;
      return this.#pool;
    }
    if (this.#others === null) this.#others = new Map();
    let pool = this.#others.get(connectMs);
    if (pool === undefined) {
      pool = this.#create(connectMs);
      this.#others.set(connectMs, pool);
    }
    return pool;
  }

  #create(connectMs: number): Dispatcher {
    return this.#transport.createPool(this.#address, this.#port, connectMs, this.#options.keepAliveTimeoutMs);
  }

  /** Another transport: pools of a different key are closed gracefully (their requests finish) and made anew. */
  #switch(transport: UpstreamTransport): void {
    const previous = this.#transport;
    this.#transport = transport;
    if (previous.key === transport.key) return;
    if (this.#pool !== null) this.#retire(this.#pool);
    if (this.#others !== null) for (const p of this.#others.values()) this.#retire(p);
    this.#pool = null;
    this.#poolConnectMs = -1;
    this.#others = null;
  }

  #retire(pool: Dispatcher): void {
    const closing = pool.close().catch(() => undefined);
    this.#replaced.set(pool, closing);
    void closing.finally(() => this.#replaced.delete(pool));
  }

  /** The transport of the current pools (tests, admin). */
  get transport(): UpstreamTransport {
    return this.#transport;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Graceful: in-flight and queued requests finish first. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closing: Array<Promise<void>> = [];
    if (this.#pool !== null) closing.push(this.#pool.close());
    if (this.#others !== null) for (const p of this.#others.values()) closing.push(p.close());
    closing.push(...this.#replaced.values());
    await Promise.allSettled(closing);
  }

  /** Abrupt: used at the end of a shutdown grace period. */
  async destroy(): Promise<void> {
    this.#closed = true;
    const destroying: Array<Promise<void>> = [];
    if (this.#pool !== null) destroying.push(this.#pool.destroy());
    if (this.#others !== null) for (const p of this.#others.values()) destroying.push(p.destroy());
    for (const p of this.#replaced.keys()) destroying.push(p.destroy());
    await Promise.allSettled(destroying);
  }
}
