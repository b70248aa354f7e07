// The builder alone on the bench cluster (`node test/bench/control-build.mjs` after `npm run build`):
// the same objects through the file-source parser into a ClusterView, then buildSnapshot with the
// previous result's memory, as the reconciler runs it. Three kinds of rebuild, `--runs` each:
//   unchanged  the same view again (every object the same instance),
//   ingress    one Ingress replaced by a new object (a new annotation), as a watch event does,
//   slice      one EndpointSlice replaced by a new object (one endpoint not ready),
// each checked against a build of the same view with empty memory (same versions). Options:
// sizes as control.mjs, --runs N (20), --no-check (skip the cold comparison builds).
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { generateCluster } from "./control-cluster.mjs";

const { values: opts } = parseArgs({
  options: {
    ingresses: { type: "string", default: "10000" },
    services: { type: "string", default: "5000" },
    endpoints: { type: "string", default: "50000" },
    runs: { type: "string", default: "20" },
    "no-check": { type: "boolean", default: false },
  },
});
const dist = (p) => new URL(`../../dist/${p}`, import.meta.url).href;
const { toClusterView } = await import(dist("src/files/index.js"));
const { buildSnapshot } = await import(dist("src/build/index.js"));
const { defaultBuildSettings, emptyBuildMemory } = await import(dist("src/model/index.js"));

const size = { ingresses: Number(opts.ingresses), services: Number(opts.services), endpoints: Number(opts.endpoints) };
const runs = Number(opts.runs);
const { objects, configMap } = generateCluster(size, 9);
let t = performance.now();
let { view } = toClusterView(objects.map((value, index) => ({ file: "bench", index, value })));
console.log(`view parse ${(performance.now() - t).toFixed(0)} ms`);
const settings = { ...defaultBuildSettings, configMap };

const pct = (list, q) => [...list].sort((a, b) => a - b)[Math.min(list.length - 1, Math.ceil(q * list.length) - 1)];
const line = (name, list) => `${name}: p50 ${pct(list, 0.5).toFixed(0)} ms, p99 ${pct(list, 0.99).toFixed(0)} ms (n ${list.length})`;

t = performance.now();
let result = buildSnapshot(view, emptyBuildMemory, settings);
console.log(`first build (empty memory) ${(performance.now() - t).toFixed(0)} ms: ${result.snapshot.routes.virtualHosts.length} hosts, ${result.snapshot.endpoints.balancers.length} balancers`);
let memory = result.memory;
const check = (label) => {
  if (opts["no-check"]) return;
  const cold = buildSnapshot(view, emptyBuildMemory, settings);
  if (cold.snapshot.version !== result.snapshot.version || JSON.stringify(cold.diagnostics) !== JSON.stringify(result.diagnostics)) {
    throw new Error(`${label}: incremental build differs from a build with empty memory`);
  }
};

function rebuild(times) {
  const t0 = performance.now();
  result = buildSnapshot(view, memory, settings);
  times.push(performance.now() - t0);
  memory = result.memory;
}

const warm = [];
for (let i = 0; i < 3; i++) rebuild(warm);
const unchanged = [];
for (let i = 0; i < runs; i++) rebuild(unchanged);
check("unchanged");

const ingress = [];
for (let i = 0; i < runs; i++) {
  const at = (i * 997) % view.ingresses.length;
  const old = view.ingresses[at];
  const next = { ...old, metadata: { ...old.metadata, annotations: { ...old.metadata.annotations, "proxypass.io/timeout": String(10 + i) } } };
  view = { ...view, ingresses: view.ingresses.map((x, j) => (j === at ? next : x)) };
  rebuild(ingress);
  if (i === 0 || i === runs - 1) check(`ingress ${i}`);
}

const slice = [];
for (let i = 0; i < runs; i++) {
  const at = (i * 499) % view.endpointSlices.length;
  const old = view.endpointSlices[at];
  const endpoints = old.endpoints.map((e, j) => (j === i % old.endpoints.length ? { ...e, conditions: { ...e.conditions, ready: !(e.conditions.ready ?? true) } } : e));
  view = { ...view, endpointSlices: view.endpointSlices.map((x, j) => (j === at ? { ...old, endpoints } : x)) };
  rebuild(slice);
  if (i === 0 || i === runs - 1) check(`slice ${i}`);
}

console.log(line("rebuild, unchanged view", unchanged));
console.log(line("rebuild after one Ingress changed", ingress));
console.log(line("rebuild after one EndpointSlice changed", slice));
const mem = process.memoryUsage();
console.log(`heap used ${(mem.heapUsed / 1048576).toFixed(0)} MiB, rss ${(mem.rss / 1048576).toFixed(0)} MiB`);
