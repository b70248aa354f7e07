// One undici keep-alive Pool per balancer member (and per connect timeout, since undici sets the
// connect timeout per pool), created lazily and kept while the member exists across snapshots.
// When the member is removed, its pools close gracefully: pool.close() lets queued and running
// requests finish, then closes the sockets. The options object is read when a pool is created, so
// its owner (ProxyServer, for `upstream-keep-alive-timeout`) may change it: new pools use the new value.

import { Pool } from "undici";

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
  /** The pool for the most recent connect timeout (fast path: one timeout per member). */
  #pool: Pool | null = null;
  #poolConnectMs = -1;
  /** Pools for other connect timeouts, created only when routes to one balancer differ. */
  #others: Map<number, Pool> | null = null;
  #closed = false;

  constructor(address: string, port: number, options: UpstreamOptions) {
    this.origin = address.includes(":") ? `http://[${address}]:${port}` : `http://${address}:${port}`;
    this.#options = options;
  }

  /** `connectMs` 0 = no connect timeout. */
  pool(connectMs: number): Pool {
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

  #create(connectMs: number): Pool {
    return new Pool(this.origin, {
      connect: { timeout: connectMs },
      keepAliveTimeout: this.#options.keepAliveTimeoutMs,
      pipelining: 1,
    });
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
    await Promise.allSettled(closing);
  }

  /** Abrupt: used at the end of a shutdown grace period. */
  async destroy(): Promise<void> {
    this.#closed = true;
    const destroying: Array<Promise<void>> = [];
    if (this.#pool !== null) destroying.push(this.#pool.destroy());
    if (this.#others !== null) for (const p of this.#others.values()) destroying.push(p.destroy());
    await Promise.allSettled(destroying);
  }
}
