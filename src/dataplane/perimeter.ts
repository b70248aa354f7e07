// The perimeter on the request path (issue #5): the client address (socket peer, or the right-most
// untrusted X-Forwarded-For entry behind --trusted-proxies), allow/deny CIDRs (403), rate limits
// (token bucket, 429 + Retry-After) and concurrent requests per client address (429).
//
// Limits are per client address, per Ingress, per worker thread: each worker keeps its own buckets
// (no SharedArrayBuffer): a client's connections are spread over the workers by the kernel
// (SO_REUSEPORT), so with N workers a client can get up to N x the rate in the worst case. We chose
// this over shared buckets because a shared table needs a fixed-size hash table with atomics on
// every request for a limit that is per replica anyway (as ingress-nginx's is); see README.
//
// Memory is bounded: each Ingress's bucket table holds at most MAX_CLIENTS entries; when full, a
// new client evicts refilled buckets (a full bucket is the same as none) found among the oldest
// entries, else the oldest entry. IPv6 clients are keyed by their /64 (one host's share).

import type { RateLimit, RouteOptions } from "../model/index.js";
import { CidrMatcher, normalizeIp, parseIp } from "../util/index.js";

/** Entries per Ingress's bucket table (per worker). */
export const MAX_CLIENTS = 16_384;
/** Oldest entries examined for a refilled bucket before the oldest one is evicted. */
const EVICT_SCAN = 32;

/**
 * The client address: the peer, unless the peer is a trusted proxy; then the right-most
 * X-Forwarded-For entry that is not trusted (entries are walked right to left while trusted). An
 * entry that is not an IP address stops the walk: the trusted hop to its right is the client.
 */
export function clientAddress(peer: string, forwardedFor: string | null, trusted: CidrMatcher | null): string {
  if (trusted === null || forwardedFor === null || !trusted.contains(peer)) return peer;
  let client = peer;
  let end = forwardedFor.length;
  while (end > 0) {
    const comma = forwardedFor.lastIndexOf(",", end - 1);
    const entry = forwardedFor.slice(comma + 1, end).trim();
    end = comma === -1 ? 0 : comma;
    if (entry === "") continue;
    if (parseIp(entry) === null) return client;
    client = entry;
    if (!trusted.contains(entry)) return entry;
  }
  return client;
}

/** allow-cidrs / deny-cidrs compiled once per snapshot. */
export class CompiledAccess {
  readonly #allow: CidrMatcher | null;
  readonly #deny: CidrMatcher | null;

  constructor(allow: ReadonlyArray<string> | null, deny: ReadonlyArray<string> | null) {
    this.#allow = allow === null ? null : new CidrMatcher(allow);
    this.#deny = deny === null ? null : new CidrMatcher(deny);
  }

  /** null when the route sets neither list. */
  static compile(options: RouteOptions): CompiledAccess | null {
    return options.allowCidrs === null && options.denyCidrs === null ? null : new CompiledAccess(options.allowCidrs, options.denyCidrs);
  }

  /** Deny wins; with an allow list, only its addresses; an address that does not parse is refused. */
  allows(address: string): boolean {
    if (this.#deny !== null && this.#deny.contains(address)) return false;
    if (this.#allow !== null) return this.#allow.contains(address);
    return parseIp(address) !== null || this.#deny === null;
  }
}

/** The key of a client in the limit tables: the address, IPv6 by its /64. */
export function limitKey(address: string): string {
  if (address.indexOf(":") === -1) return address;
  const ip = parseIp(address);
  if (ip === null) return address;
  if (ip.family === 4) return normalizeIp(address) ?? address;
  return `${ip.v6[0].toString(16)}:${ip.v6[1].toString(16)}::/64`;
}

class Bucket {
  tokens: number;
  at: number;
  constructor(tokens: number, at: number) {
    this.tokens = tokens;
    this.at = at;
  }
}

/** One Ingress's limits state in this worker (kept across snapshots by the Ingress's name). */
export class IngressLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #inFlight = new Map<string, number>();
  /** Seconds to wait, set by a refused `take` (Retry-After). */
  retryAfter = 1;

  /** Buckets held (for tests and the bound). */
  get clients(): number {
    return this.#buckets.size;
  }

  /** Takes one token of `key`'s bucket (capacity rps + burst, refill rps per second); false when empty. */
  take(key: string, limit: RateLimit, now: number): boolean {
    const capacity = limit.rps + limit.burst;
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= MAX_CLIENTS) this.#evict(limit, now);
      b = new Bucket(capacity, now);
      this.#buckets.set(key, b);
    } else {
      const refill = ((now - b.at) * limit.rps) / 1000;
      b.tokens = Math.min(capacity, b.tokens + refill);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    this.retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / limit.rps));
    return false;
  }

  #evict(limit: RateLimit, now: number): void {
    const capacity = limit.rps + limit.burst;
    let scanned = 0;
    for (const [key, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) * limit.rps) / 1000 >= capacity) {
        this.#buckets.delete(key);
        return;
      }
      if (++scanned >= EVICT_SCAN) break;
    }
    const oldest = this.#buckets.keys().next();
    if (oldest.done !== true) this.#buckets.delete(oldest.value);
  }

  /** Requests in flight for `key`. */
  inFlight(key: string): number {
    return this.#inFlight.get(key) ?? 0;
  }

  acquire(key: string): void {
    this.#inFlight.set(key, (this.#inFlight.get(key) ?? 0) + 1);
  }

  release(key: string): void {
    const n = (this.#inFlight.get(key) ?? 1) - 1;
    if (n <= 0) this.#inFlight.delete(key);
    else this.#inFlight.set(key, n);
  }
}

/** Limiters by Ingress ("ns/name"), reused across snapshots; Ingresses without limits are dropped at prune. */
export class LimiterRegistry {
  readonly #byIngress = new Map<string, IngressLimiter>();
  #seen = new Set<string>();

  /** The limiter of `ingress` when `options` set a limit, else null. */
  forRoute(ingress: string, options: RouteOptions): IngressLimiter | null {
    if (options.rateLimit == null && options.limitConnections == null) return null;
    this.#seen.add(ingress);
    let l = this.#byIngress.get(ingress);
    if (l === undefined) {
      l = new IngressLimiter();
      this.#byIngress.set(ingress, l);
    }
    return l;
  }

  /** After a compile is live: forget Ingresses the compile did not ask for. */
  prune(): void {
    for (const key of this.#byIngress.keys()) if (!this.#seen.has(key)) this.#byIngress.delete(key);
    this.#seen = new Set();
  }
}
