// /metrics, /server-status and /config of a WorkerPool with 2 workers on real sockets: the request
// counters and histograms aggregated across workers (parsed from the exposition), and `?auto`
// parsed by the apache_exporter rules, agree with the requests sent.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminAccess, AdminServer, ClusterMetrics, ServerStatus, createMetrics, parseCidrs } from "../../src/admin/index.js";
import { WorkerPool } from "../../src/dataplane/index.js";
import type { EndpointTable, RouteTable } from "../../src/model/index.js";
import { endpointTable, member, route, routeTable, send, silentLogger, startUpstream, vhost, type Upstream } from "../dataplane/helpers.js";
import { parseAuto, parseExposition, sum } from "./apache-exporter.js";

const BALANCER = "shop/web:80";
const HOST = "shop.test";
const GETS = 40;
const POSTS = 4;
const UNROUTED = 3;

let a: Upstream;
let b: Upstream;
let pool: WorkerPool;
let port: number;
let admin: AdminServer;
let adminPort: number;
let remoteAdmin: AdminServer;
let remotePort: number;
let routes: RouteTable;
let endpoints: EndpointTable;
const servedBy = new Map<string, number>();

async function get(path: string, p = adminPort): Promise<{ status: number; headers: Headers; body: string }> {
  const r = await fetch(`http://127.0.0.1:${p}${path}`);
  return { status: r.status, headers: r.headers, body: await r.text() };
}

beforeAll(async () => {
  a = await startUpstream("a");
  b = await startUpstream("b");
  pool = new WorkerPool({ workers: 2, port: 0, host: "127.0.0.1", logLevel: "silent", accessLog: false, logger: silentLogger, exposeWorkerId: true });
  port = await pool.start();
  routes = routeTable([vhost(HOST, [route("/", "Prefix", BALANCER, {}, "shop/web")])]);
  endpoints = endpointTable({ [BALANCER]: [member(a.port), member(b.port)] });
  await pool.applyRoutes(routes, endpoints);
  const metrics = createMetrics({ defaultMetrics: false });
  const cluster = new ClusterMetrics({ metrics, workers: pool, reader: pool });
  cluster.observePublish({ kind: "routes", buildSeconds: 0.002, swapSeconds: 0.001, convergenceSeconds: 0.12 });
  const serverStatus = new ServerStatus({ source: { workers: () => pool.workerStats(), balancers: () => pool.balancers(), snapshot: () => ({ routes, endpoints }) }, startedAt: Date.now() - 10_000, version: "proxypass-ingress/0.1.0" });
  const config = { snapshot: () => ({ version: "v1", routes, endpoints }) };
  admin = new AdminServer({ isReady: () => true, logger: silentLogger, metrics, clusterMetrics: cluster, access: new AdminAccess(), serverStatus, config });
  adminPort = await admin.listen(0, "127.0.0.1");
  // The same pages for a client outside the allow-list.
  remoteAdmin = new AdminServer({ isReady: () => true, logger: silentLogger, metrics, clusterMetrics: cluster, access: new AdminAccess({ allow: parseCidrs("10.0.0.0/8") }), serverStatus, config });
  remotePort = await remoteAdmin.listen(0, "127.0.0.1");

  for (let i = 0; i < GETS; i++) {
    const r = await send(port, { headers: { host: HOST } });
    expect(r.status).toBe(200);
    const w = String(r.headers["x-proxypass-worker"]);
    servedBy.set(w, (servedBy.get(w) ?? 0) + 1);
  }
  for (let i = 0; i < POSTS; i++) expect((await send(port, { method: "POST", headers: { host: HOST }, body: "hello" })).status).toBe(200);
  for (let i = 0; i < UNROUTED; i++) expect((await send(port, { headers: { host: "nowhere.test" } })).status).toBe(404);
}, 30_000);

afterAll(async () => {
  await Promise.all([admin?.close(), remoteAdmin?.close()]);
  await pool?.close(1_000);
  await Promise.all([a?.close(), b?.close()]);
});

