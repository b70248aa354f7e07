// Prometheus metrics of the control plane (prom-client), served on the admin listener at /metrics.
// Names follow STYLE.md: proxypass_<area>_<name>_<unit>. Label values come from small closed sets
// (diagnostic kinds, severities and reasons, watched resources): no object names, hosts or paths.
// Informer numbers are read from a provider at scrape time, so src/kube needs no prom-client.
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { BuildObservation, BuildObserver, Diagnostic } from "../model/index.js";

/** One watched collection, as the Kubernetes source reports it (KubeSource.informers() fits). */
export interface InformerMetricsInput {
  /** Plural resource ("ingresses"). */
  readonly resource: string;
  /** Restarts of its informer since the source started (monotonic). */
  readonly restarts: number;
  readonly synced: boolean;
}

export interface MetricsOptions {
  /** Informer state read at each scrape, e.g. `() => kubeSource.informers()`. Absent in file mode. */
  readonly informers?: () => ReadonlyArray<InformerMetricsInput>;
  /** Process metrics (CPU, memory, event loop lag, GC, handles) with the `proxypass_` prefix. Default true. */
  readonly defaultMetrics?: boolean;
}

export interface Metrics {
  readonly registry: Registry;
  /** `proxypass_config_diagnostics{kind,reason,severity}`: diagnostics of the live build. */
  readonly configDiagnostics: Gauge<"kind" | "reason" | "severity">;
  /** `proxypass_config_rejections_total{kind,reason}`: error diagnostics that newly appeared. */
  readonly configRejections: Counter<"kind" | "reason">;
  /** `proxypass_config_builds_total`: builds whose snapshot went live. */
  readonly configBuilds: Counter;
  /** `proxypass_config_last_build_timestamp_seconds`: when the last such build was observed. */
  readonly configLastBuildTimestamp: Gauge;
  /** `proxypass_kube_informer_restarts_total{resource}`. */
  readonly informerRestarts: Counter<"resource">;
  /** `proxypass_kube_informer_synced{resource}`: 1 once the informer completed its initial list. */
  readonly informerSynced: Gauge<"resource">;
}

export const metricsPrefix = "proxypass_";

/** Creates a registry with the control-plane metrics (and, by default, process metrics). */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const provider = options.informers;
  const baseline = new Map<string, number>();
  const informerRestarts = new Counter({
    name: "proxypass_kube_informer_restarts_total",
    help: "Restarts of each Kubernetes informer (watch failures that needed a fresh list and watch).",
    labelNames: ["resource"] as const,
    registers: [registry],
    collect() {
      if (provider === undefined) return;
      for (const informer of provider()) {
        const last = baseline.get(informer.resource);
        if (last === undefined) {
          this.inc({ resource: informer.resource }, informer.restarts);
        } else if (informer.restarts > last) {
          this.inc({ resource: informer.resource }, informer.restarts - last);
        }
        // A lower value means a new source: take it as the new baseline; a counter never goes down.
        baseline.set(informer.resource, informer.restarts);
      }
    },
  });
  const informerSynced = new Gauge({
    name: "proxypass_kube_informer_synced",
    help: "1 once the informer of a resource completed its initial list, else 0.",
    labelNames: ["resource"] as const,
    registers: [registry],
    collect() {
      if (provider === undefined) return;
      for (const informer of provider()) this.set({ resource: informer.resource }, informer.synced ? 1 : 0);
    },
  });
  const metrics: Metrics = {
    registry,
    configDiagnostics: new Gauge({
      name: "proxypass_config_diagnostics",
      help: "Diagnostics of the live configuration, by object kind, reason and severity.",
      labelNames: ["kind", "reason", "severity"] as const,
      registers: [registry],
    }),
    configRejections: new Counter({
      name: "proxypass_config_rejections_total",
      help: "Error diagnostics (objects or parts not served as written) counted when they first appear.",
      labelNames: ["kind", "reason"] as const,
      registers: [registry],
    }),
    configBuilds: new Counter({ name: "proxypass_config_builds_total", help: "Builds whose snapshot went live in every worker.", registers: [registry] }),
    configLastBuildTimestamp: new Gauge({
      name: "proxypass_config_last_build_timestamp_seconds",
      help: "Unix time of the last build whose snapshot went live.",
      registers: [registry],
    }),
    informerRestarts,
    informerSynced,
  };
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: metricsPrefix });
  return metrics;
}

export interface MetricsObserverOptions {
  /** Clock in ms since the epoch (default Date.now). */
  readonly now?: () => number;
}

/** Updates the config metrics after each live build. */
export class MetricsObserver implements BuildObserver {
  readonly #metrics: Metrics;
  readonly #now: () => number;
  /** Label sets of the diagnostics gauge ever set, so vanished ones drop to 0 rather than disappear. */
  readonly #gaugeLabels = new Map<string, { kind: string; reason: string; severity: string }>();
  /** Error diagnostics of the previous build, to count only new rejections. */
  #errors = new Set<string>();

  constructor(metrics: Metrics, options: MetricsObserverOptions = {}) {
    this.#metrics = metrics;
    this.#now = options.now ?? Date.now;
  }

  observe(observation: BuildObservation): void {
    const m = this.#metrics;
    m.configBuilds.inc();
    m.configLastBuildTimestamp.set(this.#now() / 1000);
    const counts = new Map<string, number>();
    const errors = new Set<string>();
    for (const d of observation.diagnostics) {
      const labels = { kind: d.kind, reason: d.reason, severity: d.severity };
      const labelKey = `${d.kind}\u0000${d.reason}\u0000${d.severity}`;
      if (!this.#gaugeLabels.has(labelKey)) this.#gaugeLabels.set(labelKey, labels);
      counts.set(labelKey, (counts.get(labelKey) ?? 0) + 1);
      if (d.severity !== "error") continue;
      const key = diagnosticKey(d);
      errors.add(key);
      if (!this.#errors.has(key)) m.configRejections.inc({ kind: d.kind, reason: d.reason });
    }
    for (const [labelKey, labels] of this.#gaugeLabels) m.configDiagnostics.set(labels, counts.get(labelKey) ?? 0);
    this.#errors = errors;
  }
}

function diagnosticKey(d: Diagnostic): string {
  return `${d.kind}\u0000${d.object}\u0000${d.reason}\u0000${d.message}`;
}
