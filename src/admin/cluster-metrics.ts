// /metrics across the whole controller: at each scrape the primary asks every data-plane worker for
// its registry's getMetricsAsJSON() (a worker that does not answer in time is skipped and counted),
// merges them with prom-client's AggregatorRegistry.aggregate (counters and histograms summed), and
// adds its own registry: control-plane metrics, process metrics, the config-swap timings, and the
// balancer members' state and in-flight counts read from the shared scoreboard (one series per
// member: bounded by the members).
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, type PrometheusContentType } from "prom-client";
import type { BalancerStateReader, PublishTiming } from "../model/index.js";
import type { Metrics } from "./metrics.js";

/** The data plane's side of a scrape (WorkerPool.collectMetrics fits). */
export interface WorkerMetricsSource {
  collectMetrics(timeoutMs: number): Promise<{ readonly workers: ReadonlyArray<ReadonlyArray<object>>; readonly skipped: number }>;
}

export interface ClusterMetricsOptions {
  /** The primary's registry (control plane, process). */
  readonly metrics: Metrics;
  /** The workers; absent = the primary's registry only. */
  readonly workers?: WorkerMetricsSource;
  /** Live balancers for the member gauges; absent = no member series. */
  readonly reader?: BalancerStateReader;
  /** How long a scrape waits for a worker (default 2 s). */
  readonly timeoutMs?: number;
}

/** State letters exported by proxypass_balancer_member_state (httpd's flags; "Ok" when none is set). */
const STATE_LETTERS = ["N", "D", "S", "H", "R", "I", "E", "C"] as const;

/** Names of the metrics this module adds (README lists them; a docs test checks). */
export const CLUSTER_METRIC_NAMES = [
  "proxypass_metrics_skipped_workers_total",
  "proxypass_balancer_member_state",
  "proxypass_balancer_member_busy",
  "proxypass_config_swaps_total",
  "proxypass_config_build_duration_seconds",
  "proxypass_config_swap_duration_seconds",
  "proxypass_config_convergence_duration_seconds",
] as const;

/** Seconds: 1 ms to 30 s (config builds at 10,000 Ingresses take about a second). */
const CONFIG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function splitBalancer(id: string): { namespace: string; service: string } {
  const slash = id.indexOf("/");
  return slash === -1 ? { namespace: "", service: id } : { namespace: id.slice(0, slash), service: id.slice(slash + 1) };
}

export class ClusterMetrics {
  readonly #registry: Registry;
  readonly #workers: WorkerMetricsSource | null;
  readonly #timeoutMs: number;
  readonly #skipped: Counter;
  readonly #swaps: Counter<"kind">;
  readonly #build: Histogram<"kind">;
  readonly #swap: Histogram<"kind">;
  readonly #convergence: Histogram<"kind">;

  constructor(options: ClusterMetricsOptions) {
    const registry = (this.#registry = options.metrics.registry);
    this.#workers = options.workers ?? null;
    this.#timeoutMs = options.timeoutMs ?? 2_000;
    this.#skipped = new Counter({ name: "proxypass_metrics_skipped_workers_total", help: "Data-plane workers that did not answer a scrape in time (their request metrics are missing from that scrape).", registers: [registry] });
    this.#swaps = new Counter({ name: "proxypass_config_swaps_total", help: "Snapshots made live in every worker, by kind: routes (a route table), endpoints (an endpoint table), delta (the endpoint fast lane).", labelNames: ["kind"] as const, registers: [registry] });
    this.#build = new Histogram({ name: "proxypass_config_build_duration_seconds", help: "Time to build a snapshot (full build) or resolve the changed balancers' members (delta).", labelNames: ["kind"] as const, buckets: CONFIG_BUCKETS, registers: [registry] });
    this.#swap = new Histogram({ name: "proxypass_config_swap_duration_seconds", help: "Time from handing a snapshot to the data plane until every worker runs it.", labelNames: ["kind"] as const, buckets: CONFIG_BUCKETS, registers: [registry] });
    this.#convergence = new Histogram({
      name: "proxypass_config_convergence_duration_seconds",
      help: "Time from the first source event (watch event or file change) a snapshot includes until it is live in every worker.",
      labelNames: ["kind"] as const,
      buckets: CONFIG_BUCKETS,
      registers: [registry],
    });
    const reader = options.reader;
    if (reader !== undefined) {
      new Gauge({
        name: "proxypass_balancer_member_state",
        help: "1 for each state letter set on a balancer member (N D S H R I E C, httpd's flags), or state=\"Ok\" when none is.",
        labelNames: ["namespace", "service", "member", "state"] as const,
        registers: [registry],
        collect() {
          this.reset();
          for (const b of reader.balancers() ?? []) {
            const { namespace, service } = splitBalancer(b.id);
            for (const m of b.members) {
              if (m.flags === "") this.set({ namespace, service, member: m.key, state: "Ok" }, 1);
              else for (const letter of STATE_LETTERS) if (m.flags.includes(letter)) this.set({ namespace, service, member: m.key, state: letter }, 1);
            }
          }
        },
      });
      new Gauge({
        name: "proxypass_balancer_member_busy",
        help: "Requests in flight to a balancer member, across all workers (the scoreboard's busy count).",
        labelNames: ["namespace", "service", "member"] as const,
        registers: [registry],
        collect() {
          this.reset();
          for (const b of reader.balancers() ?? []) {
            const { namespace, service } = splitBalancer(b.id);
            for (const m of b.members) this.set({ namespace, service, member: m.key }, m.busy);
          }
        },
      });
    }
  }

  /** Reconciler.onPublish: counts and times each publish. */
  observePublish(timing: PublishTiming): void {
    this.#swaps.inc({ kind: timing.kind });
    this.#build.observe({ kind: timing.kind }, timing.buildSeconds);
    this.#swap.observe({ kind: timing.kind }, timing.swapSeconds);
    if (timing.convergenceSeconds !== null) this.#convergence.observe({ kind: timing.kind }, timing.convergenceSeconds);
  }

  /**
   * One scrape: the workers' metrics aggregated (summed by name and labels), merged with the
   * primary's registry as it is (its process metrics use aggregators like "omit" meant for
   * cross-process merging, so it is not passed through aggregate).
   */
  async render(): Promise<{ text: string; contentType: string }> {
    if (this.#workers === null) return { text: await this.#registry.metrics(), contentType: this.#registry.contentType };
    const { workers, skipped } = await this.#workers.collectMetrics(this.#timeoutMs);
    if (skipped > 0) this.#skipped.inc(skipped);
    const aggregated = AggregatorRegistry.aggregate<PrometheusContentType>(workers.map((w) => [...w]));
    const merged = Registry.merge([aggregated, this.#registry]);
    return { text: await merged.metrics(), contentType: this.#registry.contentType };
  }
}
