import { describe, expect, it } from "vitest";
import { AUTH_OUTCOMES, DURATION_BUCKETS, HistogramCells, RouteStats, RouteStatsRegistry, createWorkerRegistry, methodIndex, statusClassIndex, WORKER_METRIC_NAMES } from "../../../src/dataplane/index.js";

describe("label indexes", () => {
  it.each([
    { name: "GET is its own method", method: "GET", index: 0 },
    { name: "PATCH is its own method", method: "PATCH", index: 5 },
    { name: "an extension method is other", method: "PROPFIND", index: 9 },
    { name: "lower-case is not normalised (Node upper-cases known methods)", method: "get", index: 9 },
    { name: "no method is other", method: undefined, index: 9 },
  ])("$name", ({ method, index }) => expect(methodIndex(method)).toBe(index));

  it.each([
    { name: "200 is 2xx", status: 200, index: 1 },
    { name: "499 (client gone) is 4xx", status: 499, index: 3 },
    { name: "503 is 5xx", status: 503, index: 4 },
    { name: "101 is 1xx", status: 101, index: 0 },
    { name: "out of range counts as 5xx", status: 999, index: 4 },
  ])("$name", ({ status, index }) => expect(statusClassIndex(status)).toBe(index));
});

describe("HistogramCells", () => {
  it.each([
    { name: "a value on a bound goes into that bucket (le)", value: 0.005, cell: DURATION_BUCKETS.indexOf(0.005) },
    { name: "a value between bounds goes into the next", value: 0.0051, cell: DURATION_BUCKETS.indexOf(0.01) },
    { name: "a value above the last bound goes into +Inf", value: 1000, cell: DURATION_BUCKETS.length },
    { name: "0 goes into the first", value: 0, cell: 0 },
  ])("$name", ({ value, cell }) => {
    const h = new HistogramCells();
    h.observe(value);
    expect([...h.counts].indexOf(1)).toBe(cell);
    expect(h.count).toBe(1);
    expect(h.sum).toBe(value);
  });
});

describe("RouteStatsRegistry", () => {
  it("keeps a route's stats across compiles by (Ingress, balancer), and prunes those no longer used", () => {
    const reg = new RouteStatsRegistry();
    const first = reg.forRoute("shop/web", "shop/web:80");
    reg.forRoute("shop/old", "shop/old:80");
    reg.prune();
    expect(reg.forRoute("shop/web", "shop/web:80")).toBe(first);
    reg.prune();
    expect(reg.size).toBe(1);
    expect(first.namespace).toBe("shop");
    expect(first.ingress).toBe("web");
    expect(first.service).toBe("web:80");
  });

  it("an idle route holds no counters and exports no series; the first request allocates them", async () => {
    const reg = new RouteStatsRegistry();
    const idle = reg.forRoute("shop/idle", "shop/idle:80");
    expect(idle.counters).toBeNull();
    const json = await createWorkerRegistry(reg).getMetricsAsJSON();
    expect(json.every((m) => m.values.length === 0)).toBe(true);
    idle.record(methodIndex("GET"), 200, 0.01, 0, 0);
    expect(idle.counters?.duration.count).toBe(1);
  });

  it("the worker registry exports counters and cumulative histogram buckets from the numbers", async () => {
    const reg = new RouteStatsRegistry();
    const s: RouteStats = reg.forRoute("shop/web", "shop/web:80");
    s.record(methodIndex("GET"), 200, 0.003, 0, 100);
    s.record(methodIndex("GET"), 200, 0.2, 0, 50);
    s.record(methodIndex("POST"), 502, 0.02, 10, 0);
    reg.unrouted.record(methodIndex("GET"), 404, 0.0001, 0, 0);
    s.tunnels = 3;
    s.tunnelled = true;
    const json = await createWorkerRegistry(reg, { worker: "1", heapUsed: () => 4096, authOutcomes: () => ({ counts: Float64Array.of(2, 1, 0, 0, 0, 3), labels: AUTH_OUTCOMES }), droppedConnections: () => 2 }).getMetricsAsJSON();
    expect(json.map((m) => m.name)).toEqual([...WORKER_METRIC_NAMES]);
    expect(json.find((m) => m.name === "proxypass_connections_dropped_total")?.values).toEqual([{ labels: {}, value: 2 }]);
    expect(json.find((m) => m.name === "proxypass_worker_heap_used_bytes")?.values).toEqual([{ labels: { worker: "1" }, value: 4096 }]);
    // Only routes that ever had a tunnel have a series (the unrouted stats never do).
    expect(json.find((m) => m.name === "proxypass_websocket_open_tunnels")?.values).toEqual([{ labels: { namespace: "shop", ingress: "web", service: "web:80" }, value: 3 }]);
    expect(json.find((m) => m.name === "proxypass_auth_requests_total")?.values).toEqual([
      { labels: { type: "basic", outcome: "allowed" }, value: 2 },
      { labels: { type: "basic", outcome: "denied" }, value: 1 },
      { labels: { type: "external", outcome: "failed" }, value: 3 },
    ]);
    const requests = json.find((m) => m.name === "proxypass_http_requests_total");
    expect(requests?.values).toEqual([
      { labels: { namespace: "", ingress: "", service: "", method: "GET", status_class: "4xx" }, value: 1 },
      { labels: { namespace: "shop", ingress: "web", service: "web:80", method: "GET", status_class: "2xx" }, value: 2 },
      { labels: { namespace: "shop", ingress: "web", service: "web:80", method: "POST", status_class: "5xx" }, value: 1 },
    ]);
    const duration = json.find((m) => m.name === "proxypass_http_request_duration_seconds")?.values ?? [];
    const bucket = (le: number | string, ingress: string): number | undefined => duration.find((v) => v.labels["le"] === le && v.labels["ingress"] === ingress)?.value;
    expect(bucket(0.005, "web")).toBe(1);
    expect(bucket(0.025, "web")).toBe(2);
    expect(bucket(0.25, "web")).toBe(3);
    expect(bucket("+Inf", "web")).toBe(3);
    expect(duration.find((v) => (v as { metricName?: string }).metricName === "proxypass_http_request_duration_seconds_count" && v.labels["ingress"] === "web")?.value).toBe(3);
    // Upstream histograms have no series for requests that never reached a member.
    expect(json.find((m) => m.name === "proxypass_upstream_header_duration_seconds")?.values).toEqual([]);
    // The registry renders it with prom-client's own exposition.
    const text = await createWorkerRegistry(reg).metrics();
    expect(text).toContain('proxypass_http_requests_total{namespace="shop",ingress="web",service="web:80",method="POST",status_class="5xx"} 1');
  });
});
