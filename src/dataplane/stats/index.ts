// Request statistics of the data plane: per-route counters for /metrics, per-worker totals for
// server-status, request ids and the combined access-log format.
export { METHODS, STATUS_CLASSES, DURATION_BUCKETS, HistogramCells, RouteCounters, RouteStats, RouteStatsRegistry, methodIndex, statusClassIndex } from "./route-stats.js";
export * from "./worker-stats.js";
export { createWorkerRegistry, WORKER_METRIC_NAMES, type MetricJson, type MetricSample, type WorkerGauges } from "./registry.js";
export { CombinedFormatter, RequestIds, escapeLogItem, isAcceptableRequestId, type AccessLogFormat, type AccessLogSink, type CombinedFields } from "./access-log.js";
