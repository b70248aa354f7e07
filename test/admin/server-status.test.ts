import { describe, expect, it } from "vitest";
import { ClusterMetrics, ServerStatus, createMetrics, httpdTime, httpdUptime, memberStatus, memberUrl, parseRefresh, type ServerStatusSource } from "../../src/admin/index.js";
import type { BalancerView, WorkerStatusView } from "../../src/model/index.js";
import { balancerConfig } from "../dataplane/helpers.js";
import { parseAuto, parseExposition, sum } from "./apache-exporter.js";

function worker(id: number, over: Partial<WorkerStatusView> = {}): WorkerStatusView {
  return { id, running: true, accesses: 0, bytesOut: 0, bytesIn: 0, durationMs: 0, busy: 0, connections: 0, generation: 3, lastSwapAt: 1_000, startedAt: 500, ...over };
}

function memberView(address: string, flags: string, over: Partial<BalancerView["members"][number]> = {}): BalancerView["members"][number] {
  return { key: `${address}:8080`, address, port: 8080, route: "web-a", zone: null, ready: true, standby: false, lbset: 0, snapshotLbset: 0, loadfactor: 1, flags, elected: 7, busy: 1, sent: 4096, read: 10_240, errors: 0, health: null, ...over };
}

const balancers: BalancerView[] = [
  { id: "shop/web:80", config: balancerConfig("shop/web:80"), lbmethod: "byrequests", lbmethodOverridden: false, routes: [], canaries: [], members: [memberView("10.0.0.1", ""), memberView("10.0.0.2", "N"), memberView("fd00::1", "E")] },
];

const source: ServerStatusSource = {
  workers: () => [worker(0, { accesses: 30, bytesOut: 3 * 1024 * 1024, durationMs: 300, busy: 2, connections: 5 }), worker(1, { accesses: 10, bytesOut: 1024 * 1024, durationMs: 100, connections: 1 }), worker(2, { running: false })],
  balancers: () => balancers,
  snapshot: () => null,
};

const status = new ServerStatus({ source, startedAt: Date.UTC(2026, 0, 1), version: "proxypass-ingress/0.1.0", now: () => Date.UTC(2026, 0, 1, 0, 0, 40), cpuUsage: () => ({ user: 2_000_000, system: 1_000_000 }) });

describe("server-status?auto", () => {
  const text = status.renderAuto();
  const m = parseAuto(text);

  it("is what apache_exporter reads: totals, rates, workers, scoreboard", () => {
    expect(m.accessesTotal).toBe(40);
    expect(m.kBytesTotal).toBe(4096);
    expect(m.durationTotal).toBe(400);
    expect(m.uptime).toBe(40);
    expect(m.workers).toEqual({ busy: 2, idle: 4 });
    expect(m.processes).toEqual({ all: 2, stopping: 0 });
    expect(m.connections).toEqual({ total: 6, keepalive: 4 });
    expect(m.scoreboard).toMatchObject({ reply: 1, idle: 1, open_slot: 1 });
    expect(m.generation).toBe(3);
    expect(m.mpm).toBe("worker_threads");
    expect(m.version).toBe(0.01);
  });

  it.each([
    { name: "ReqPerSec = accesses / uptime", key: "ReqPerSec", value: "1" },
    { name: "BytesPerSec = bytes / uptime", key: "BytesPerSec", value: String((4 * 1024 * 1024) / 40) },
    { name: "BytesPerReq = bytes / accesses", key: "BytesPerReq", value: String((4 * 1024 * 1024) / 40) },
    { name: "DurationPerReq in ms", key: "DurationPerReq", value: "10" },
    { name: "ServerUptimeSeconds", key: "ServerUptimeSeconds", value: "40" },
    { name: "RestartTime in httpd's format", key: "RestartTime", value: "Thursday, 01-Jan-2026 00:00:00 UTC" },
    { name: "CPULoad in percent of uptime", key: "CPULoad", value: "7.5" },
  ])("$name", ({ key, value }) => {
    expect(text.split("\n")).toContain(`${key}: ${value}`);
  });

  it("has ProxyStatus lines per balancer worker: name, httpd status, elected, busy, kB sent/received", () => {
    const id = (w: string): string => `balancer://shop/web:80\u0000${w}`;
    expect([...m.balancerElected.keys()]).toEqual([id("http://10.0.0.1:8080"), id("http://10.0.0.2:8080"), id("http://[fd00::1]:8080")]);
    expect(m.balancerStatus.get(`${id("http://10.0.0.1:8080")}\u0000Init Ok`)).toBe(1);
    expect(m.balancerStatus.get(`${id("http://10.0.0.2:8080")}\u0000Init Drn Ok`)).toBe(1);
    expect(m.balancerStatus.get(`${id("http://[fd00::1]:8080")}\u0000Init Err`)).toBe(1);
    expect(m.balancerSentKB.get(id("http://10.0.0.1:8080"))).toBe(4);
    expect(m.balancerRcvdKB.get(id("http://10.0.0.1:8080"))).toBe(10);
    expect(m.balancerBusy.get(id("http://10.0.0.1:8080"))).toBe(1);
    expect(text).toContain("ProxyBalancer[0]Worker[0]Sent: 4K\n");
  });

  it("starts with the server name line (no colon), as httpd", () => {
    expect(text.split("\n")[0]).not.toContain(":");
  });
});

