// /metrics over a real socket: config metrics follow observe(), informer metrics follow their
// provider at scrape time; /healthz and /readyz behave as before.
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { AdminServer, MetricsObserver, createMetrics, type InformerMetricsInput, type Metrics } from "../../src/admin/index.js";
import type { InformerStatus } from "../../src/kube/index.js";
import { emptyClusterView, type BuildObservation, type Diagnostic } from "../../src/model/index.js";

const silent = pino({ level: "silent" });

// KubeSource.informers() plugs in as the provider as it is.
const fromKubeSource: (informers: () => ReadonlyArray<InformerStatus>) => Metrics = (informers) => createMetrics({ informers, defaultMetrics: false });

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses Prometheus text exposition (0.0.4) into samples. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`bad exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] ?? ""] = pair[2] ?? "";
    samples.push({ name: m[1] ?? "", labels, value: Number(m[3]) });
  }
  return samples;
}

function value(samples: ReadonlyArray<Sample>, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

const lbmethod: Diagnostic = { severity: "error", kind: "Ingress", object: "apps/web", reason: "InvalidAnnotation", message: "annotation proxypass.io/lbmethod: invalid" };
const timeout: Diagnostic = { severity: "error", kind: "Ingress", object: "apps/api", reason: "InvalidAnnotation", message: "annotation proxypass.io/timeout: invalid" };
const unknownKey: Diagnostic = { severity: "warning", kind: "Ingress", object: "apps/web", reason: "UnknownAnnotation", message: "annotation proxypass.io/nope: unknown" };
const noService: Diagnostic = { severity: "error", kind: "Ingress", object: "apps/web", reason: "ServiceNotFound", message: "service apps/missing not found" };

function observation(diagnostics: ReadonlyArray<Diagnostic>): BuildObservation {
  return { view: emptyClusterView, diagnostics, accepted: [], snapshotVersion: "v" };
}

describe("admin /metrics", () => {
  const servers: AdminServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function serve(metrics: Metrics | undefined, ready = () => true): Promise<string> {
    const server = new AdminServer({ isReady: ready, logger: silent, ...(metrics !== undefined ? { metrics } : {}) });
    servers.push(server);
    const port = await server.listen(0, "127.0.0.1");
    return `http://127.0.0.1:${port}`;
  }

  async function scrape(base: string): Promise<Sample[]> {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    return parseExposition(await res.text());
  }

  it("exposes the config metrics after observe() calls", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    let clock = 1_750_000_000_000;
    const observer = new MetricsObserver(metrics, { now: () => clock });
    const base = await serve(metrics);

    let samples = await scrape(base);
    expect(value(samples, "proxypass_config_builds_total")).toBe(0);

    observer.observe(observation([lbmethod, timeout, unknownKey]));
    clock += 5_000;
    observer.observe(observation([lbmethod, timeout, unknownKey]));
    samples = await scrape(base);
    expect(value(samples, "proxypass_config_builds_total")).toBe(2);
    expect(value(samples, "proxypass_config_last_build_timestamp_seconds")).toBe(1_750_000_005);
    expect(value(samples, "proxypass_config_diagnostics", { kind: "Ingress", reason: "InvalidAnnotation", severity: "error" })).toBe(2);
    expect(value(samples, "proxypass_config_diagnostics", { kind: "Ingress", reason: "UnknownAnnotation", severity: "warning" })).toBe(1);
    // Counted once each when they appeared, not per build; warnings are not rejections.
    expect(value(samples, "proxypass_config_rejections_total", { kind: "Ingress", reason: "InvalidAnnotation" })).toBe(2);
    expect(value(samples, "proxypass_config_rejections_total", { reason: "UnknownAnnotation" })).toBeUndefined();

    // lbmethod fixed, a missing Service appears, then lbmethod comes back.
    observer.observe(observation([noService, timeout]));
    observer.observe(observation([lbmethod, noService, timeout]));
    samples = await scrape(base);
    expect(value(samples, "proxypass_config_builds_total")).toBe(4);
    expect(value(samples, "proxypass_config_rejections_total", { kind: "Ingress", reason: "InvalidAnnotation" })).toBe(3);
    expect(value(samples, "proxypass_config_rejections_total", { kind: "Ingress", reason: "ServiceNotFound" })).toBe(1);
    expect(value(samples, "proxypass_config_diagnostics", { reason: "UnknownAnnotation", severity: "warning" })).toBe(0);
    expect(value(samples, "proxypass_config_diagnostics", { reason: "ServiceNotFound", severity: "error" })).toBe(1);
  });

  it("reads informer restarts and sync state from the provider at each scrape", async () => {
    let informers: InformerMetricsInput[] = [
      { resource: "ingresses", restarts: 0, synced: false },
      { resource: "services", restarts: 2, synced: true },
    ];
    const metrics = fromKubeSource(() => informers.map((i) => ({ ...i, kind: "Ingress", running: true, objects: 0 })));
    const base = await serve(metrics);

    let samples = await scrape(base);
    expect(value(samples, "proxypass_kube_informer_restarts_total", { resource: "ingresses" })).toBe(0);
    expect(value(samples, "proxypass_kube_informer_restarts_total", { resource: "services" })).toBe(2);
    expect(value(samples, "proxypass_kube_informer_synced", { resource: "ingresses" })).toBe(0);
    expect(value(samples, "proxypass_kube_informer_synced", { resource: "services" })).toBe(1);

    informers = [
      { resource: "ingresses", restarts: 3, synced: true },
      { resource: "services", restarts: 2, synced: true },
    ];
    samples = await scrape(base);
    expect(value(samples, "proxypass_kube_informer_restarts_total", { resource: "ingresses" })).toBe(3);
    expect(value(samples, "proxypass_kube_informer_restarts_total", { resource: "services" })).toBe(2);
    expect(value(samples, "proxypass_kube_informer_synced", { resource: "ingresses" })).toBe(1);

    // A provider going backwards (a new source) never makes the counter go down.
    informers = [{ resource: "ingresses", restarts: 1, synced: true }];
    samples = await scrape(base);
    expect(value(samples, "proxypass_kube_informer_restarts_total", { resource: "ingresses" })).toBe(3);
    informers = [{ resource: "ingresses", restarts: 2, synced: true }];
    samples = await scrape(base);
    expect(value(samples, "proxypass_kube_informer_restarts_total", { resource: "ingresses" })).toBe(4);
  });

  it("includes process metrics with the proxypass_ prefix by default", async () => {
    const base = await serve(createMetrics());
    const samples = await scrape(base);
    expect(value(samples, "proxypass_process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(value(samples, "proxypass_process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === "proxypass_nodejs_eventloop_lag_seconds")).toBe(true);
    expect(samples.filter((s) => !s.name.startsWith("proxypass_"))).toEqual([]);
  });

  it("answers 500 (and keeps serving) when a provider throws", async () => {
    let fail = true;
    const metrics = createMetrics({
      defaultMetrics: false,
      informers: () => {
        if (fail) throw new Error("boom");
        return [];
      },
    });
    const base = await serve(metrics);
    expect((await fetch(`${base}/metrics`)).status).toBe(500);
    fail = false;
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });

  it.each([
    { name: "/healthz is 200 while alive", path: "/healthz", ready: false, method: "GET", status: 200, body: "ok\n" },
    { name: "/readyz is 503 before the first snapshot", path: "/readyz", ready: false, method: "GET", status: 503, body: "not ready\n" },
    { name: "/readyz is 200 once ready", path: "/readyz", ready: true, method: "GET", status: 200, body: "ok\n" },
    { name: "HEAD /metrics answers headers only", path: "/metrics", ready: true, method: "HEAD", status: 200, body: "" },
    { name: "POST is not allowed", path: "/metrics", ready: true, method: "POST", status: 405, body: "method not allowed\n" },
    { name: "unknown paths are 404", path: "/nope", ready: true, method: "GET", status: 404, body: "not found\n" },
  ])("$name", async ({ path, ready, method, status, body }) => {
    const base = await serve(createMetrics({ defaultMetrics: false }), () => ready);
    const res = await fetch(`${base}${path}`, { method });
    expect(res.status).toBe(status);
    expect(await res.text()).toBe(body);
  });

  it("answers 404 for /metrics when no metrics were given", async () => {
    const base = await serve(undefined);
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
  });
});
