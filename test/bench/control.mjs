// Control-plane benchmark (`npm run bench:control`): a synthetic cluster in the kube-api stand-in,
// the real controller (dist/) against it, and the figures of issue 3: time to first ready, full
// rebuild time (in-process, with the build cache: one Ingress changed, and unchanged), endpoint-change-to-live latency, RSS. Method and figures:
// docs/control-plane-benchmark.md. All traffic on 127.0.0.0/8; the controller runs in its own
// process group and is killed on exit; a watchdog kills it if this process dies.
//
//   node test/bench/control.mjs [--ingresses N] [--services N] [--endpoints N] [--changes N] [--runs N] [--workers N]
//                               [--json FILE] [--keep-dir] [--cpu-prof (controller profile, kept in the temp dir)]
import "./control-ts-loader.mjs";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Processes, sleep } from "./lib/procs.mjs";
import { get, waitFor } from "./lib/http-check.mjs";
import { generateCluster, probeSlice, probe } from "./control-cluster.mjs";

const { values: opts } = parseArgs({
  options: {
    ingresses: { type: "string", default: "10000" },
    services: { type: "string", default: "5000" },
    endpoints: { type: "string", default: "50000" },
    changes: { type: "string", default: "20" },
    runs: { type: "string", default: "20" },
    workers: { type: "string", default: "2" },
    json: { type: "string" },
    "keep-dir": { type: "boolean", default: false },
    "cpu-prof": { type: "boolean", default: false },
    "no-image-node-options": { type: "boolean", default: false },
  },
});

/**
 * NODE_OPTIONS the container image runs the controller with (the Dockerfile's `ENV NODE_OPTIONS`:
 * V8 heap caps). The controller is measured as it ships unless `--no-image-node-options`.
 */
function imageNodeOptions() {
  const text = readFileSync(new URL("../../Dockerfile", import.meta.url), "utf8");
  const m = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(text);
  if (m === null) throw new Error("Dockerfile has no ENV NODE_OPTIONS line");
  return m[1];
}
const controllerEnv = opts["no-image-node-options"] ? { ...process.env } : { ...process.env, NODE_OPTIONS: imageNodeOptions() };
const size = { ingresses: Number(opts.ingresses), services: Number(opts.services), endpoints: Number(opts.endpoints) };
const root = new URL("../../", import.meta.url);
const dist = (p) => new URL(`dist/${p}`, root).href;
const dir = mkdtempSync(join(tmpdir(), "ppi-bench-control-"));
const procs = new Processes(dir);
const deadlineMs = 5 * 60_000;
let failed = false;

process.on("exit", () => procs.killAllSync());
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    void procs.stopAll().finally(() => process.exit(130));
  });
}
const watchdog = setTimeout(() => {
  process.stderr.write(`bench:control: over ${deadlineMs / 1000} s, giving up\n`);
  procs.killAllSync();
  process.exit(1);
}, deadlineMs);
watchdog.unref();

const log = (line) => process.stdout.write(`${line}\n`);
const ms = (v) => `${v.toFixed(1)} ms`;

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), min: s[0], max: s[s.length - 1] };
}

/** A live upstream on loopback answering 200 "live". */
function startUpstream() {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "text/plain", "content-length": "4" });
    res.end("live");
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function freePort() {
  const server = createServer();
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  }));
}

/** GET through the proxy with a given Host, on a new connection (so the kernel picks any worker). */
function probeRequest(port, host) {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/", headers: { host }, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", () => resolve(0));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(0));
    req.end();
  });
}

/**
 * Polls until `want(status)` holds for `confirm` consecutive requests on new connections.
 * Returns [first-seen ms, confirmed ms] after `t0`.
 */
async function pollUntil(port, host, want, t0, confirm, timeoutMs) {
  let first = null;
  let streak = 0;
  while (performance.now() - t0 < timeoutMs) {
    const status = await probeRequest(port, host);
    const now = performance.now() - t0;
    if (want(status)) {
      first ??= now;
      streak++;
      if (streak >= confirm) return [first, now];
    } else {
      first = null;
      streak = 0;
    }
  }
  throw new Error(`${host}: no change within ${timeoutMs} ms`);
}

/**
 * Polls in rounds of `n` concurrent requests on new connections (the kernel spreads them over the
 * workers) until every request of one round satisfies `want`. Returns the end of that round after
 * `t0`: conservative (every worker answered by then), without pollUntil's n sequential round trips
 * of client time.
 */