describe("server-status helpers", () => {
  it.each([
    { name: "no flags: usable", flags: "", status: "Init Ok " },
    { name: "drain stays usable", flags: "N", status: "Init Drn Ok " },
    { name: "disabled is not usable", flags: "D", status: "Init Dis " },
    { name: "stopped", flags: "S", status: "Init Stop " },
    { name: "error", flags: "E", status: "Init Err " },
    { name: "health check failed", flags: "C", status: "Init HcFl " },
    { name: "standby and ignore-errors", flags: "HI", status: "Init Ign Stby Ok " },
    { name: "spare", flags: "R", status: "Init Spar Ok " },
  ])("member status: $name", ({ flags, status: s }) => expect(memberStatus({ flags })).toBe(s));

  it.each([
    { name: "IPv4", address: "10.0.0.1", url: "http://10.0.0.1:80" },
    { name: "IPv6 in brackets", address: "fd00::1", url: "http://[fd00::1]:80" },
    { name: "a DNS name (ExternalName)", address: "db.example.com", url: "http://db.example.com:80" },
  ])("member URL: $name", ({ address, url }) => expect(memberUrl({ address, port: 80 })).toBe(url));

  it.each([
    { name: "absent", value: null, refresh: null },
    { name: "5 seconds", value: "5", refresh: 5 },
    { name: "0 is refused", value: "0", refresh: null },
    { name: "over an hour is refused", value: "3601", refresh: null },
    { name: "not a number", value: "5;url=http://evil", refresh: null },
  ])("?refresh: $name", ({ value, refresh }) => expect(parseRefresh(value)).toBe(refresh));

  it.each([
    { name: "seconds only", s: 40, text: "40 seconds" },
    { name: "singular units", s: 86_400 + 3_600 + 60 + 1, text: "1 day 1 hour 1 minute 1 second" },
    { name: "zero", s: 0, text: "0 seconds" },
  ])("uptime text: $name", ({ s, text }) => expect(httpdUptime(s)).toBe(text));

  it("httpd time format", () => {
    expect(httpdTime(Date.UTC(2026, 10, 26, 11, 46, 52))).toBe("Thursday, 26-Nov-2026 11:46:52 UTC");
  });

  it("HTML escapes member fields and shows per-worker rows", () => {
    const html = new ServerStatus({ source: { ...source, balancers: () => [{ ...balancers[0], members: [memberView("10.0.0.1", "", { route: "<script>" })] } as BalancerView] }, startedAt: 0, version: "proxypass-ingress/0.1.0" }).renderHtml(null);
    expect(html).toContain("&lt;script&gt;");
    expect(html).not.toContain("<script>");
    expect(html).not.toContain('http-equiv="refresh"');
    expect(html.match(/<tr><td>\d<\/td>/g)).toHaveLength(3);
  });
});

describe("ClusterMetrics", () => {
  it("counts workers that did not answer a scrape and still serves the rest", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const cluster = new ClusterMetrics({ metrics, workers: { collectMetrics: () => Promise.resolve({ workers: [], skipped: 1 }) } });
    await cluster.render();
    const { text } = await cluster.render();
    expect(sum(parseExposition(text), "proxypass_metrics_skipped_workers_total")).toBe(2);
  });

  it("keeps the primary's process metrics (not passed through the cross-process aggregation)", async () => {
    const metrics = createMetrics();
    const { text } = await new ClusterMetrics({ metrics, workers: { collectMetrics: () => Promise.resolve({ workers: [], skipped: 0 }) } }).render();
    expect(text).toContain("proxypass_process_start_time_seconds");
  });

  it("observes publishes by kind; the first publish (no change) has no convergence", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const cluster = new ClusterMetrics({ metrics });
    cluster.observePublish({ kind: "routes", buildSeconds: 0.5, swapSeconds: 0.01, convergenceSeconds: null });
    cluster.observePublish({ kind: "delta", buildSeconds: 0.001, swapSeconds: 0.002, convergenceSeconds: 0.03 });
    const samples = parseExposition((await cluster.render()).text);
    expect(sum(samples, "proxypass_config_swaps_total")).toBe(2);
    expect(sum(samples, "proxypass_config_build_duration_seconds_count", { kind: "routes" })).toBe(1);
    expect(sum(samples, "proxypass_config_convergence_duration_seconds_count")).toBe(1);
    expect(sum(samples, "proxypass_config_convergence_duration_seconds_bucket", { kind: "delta", le: "0.05" })).toBe(1);
  });
});
