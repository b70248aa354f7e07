// Kubernetes source alone against the bench cluster (`node --expose-gc test/bench/control-source.mjs`
// after `npm run build`): time of KubeSource.start() (every initial list, zod parse at the border),
// time per list request as the stand-in saw it, and the heap before/after with a forced GC. Options:
// --page N (list page size), --runs N (starts, each with a fresh source), --changes N (probe
// EndpointSlice flips timed from the stand-in's apply to the source's onChange and to current()
// showing it), sizes as control.mjs.
import "./control-ts-loader.mjs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { generateCluster, probeSlice } from "./control-cluster.mjs";

const { values: opts } = parseArgs({
  options: {
    ingresses: { type: "string", default: "10000" },
    services: { type: "string", default: "5000" },
    endpoints: { type: "string", default: "50000" },
    page: { type: "string", default: "500" },
    runs: { type: "string", default: "1" },
    changes: { type: "string", default: "20" },
  },
});
const dist = (p) => new URL(`../../dist/${p}`, import.meta.url).href;
const { KubeSource, loadKubeConfig, defaultWatchTuning } = await import(dist("src/kube/index.js"));
const { pino } = await import("pino");
const { startKubeApi } = await import("../support/kube-api.ts");

const gc = globalThis.gc ?? (() => undefined);
const heapMiB = () => {
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};
const size = { ingresses: Number(opts.ingresses), services: Number(opts.services), endpoints: Number(opts.endpoints) };
const { objects, configMap } = generateCluster(size, 9);
const api = await startKubeApi({ objects, bookmarkIntervalMs: 5000 });
const dir = mkdtempSync(join(tmpdir(), "ppi-bench-source-"));
const { kubeConfig } = loadKubeConfig({ kubeconfigFlag: await api.writeKubeconfig(dir), env: {} });
const base = heapMiB();
for (let run = 0; run < Number(opts.runs); run++) {
  api.clearRequests();
  const source = new KubeSource({ kubeConfig, logger: pino({ level: "warn" }), configMap, watchTuning: { ...defaultWatchTuning, listPageSize: Number(opts.page) } });
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed / 1024 / 1024);
  }, 2);
  const t0 = performance.now();
  await source.start();
  const startMs = performance.now() - t0;
  clearInterval(sampler);
  const lists = api.requests.filter((r) => r.verb === "list").length;
  const t1 = performance.now();
  const view = source.current().view;
  const viewMs = performance.now() - t1;
  const toChange = [];
  const toView = [];
  let changed = null;
  source.onChange(() => changed?.());
  await new Promise((r) => setTimeout(r, 500)); // watches open
  for (let i = 1; i <= Number(opts.changes); i++) {
    const seen = new Promise((resolve) => (changed = resolve));
    const t = performance.now();
    api.apply(probeSlice(10_000 + i, i));
    await seen;
    toChange.push(performance.now() - t);
    source.current();
    toView.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 50));
  }
  const p = (list, q) => [...list].sort((a, b) => a - b)[Math.min(list.length - 1, Math.ceil(q * list.length) - 1)]?.toFixed(1);
  console.log(`  probe slice change (${toChange.length}): apply -> onChange p50 ${p(toChange, 0.5)} p99 ${p(toChange, 0.99)} ms; -> current() p50 ${p(toView, 0.5)} p99 ${p(toView, 0.99)} ms`);
  console.log(`run ${run + 1}: start ${startMs.toFixed(0)} ms (${lists} list requests, page ${opts.page}), current() ${viewMs.toFixed(0)} ms; ${view.ingresses.length} Ingresses, ${view.endpointSlices.length} slices; heap ${(heapMiB() - base).toFixed(0)} MiB above the stand-in, peak while listing ${(peak - base).toFixed(0)} MiB (sampled between pages)`);
  await source.close();
}
await api.close();
rmSync(dir, { recursive: true, force: true });