async function pollRounds(port, host, want, t0, n, timeoutMs) {
  while (performance.now() - t0 < timeoutMs) {
    const statuses = await Promise.all(Array.from({ length: n }, () => probeRequest(port, host)));
    if (statuses.every(want)) return performance.now() - t0;
  }
  throw new Error(`${host}: no change within ${timeoutMs} ms`);
}

/** VmRSS and thread count of a pid, from /proc. */
function procStatus(pid) {
  try {
    const text = readProc(`/proc/${pid}/status`);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(text)?.[1] ?? NaN);
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(text)?.[1] ?? NaN);
    const threads = Number(/Threads:\s+(\d+)/.exec(text)?.[1] ?? NaN);
    return { rssMiB: rss / 1024, peakRssMiB: hwm / 1024, threads };
  } catch {
    return { rssMiB: NaN, peakRssMiB: NaN, threads: NaN };
  }
}

function readProc(path) {
  return readFileSync(path, "utf8");
}

/** Primary heap from /metrics (prom-client default metrics), when the admin listener serves them. */
async function primaryHeap(adminPort) {
  const text = await new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port: adminPort, path: "/metrics", agent: false, timeout: 2000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve(res.statusCode === 200 ? body : ""));
    });
    req.on("error", () => resolve(""));
    req.end();
  });
  const used = /^\w*nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
  if (used === null) return null;
  const workers = [...text.matchAll(/^proxypass_worker_heap_used_bytes\{worker="(\d+)"\} (\S+)$/gm)].map((m) => Number(m[2]) / 1024 / 1024);
  const total = /^\w*nodejs_heap_size_total_bytes (\S+)$/m.exec(text);
  const newSpace = /^\w*nodejs_heap_space_size_total_bytes\{space="new"\} (\S+)$/m.exec(text);
  return { primary: Number(used[1]) / 1024 / 1024, primaryTotal: Number(total?.[1] ?? NaN) / 1048576, primaryNew: Number(newSpace?.[1] ?? NaN) / 1048576, workers };
}

/**
 * In-process: the same objects through the file-source parser and buildSnapshot with the previous
 * result's memory (as the reconciler runs it). Measured: `runs` rebuilds each after one Ingress was
 * replaced by a new object (a watch event; the build cache reuses everything else), and `runs`
 * rebuilds of the unchanged view.
 */
async function measureBuilder(objects, configMap, runs) {
  const { toClusterView } = await import(dist("src/files/index.js"));
  const { buildSnapshot } = await import(dist("src/build/index.js"));
  const { defaultBuildSettings, emptyBuildMemory } = await import(dist("src/model/index.js"));
  const t0 = performance.now();
  let { view } = toClusterView(objects.map((value, index) => ({ file: "bench", index, value })));
  const parseMs = performance.now() - t0;
  const settings = { ...defaultBuildSettings, configMap };
  let memory = emptyBuildMemory;
  let result = null;
  const timed = () => {
    const t = performance.now();
    result = buildSnapshot(view, memory, settings);
    memory = result.memory;
    return performance.now() - t;
  };
  const firstMs = timed();
  for (let i = 0; i < 3; i++) timed();
  const changed = [];
  for (let i = 0; i < runs; i++) {
    const at = (i * 997) % view.ingresses.length;
    const old = view.ingresses[at];
    const next = { ...old, metadata: { ...old.metadata, annotations: { ...old.metadata.annotations, "proxypass.io/timeout": String(10 + i) } } };
    view = { ...view, ingresses: view.ingresses.map((x, j) => (j === at ? next : x)) };
    changed.push(timed());
  }
  const unchanged = [];
  for (let i = 0; i < runs; i++) unchanged.push(timed());
  return {
    parseMs,
    firstMs,
    rebuild: summary(changed),
    rebuildUnchanged: summary(unchanged),
    routes: result.snapshot.routes.virtualHosts.length,
    balancers: result.snapshot.routes.balancers.length,
    members: result.snapshot.endpoints.balancers.reduce((n, b) => n + b.members.length, 0),
    diagnostics: result.diagnostics.length,
  };
}

function startController(kubeconfig, configMap, httpPort, adminPort, workers, cpuProf) {
  return (async () => {
    const profile = cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
    return procs.start("controller", process.execPath, [
      ...profile,
      new URL("dist/cmd/proxypass-ingress.js", root).pathname,
      "--kubeconfig", kubeconfig,
      "--configmap", `${configMap.namespace}/${configMap.name}`,
      "--workers", String(workers),
      "--http-port", String(httpPort),
      "--admin-port", String(adminPort),
      "--https-port", String(await freePort()),
      "--bind-address", "127.0.0.1",
      "--access-log=false",
      "--log-level", "warn",
      "--shutdown-delay", "0",
      "--shutdown-grace", "2",
    ], { cwd: new URL(".", root).pathname, env: controllerEnv });
  })();
}