describe("metrics across 2 workers", () => {
  it("both workers served requests (the counters below are sums over both)", () => {
    expect([...servedBy.keys()].sort()).toEqual(["0", "1"]);
  });

  it("request counters agree with the requests sent, by method and status class", async () => {
    const r = await get("/metrics");
    expect(r.status).toBe(200);
    const samples = parseExposition(r.body);
    const shop = { namespace: "shop", ingress: "web", service: "web:80" };
    expect(sum(samples, "proxypass_http_requests_total", { ...shop, method: "GET", status_class: "2xx" })).toBe(GETS);
    expect(sum(samples, "proxypass_http_requests_total", { ...shop, method: "POST", status_class: "2xx" })).toBe(POSTS);
    expect(sum(samples, "proxypass_http_requests_total", { ingress: "", method: "GET", status_class: "4xx" })).toBe(UNROUTED);
    expect(sum(samples, "proxypass_http_requests_total")).toBe(GETS + POSTS + UNROUTED);
    expect(sum(samples, "proxypass_http_received_bytes_total", shop)).toBe(POSTS * 5);
    expect(sum(samples, "proxypass_http_sent_bytes_total", shop)).toBeGreaterThan(0);
  });

  it("histogram counts agree with the requests sent (+Inf bucket = _count)", async () => {
    const samples = parseExposition((await get("/metrics")).body);
    const shop = { namespace: "shop", ingress: "web", service: "web:80" };
    for (const name of ["proxypass_http_request_duration_seconds", "proxypass_upstream_header_duration_seconds", "proxypass_upstream_connect_duration_seconds"]) {
      expect(sum(samples, `${name}_count`, shop), name).toBe(GETS + POSTS);
      expect(sum(samples, `${name}_bucket`, { ...shop, le: "+Inf" }), name).toBe(GETS + POSTS);
    }
    expect(sum(samples, "proxypass_http_request_duration_seconds_count")).toBe(GETS + POSTS + UNROUTED);
  });

  it("member state and in-flight gauges come from the scoreboard, one series per member", async () => {
    const samples = parseExposition((await get("/metrics")).body);
    const busy = samples.filter((s) => s.name === "proxypass_balancer_member_busy");
    expect(busy.map((s) => s.labels["member"]).sort()).toEqual([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`].sort());
    expect(busy.every((s) => s.value === 0 && s.labels["namespace"] === "shop" && s.labels["service"] === "web:80")).toBe(true);
    expect(sum(samples, "proxypass_balancer_member_state", { state: "Ok" })).toBe(2);
  });

  it("config swap timings and the control-plane registry are in the same scrape", async () => {
    const samples = parseExposition((await get("/metrics")).body);
    expect(sum(samples, "proxypass_config_swaps_total", { kind: "routes" })).toBe(1);
    expect(sum(samples, "proxypass_config_convergence_duration_seconds_count", { kind: "routes" })).toBe(1);
    expect(samples.some((s) => s.name === "proxypass_config_builds_total")).toBe(true);
    expect(sum(samples, "proxypass_metrics_skipped_workers_total")).toBe(0);
  });
});

describe("server-status across 2 workers", () => {
  it("?auto parses with apache_exporter's rules and its counters match the requests sent", async () => {
    const r = await get("/server-status?auto");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/plain/);
    const m = parseAuto(r.body);
    expect(m.accessesTotal).toBe(GETS + POSTS + UNROUTED);
    expect(m.version).toBe(0.01);
    expect(m.uptime).toBeGreaterThanOrEqual(10);
    expect(m.workers).toEqual({ busy: 0, idle: expect.any(Number) as number });
    expect(m.processes["all"]).toBe(2);
    expect(m.scoreboard["idle"]).toBe(2);
    expect(m.generation).toBeGreaterThanOrEqual(1);
    const elected = [...m.balancerElected.entries()];
    expect(elected.map(([k]) => k.split("\u0000")[0])).toEqual([`balancer://${BALANCER}`, `balancer://${BALANCER}`]);
    expect(elected.reduce((n, [, v]) => n + v, 0)).toBe(GETS + POSTS);
    expect([...m.balancerStatus.keys()].map((k) => k.split("\u0000")[2])).toEqual(["Init Ok", "Init Ok"]);
    expect([...m.balancerBusy.values()]).toEqual([0, 0]);
  });

  it("HTML with ?refresh=N: meta refresh and Refresh header, per-worker and per-balancer tables, own CSP", async () => {
    const r = await get("/server-status?refresh=5");
    expect(r.status).toBe(200);
    expect(r.headers.get("refresh")).toBe("5");
    expect(r.body).toContain('<meta http-equiv="refresh" content="5">');
    expect(r.body).toContain(`Total accesses: ${GETS + POSTS + UNROUTED}`);
    expect(r.body).toContain("1 hosts, 1 routes, 1 balancers, 2 members");
    expect(r.body).toContain(`Proxy LoadBalancer Status for balancer://${BALANCER}`);
    expect(r.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    expect(r.headers.get("x-frame-options")).toBe("DENY");
    expect((await get("/server-status?refresh=0")).headers.get("refresh")).toBeNull();
  });
});

describe("/config", () => {
  it("returns the live snapshot with balancers and their members", async () => {
    const r = await get("/config");
    expect(r.status).toBe(200);
    const doc = JSON.parse(r.body) as { live: boolean; balancers: Array<{ id: string; members: Array<{ key: string }> }> };
    expect(doc.live).toBe(true);
    expect(doc.balancers.map((x) => x.id)).toEqual([BALANCER]);
    expect(doc.balancers[0]?.members.map((x) => x.key)).toEqual(endpoints.balancers[0]?.members.map((x) => x.key));
  });
});

describe("protection", () => {
  it.each([
    { name: "server-status refused outside the allow-list", path: "/server-status", status: 403 },
    { name: "server-status?auto refused outside the allow-list", path: "/server-status?auto", status: 403 },
    { name: "config refused outside the allow-list", path: "/config", status: 403 },
    { name: "metrics stays open (Prometheus)", path: "/metrics", status: 200 },
  ])("$name", async ({ path, status }) => {
    expect((await get(path, remotePort)).status).toBe(status);
  });

  it("server-status and config take GET and HEAD only", async () => {
    const r = await fetch(`http://127.0.0.1:${adminPort}/config`, { method: "POST", body: "x" });
    expect(r.status).toBe(405);
  });
});
