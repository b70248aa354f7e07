// The worker's prom-client Registry. Its metrics are collectors read at scrape time from the
// RouteStats numbers the request path bumps (see route-stats.ts for why the hot path does not
// call prom-client). `registry.getMetricsAsJSON()` is what the worker sends the primary, which
// merges all workers with AggregatorRegistry.aggregate (aggregator "sum").
import { Registry } from "prom-client";
import { METHODS, STATUS_CLASSES, type HistogramCells, type RouteCounters, type RouteStats, type RouteStatsRegistry } from "./route-stats.js";

type Labels = Record<string, string | number>;

/** One sample as prom-client's `get()` and `getMetricsAsJSON()` give it. */
export interface MetricSample {
  readonly value: number;
  readonly labels: Labels;
  readonly metricName?: string;
}

/** One metric as `getMetricsAsJSON()` gives it: what workers send the primary. */
export type MetricJson = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>[number];

/** What a collector's get() returns (prom-client's MetricObject with values). */
interface CollectedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator: string;
  readonly values: ReadonlyArray<MetricSample>;
}

/** What prom-client's Registry needs of a metric (the shape AggregatorRegistry registers too). */
interface Collector {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly aggregator: "sum";
  get(): Promise<CollectedMetric>;
}

function routeLabels(s: RouteStats): Labels {
  return { namespace: s.namespace, ingress: s.ingress, service: s.service };
}

function counter(name: string, help: string, values: (out: MetricSample[]) => void): Collector {
  return {
    name,
    help,
    type: "counter",
    aggregator: "sum",
    get() {
      const out: MetricSample[] = [];
      values(out);
      return Promise.resolve({ name, help, type: "counter", aggregator: "sum", values: out });
    },
  };
}

function histogram(name: string, help: string, stats: RouteStatsRegistry, cells: (c: RouteCounters) => HistogramCells, routed: boolean): Collector {
  return {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    get() {
      const out: MetricSample[] = [];
      for (const s of stats.all()) {
        if (routed && s === stats.unrouted) continue;
        const c = s.counters;
        if (c === null) continue;
        const h = cells(c);
        if (h.count === 0) continue;
        const labels = routeLabels(s);
        let acc = 0;
        for (let i = 0; i < h.bounds.length; i++) {
          acc += h.counts[i] as number;
          out.push({ labels: { ...labels, le: h.bounds[i] as number }, value: acc, metricName: `${name}_bucket` });
        }
        out.push({ labels: { ...labels, le: "+Inf" }, value: h.count, metricName: `${name}_bucket` });
        out.push({ labels, value: h.sum, metricName: `${name}_sum` });
        out.push({ labels, value: h.count, metricName: `${name}_count` });
      }
      return Promise.resolve({ name, help, type: "histogram", aggregator: "sum", values: out });
    },
  };
}

function workerGauge(name: string, help: string, worker: string, read: () => number): Collector {
  return {
    name,
    help,
    type: "gauge",
    aggregator: "sum",
    get() {
      return Promise.resolve({ name, help, type: "gauge", aggregator: "sum", values: [{ labels: { worker }, value: read() }] });
    },
  };
}

/** Worker-wide numbers read at scrape time. */
export interface WorkerGauges {
  /** This worker's id (the `worker` label of its own series); with `heapUsed`. */
  readonly worker?: string;
  /** Bytes used on this worker thread's V8 heap (each worker_thread is its own isolate). */
  readonly heapUsed?: () => number;
  /** Authentication outcome counters (ProxyServer.authOutcomes) and their labels, index by index. */
  readonly authOutcomes?: () => { readonly counts: Float64Array; readonly labels: ReadonlyArray<{ readonly type: string; readonly outcome: string }> };
  /** Client connections closed at once by `max-connections-per-worker` (ProxyServer.droppedConnections). */
  readonly droppedConnections?: () => number;
}

/** Names of the request metrics every worker exports (README lists them; a docs test checks). */
export const WORKER_METRIC_NAMES = [
  "proxypass_http_requests_total",
  "proxypass_http_request_duration_seconds",
  "proxypass_http_received_bytes_total",
  "proxypass_http_sent_bytes_total",
  "proxypass_upstream_connect_duration_seconds",
  "proxypass_upstream_header_duration_seconds",
  "proxypass_websocket_open_tunnels",
  "proxypass_worker_heap_used_bytes",
  "proxypass_auth_requests_total",
  "proxypass_connections_dropped_total",
] as const;

