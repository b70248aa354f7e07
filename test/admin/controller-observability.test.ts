// The controller binary (`npm run build` first) with 2 workers: /metrics, /server-status?auto and
// /config on its admin port; `--access-log-format combined` on stdout; per-component log levels.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../support/controller.js";
import { waitFor } from "../support/wait.js";
import { BALANCER, hits, startCluster, startServing, stop, type Cluster } from "./controller-fixture.js";
import { parseAuto, parseExposition, sum } from "./apache-exporter.js";

let cluster: Cluster;
let ctl: RunningController | null = null;

beforeAll(async () => {
  cluster = await startCluster();
  // access=info, proxy=warn: access lines print, the proxy's info lines do not.
  ctl = await startServing(cluster, ["--access-log-format", "combined", "--log-level", "info,proxy=warn,access=info"]);
}, 30_000);

afterAll(async () => {
  await stop(ctl);
  await cluster?.close();
});

async function text(path: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${ctl?.adminPort}${path}`);
  expect(r.status, path).toBe(200);
  return r.text();
}

describe("controller binary", () => {
  it("counts the same requests in /metrics and server-status?auto across its workers", async () => {
    const before = parseAuto(await text("/server-status?auto")).accessesTotal ?? 0;
    const beforeMetric = sum(parseExposition(await text("/metrics")), "proxypass_http_requests_total", { namespace: "shop", ingress: "web" });
    await hits(ctl as RunningController, 20);
    const auto = parseAuto(await text("/server-status?auto"));
    expect((auto.accessesTotal ?? 0) - before).toBe(20);
    expect(auto.processes["all"]).toBe(2);
    const samples = parseExposition(await text("/metrics"));
    expect(sum(samples, "proxypass_http_requests_total", { namespace: "shop", ingress: "web" }) - beforeMetric).toBe(20);
    expect(sum(samples, "proxypass_config_swaps_total")).toBeGreaterThanOrEqual(1);
    expect(samples.some((s) => s.name === "proxypass_process_resident_memory_bytes")).toBe(true);
    // No route has had a tunnel: the per-route open-tunnel gauge has no series yet.
    expect(samples.filter((s) => s.name === "proxypass_websocket_open_tunnels")).toEqual([]);
    // Each worker thread reports its own heap under its own label.
    const heaps = samples.filter((s) => s.name === "proxypass_worker_heap_used_bytes");
    expect(heaps.map((s) => s.labels["worker"]).sort()).toEqual(["0", "1"]);
    for (const h of heaps) expect(h.value).toBeGreaterThan(1024 * 1024);
  });

  it("prints combined lines with %D and the balancer worker on stdout", async () => {
    await hits(ctl as RunningController, 1);
    await waitFor(() => (/"GET \/ HTTP\/1\.1" 200 \d+ "-" "-" \d+ "http:\/\/127\.0\.0\.2[12]:\d+"/.test(ctl?.output() ?? "") ? true : undefined), { timeoutMs: 5_000, what: "a combined access line" });
  });

  it("per-component levels: proxy=warn hides the workers' info lines, access=info keeps the access log", () => {
    const lines = (ctl?.output() ?? "").split("\n").filter((l) => l.startsWith("{"));
    const components = lines.map((l) => (JSON.parse(l) as { component?: string; level?: number }));
    expect(components.some((c) => c.component === "proxy" && (c.level ?? 0) < 40)).toBe(false);
    expect(components.some((c) => c.component === "control" && c.level === 30)).toBe(true);
  });

  it("serves /config with the live balancer", async () => {
    const doc = JSON.parse(await text("/config")) as { balancers: Array<{ id: string; members: unknown[] }> };
    expect(doc.balancers.find((b) => b.id === BALANCER)?.members).toHaveLength(2);
  });
});