async function untilReady(controller, adminPort) {
  const ready = await waitFor(`http://127.0.0.1:${adminPort}/readyz`, { timeoutMs: 60_000, alive: () => !controller.entry.exited });
  if (!ready.ok) throw new Error(`controller not ready: ${JSON.stringify(ready.last)}; log: ${controller.log}`);
}

async function main() {
  const started = performance.now();
  const upstream = await startUpstream();
  const livePort = upstream.address().port;
  const deadPort = await freePort(); // closed: connection refused, never a live member
  const { objects, configMap } = generateCluster(size, deadPort);
  log(`cluster: ${size.ingresses} Ingresses, ${size.services} Services, ${size.endpoints} endpoints (${objects.filter((o) => o.kind === "EndpointSlice").length} EndpointSlices), +1 probe Ingress; generated in ${ms(performance.now() - started)}`);

  const { startKubeApi } = await import("../support/kube-api.ts");
  const t1 = performance.now();
  const api = await startKubeApi({ objects, bookmarkIntervalMs: 5000 });
  log(`stand-in API server ${api.url}: loaded in ${ms(performance.now() - t1)}`);
  const kubeconfig = await api.writeKubeconfig(dir);

  const builder = await measureBuilder(objects, { namespace: configMap.namespace, name: configMap.name }, Number(opts.runs));
  log(`builder (in-process, ${opts.runs} runs each after 3 warm-up): view parse ${ms(builder.parseMs)}, first build ${ms(builder.firstMs)}, rebuild after one Ingress changed p50 ${ms(builder.rebuild.p50)} p99 ${ms(builder.rebuild.p99)} (max ${ms(builder.rebuild.max)}), unchanged view p50 ${ms(builder.rebuildUnchanged.p50)} p99 ${ms(builder.rebuildUnchanged.p99)}; ${builder.routes} hosts, ${builder.balancers} balancers, ${builder.members} members, ${builder.diagnostics} diagnostics`);

  const httpPort = await freePort();
  const adminPort = await freePort();
  procs.startWatchdog();
  const tStart = performance.now();
  const controller = await startController(kubeconfig, configMap, httpPort, adminPort, opts.workers, opts["cpu-prof"]);
  await untilReady(controller, adminPort);
  const firstReadyMs = performance.now() - tStart;
  log(`first ready (/readyz 200, spawn to answer, 100 ms polls): ${ms(firstReadyMs)}`);
  const afterReady = procStatus(controller.pid);

  // Endpoint change to live: the probe Service flips between an unreachable member (closed port:
  // 502) and the live upstream (200).
  const host = probe.host;
  await pollUntil(httpPort, host, (s) => s === 502 || s === 503, performance.now(), 1, 10_000);
  const toLive = [];
  const toLiveAll = [];
  const toLiveRound = [];
  const toDead = [];
  for (let i = 0; i < Number(opts.changes); i++) {
    let t0 = performance.now();
    api.apply(probeSlice(livePort, i));
    const [first, all] = await pollUntil(httpPort, host, (s) => s === 200, t0, 8, 10_000);
    toLive.push(first);
    toLiveAll.push(all);
    await sleep(150);
    t0 = performance.now();
    api.apply(probeSlice(deadPort, i));
    const [dead] = await pollUntil(httpPort, host, (s) => s === 502 || s === 503, t0, 1, 10_000);
    toDead.push(dead);
    await sleep(150);
    // The same change measured with rounds of 8 concurrent probes (both workers, no sequential client time).
    t0 = performance.now();
    api.apply(probeSlice(livePort, i));
    toLiveRound.push(await pollRounds(httpPort, host, (s) => s === 200, t0, 8, 10_000));
    await sleep(150);
    api.apply(probeSlice(deadPort, i));
    await pollUntil(httpPort, host, (s) => s === 502 || s === 503, performance.now(), 1, 10_000);
    await sleep(150);
  }
  const live = summary(toLive);
  const liveAll = summary(toLiveAll);
  const liveRound = summary(toLiveRound);
  const dead = summary(toDead);
  log(`endpoint change -> live (${live.n} changes; apply in the stand-in to the first 200 through the proxy): p50 ${ms(live.p50)} p99 ${ms(live.p99)} (min ${ms(live.min)})`);
  log(`  ... to 8 consecutive 200s on new connections (both workers; 8 sequential round trips): p50 ${ms(liveAll.p50)} p99 ${ms(liveAll.p99)}`);
  log(`  ... to a round of 8 concurrent new connections all 200 (both workers; round end): p50 ${ms(liveRound.p50)} p99 ${ms(liveRound.p99)}`);
  log(`  ... and back to the unreachable member (first 502): p50 ${ms(dead.p50)} p99 ${ms(dead.p99)}`);

  const steady = procStatus(controller.pid);
  const heap = await primaryHeap(adminPort);
  log(`RSS (one process: primary + ${opts.workers} worker threads, ${steady.threads} OS threads): after ready ${afterReady.rssMiB.toFixed(0)} MiB, after the changes ${steady.rssMiB.toFixed(0)} MiB, peak ${steady.peakRssMiB.toFixed(0)} MiB${heap === null ? "" : `; heap used: primary ${heap.primary.toFixed(0)} MiB (committed ${heap.primaryTotal.toFixed(0)}, new space ${heap.primaryNew.toFixed(0)}), workers ${heap.workers.map((w) => w.toFixed(0)).join(" / ")} MiB`}`);

  await procs.stop(controller.pid, 15_000); // SIGTERM: a clean exit writes the --cpu-prof profile

  // Primary and workers share one process, so /proc cannot split RSS between them. Estimate: the
  // same cluster with one worker; each worker adds (RSS(N) - RSS(1)) / (N - 1); the primary is
  // RSS(1) minus one worker.
  let one = null;
  let perWorker = null;
  let primaryRss = null;
  if (Number(opts.workers) >= 2) {
    const port1 = await freePort();
    const admin1 = await freePort();
    const single = await startController(kubeconfig, configMap, port1, admin1, 1, false);
    await untilReady(single, admin1);
    await pollUntil(port1, host, (s) => s === 502 || s === 503, performance.now(), 1, 10_000);
    await sleep(3_000);
    one = procStatus(single.pid);
    await procs.stop(single.pid, 15_000);
    perWorker = (steady.rssMiB - one.rssMiB) / (Number(opts.workers) - 1);
    primaryRss = one.rssMiB - perWorker;
    log(`RSS with 1 worker (same cluster, ready + 3 s): ${one.rssMiB.toFixed(0)} MiB -> each worker adds ~${perWorker.toFixed(0)} MiB; primary ~${primaryRss.toFixed(0)} MiB (estimate: RSS(1) - per-worker)`);
  }
  log(`controller NODE_OPTIONS (as the image): ${JSON.stringify(controllerEnv.NODE_OPTIONS ?? "")}`);

  const result = {
    size,
    workers: Number(opts.workers),
    builder,
    firstReadyMs,
    endpointChange: { toLive: live, toLiveAllWorkers: liveAll, toLiveAllWorkersRound: liveRound, toDead: dead },
    rss: { afterReadyMiB: afterReady.rssMiB, steadyMiB: steady.rssMiB, peakMiB: steady.peakRssMiB, threads: steady.threads, primaryHeapUsedMiB: heap?.primary ?? null, workerHeapUsedMiB: heap?.workers ?? null, oneWorkerMiB: one?.rssMiB ?? null, perWorkerMiB: perWorker, primaryEstimateMiB: primaryRss },
    nodeOptions: controllerEnv.NODE_OPTIONS ?? "",
    node: process.version,
  };
  if (opts.json !== undefined) writeFileSync(opts.json, `${JSON.stringify(result, null, 2)}\n`);
  const targets = [
    ["first ready < 10 s", firstReadyMs < 10_000],
    ["full rebuild < 500 ms (p99, one Ingress changed)", builder.rebuild.p99 < 500],
    ["endpoint change live in every worker < 100 ms p99 (8 sequential probes)", liveAll.p99 < 100],
    ["endpoint change live in every worker < 100 ms p99 (round of 8 concurrent probes)", liveRound.p99 < 100],
    ["primary RSS < 400 MB (estimate)", primaryRss !== null && primaryRss * 1.048576 < 400],
  ];
  log(`targets: ${targets.map(([name, ok]) => `${ok ? "met" : "MISSED"}: ${name}`).join("; ")}`);

  await api.close();
  upstream.close();
  await get(`http://127.0.0.1:${adminPort}/healthz`, 200); // gone: just makes sure nothing hangs
}

try {
  await main();
} catch (err) {
  failed = true;
  process.stderr.write(`bench:control: ${err instanceof Error ? err.stack : String(err)}\n`);
} finally {
  await procs.stopAll();
  if (failed || opts["keep-dir"]) process.stderr.write(`logs kept in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
  process.exit(failed ? 1 : 0);
}