/** A registry over the worker's route statistics (no default process metrics: the primary exports those once). */
export function createWorkerRegistry(stats: RouteStatsRegistry, gauges: WorkerGauges = {}): Registry {
  const registry = new Registry();
  const collectors: Collector[] = [
    counter("proxypass_http_requests_total", "Requests served, by Ingress, Service, method and status class (ingress=\"\" for requests refused before routing).", (out) => {
      for (const s of stats.all()) {
        const counters = s.counters;
        if (counters === null) continue;
        const base = routeLabels(s);
        for (let m = 0; m < METHODS.length; m++) {
          for (let c = 0; c < STATUS_CLASSES.length; c++) {
            const n = counters.requests[m * STATUS_CLASSES.length + c] as number;
            if (n !== 0) out.push({ labels: { ...base, method: METHODS[m] as string, status_class: STATUS_CLASSES[c] as string }, value: n });
          }
        }
      }
    }),
    histogram("proxypass_http_request_duration_seconds", "Time from a request's arrival to the end of its response.", stats, (c) => c.duration, false),
    counter("proxypass_http_received_bytes_total", "Request body bytes received from clients (by Content-Length; chunked bodies are not counted).", (out) => {
      for (const s of stats.all()) if (s.counters !== null && s.counters.bytesIn !== 0) out.push({ labels: routeLabels(s), value: s.counters.bytesIn });
    }),
    counter("proxypass_http_sent_bytes_total", "Response body bytes relayed to clients.", (out) => {
      for (const s of stats.all()) if (s.counters !== null && s.counters.bytesOut !== 0) out.push({ labels: routeLabels(s), value: s.counters.bytesOut });
    }),
    histogram(
      "proxypass_upstream_connect_duration_seconds",
      "Time from dispatching a request to a member until it is on a connection: a new TCP connect, or about 0 on a reused keep-alive connection.",
      stats,
      (c) => c.connect,
      true,
    ),
    histogram("proxypass_upstream_header_duration_seconds", "Time from dispatching a request to a member until its response headers arrived.", stats, (c) => c.header, true),
  ];
  const tunnelsHelp = "WebSocket tunnels open now (upgraded connections piped to a member), by Ingress and Service; a route's series appears with its first tunnel.";
  collectors.push({
    name: "proxypass_websocket_open_tunnels",
    help: tunnelsHelp,
    type: "gauge",
    aggregator: "sum",
    get() {
      const values: MetricSample[] = [];
      for (const s of stats.all()) if (s.tunnelled) values.push({ labels: routeLabels(s), value: s.tunnels });
      return Promise.resolve({ name: "proxypass_websocket_open_tunnels", help: tunnelsHelp, type: "gauge", aggregator: "sum", values });
    },
  });
  const heapUsed = gauges.heapUsed;
  if (heapUsed !== undefined) {
    collectors.push(workerGauge("proxypass_worker_heap_used_bytes", "Bytes used on each data-plane worker thread's V8 heap (the primary's is nodejs_heap_size_used_bytes; RSS is the whole process).", gauges.worker ?? "0", heapUsed));
  }
  const authOutcomes = gauges.authOutcomes;
  if (authOutcomes !== undefined) {
    collectors.push(
      counter("proxypass_auth_requests_total", "Authentication checks of routes with auth-* annotations, by type (basic, external) and outcome (allowed, denied: 401/403, misconfigured: missing or invalid auth Secret -> 503, failed: auth service down, slow or answering another status -> 503).", (out) => {
        const { counts, labels } = authOutcomes();
        for (let i = 0; i < labels.length; i++) {
          const n = counts[i] as number;
          const l = labels[i];
          if (n !== 0 && l !== undefined) out.push({ labels: { type: l.type, outcome: l.outcome }, value: n });
        }
      }),
    );
  }
  const dropped = gauges.droppedConnections;
  if (dropped !== undefined) {
    collectors.push(
      counter("proxypass_connections_dropped_total", "Client connections closed at once because the worker had max-connections-per-worker open.", (out) => {
        out.push({ labels: {}, value: dropped() });
      }),
    );
  }
  for (const c of collectors) registry.registerMetric(c as unknown as Parameters<Registry["registerMetric"]>[0]);
  return registry;
}
