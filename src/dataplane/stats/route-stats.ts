// Per-route request statistics for the hot path. prom-client's bound children still hash their
// label object into a string on every inc()/observe() (util.hashObject), so the request path does
// not call prom-client at all: it bumps plain numbers in a RouteStats object that compile hands to
// each CompiledRoute (one per Ingress x balancer, kept across snapshots by that identity, so counters
// survive a route swap). At scrape time the worker's registry (./registry.ts) turns them into
// prom-client metric objects; the primary aggregates the workers' JSON with AggregatorRegistry.
//
// Labels are bounded by the cluster's objects: namespace, ingress (name), service ("name:port"),
// method (10 values) and status class (5 values). Never a path, host or client.

/** Methods with their own `method` label value; everything else is "other". */
export const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "other"] as const;
export const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;
const CLASSES = STATUS_CLASSES.length;

/** Request duration buckets (seconds): 1 ms to 60 s. */
export const DURATION_BUCKETS: ReadonlyArray<number> = Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);

/** `method` label index; no allocation (a switch over the interned method string). */
export function methodIndex(method: string | undefined): number {
  switch (method) {
    case "GET":
      return 0;
    case "HEAD":
      return 1;
    case "POST":
      return 2;
    case "PUT":
      return 3;
    case "DELETE":
      return 4;
    case "PATCH":
      return 5;
    case "OPTIONS":
      return 6;
    case "CONNECT":
      return 7;
    case "TRACE":
      return 8;
    default:
      return 9;
  }
}

/** 0-4 for 1xx-5xx; anything out of range counts as 5xx. */
export function statusClassIndex(status: number): number {
  const c = ((status / 100) | 0) - 1;
  return c >= 0 && c < CLASSES ? c : CLASSES - 1;
}

/** Histogram cells: per-bucket counts (non-cumulative; the last cell is +Inf), sum and count. */
export class HistogramCells {
  readonly bounds: ReadonlyArray<number>;
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: ReadonlyArray<number> = DURATION_BUCKETS) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

/** Splits "ns/name" -> [ns, name]; "" stays "" (requests without a route). */
function splitNamespaced(id: string): [string, string] {
  const slash = id.indexOf("/");
  return slash === -1 ? ["", id] : [id.slice(0, slash), id.slice(slash + 1)];
}

/** The numbers of one route, allocated when it serves its first request. */
export class RouteCounters {
  /** requests[method * 5 + statusClass]. */
  readonly requests = new Float64Array(METHODS.length * CLASSES);
  /** Client request start to the end of the response (or the error reply). */
  readonly duration = new HistogramCells();
  /** Dispatch to the upstream request being on a connection: a new TCP connect, or ~0 on a reused keep-alive connection. */
  readonly connect = new HistogramCells();
  /** Dispatch to the upstream response headers. */
  readonly header = new HistogramCells();
  /** Request body bytes received (Content-Length; chunked bodies count 0). */
  bytesIn = 0;
  /** Response body bytes sent to clients. */
  bytesOut = 0;
}

/**
 * Counters of one (Ingress, balancer) pair. The label values are computed once here; the numbers
 * (about 1 KB) are allocated on the route's first request, so the 10,000 Ingresses of a large
 * cluster that mostly sit idle cost a small object each. The request path only adds to numbers.
 */
export class RouteStats {
  /** Label values, computed once. */
  readonly namespace: string;
  readonly ingress: string;
  readonly service: string;
  /** WebSocket tunnels of this route side open now (member answered 101, not closed yet). */
  tunnels = 0;
  /** A tunnel was opened on this route side once: its open-tunnels series is exported (0 too) from then on. */
  tunnelled = false;
  #counters: RouteCounters | null = null;

  /** `ingress` "ns/name" ("" = no route), `balancer` "ns/service:port" ("" = none). */
  constructor(ingress: string, balancer: string) {
    const [namespace, name] = splitNamespaced(ingress);
    this.namespace = namespace;
    this.ingress = name;
    this.service = splitNamespaced(balancer)[1];
  }

  /** The numbers, or null while the route has served nothing (scrape side: allocates nothing). */
  get counters(): RouteCounters | null {
    return this.#counters;
  }

  #use(): RouteCounters {
    return this.#counters ?? (this.#counters = new RouteCounters());
  }

  get connect(): HistogramCells {
    return this.#use().connect;
  }

  get header(): HistogramCells {
    return this.#use().header;
  }

  /** One finished request. */
  record(method: number, status: number, seconds: number, bytesIn: number, bytesOut: number): void {
    const c = this.#use();
    const i = method * CLASSES + statusClassIndex(status);
    c.requests[i] = (c.requests[i] as number) + 1;
    c.duration.observe(seconds);
    c.bytesIn += bytesIn;
    c.bytesOut += bytesOut;
  }
}

/**
 * The worker's RouteStats by identity ("ingress\0balancer"). Compile asks for each route's stats;
 * `prune` after a swap drops those no live route uses (their series disappear from /metrics).
 */
export class RouteStatsRegistry {
  readonly #byKey = new Map<string, RouteStats>();
  #seen = new Set<string>();
  /** Requests that matched no route or were refused before routing (400, 404, 405...). */
  readonly unrouted: RouteStats = new RouteStats("", "");

  /** Compile time: the stats of an (Ingress, balancer) pair, created on first use. */
  forRoute(ingress: string, balancer: string): RouteStats {
    const key = `${ingress}\u0000${balancer}`;
    this.#seen.add(key);
    let stats = this.#byKey.get(key);
    if (stats === undefined) {
      stats = new RouteStats(ingress, balancer);
      this.#byKey.set(key, stats);
    }
    return stats;
  }

  /**
   * After a compiled router is live: forgets stats no route of it asked for since the previous
   * prune, except those with tunnels still open (a tunnel outlives its route; its series stays
   * until it closes and a later prune drops it).
   */
  prune(): void {
    for (const [key, stats] of this.#byKey) if (!this.#seen.has(key) && stats.tunnels === 0) this.#byKey.delete(key);
    this.#seen = new Set();
  }

  /** All live stats, unrouted first. */
  *all(): IterableIterator<RouteStats> {
    yield this.unrouted;
    yield* this.#byKey.values();
  }

  get size(): number {
    return this.#byKey.size;
  }
}
