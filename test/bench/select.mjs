// Balancer selection cost: ns per pick + release, for each lbmethod at 3, 100 and 1,000 members,
// plus a sticky pick (route lookup) and a canary split. In-process, one thread, on the real
// scoreboard (SharedArrayBuffer + Atomics) and the real selector from dist/. Part of `npm run bench`;
// alone: `npm run build && node test/bench/select.mjs [--ms 1000] [--json]`.
import { parseArgs } from "node:util";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const dp = await import(pathToFileURL(resolve(repo, "dist/src/dataplane/index.js")).href);
const { values } = parseArgs({ options: { ms: { type: "string", default: "1000" }, json: { type: "boolean", default: false } } });
const runMs = Number(values.ms);

const ID = "bench/svc:80";
const failover = { maxAttempts: null, retryMs: 60_000, failOnStatus: [], failOnTimeout: false };

function balancerFor(lbmethod, n, sticky) {
  const board = dp.Scoreboard.create({ members: 4096, balancers: 8 });
  const registry = new dp.BalancerRegistry(board);
  const alloc = new dp.SlotAllocator(board);
  const config = { id: ID, service: "bench/svc", hostHeader: "svc", protocol: "http", settingsFrom: "", lbmethod, sticky, failover, healthCheck: null, standby: null };
  const options = { timeouts: { connectMs: 5000, readMs: 60000 }, preserveHost: true, upstreamVhost: null, requestHeaders: [], responseHeaders: [] };
  const table = { version: "r", virtualHosts: [{ host: "", routes: [{ path: "/", pathType: "Prefix", ingress: "bench/ing", balancer: ID, options, canary: null }], fallback: null }], defaultRoute: null, balancers: [config] };
  dp.compileRoutes(table, registry);
  const members = [];
  for (let i = 0; i < n; i++) {
    const port = 10000 + i;
    members.push({ key: `10.0.0.1:${port}`, address: "10.0.0.1", port, route: `pod-${String(i).padStart(4, "0")}`, zone: null, ready: true, standby: false, lbset: 0 });
  }
  const endpoints = { version: "e", balancers: [{ balancer: ID, members }] };
  registry.applyEndpoints(endpoints, alloc.assign(endpoints));
  return registry.get(ID);
}

/** Runs `fn` in batches until `ms` passed; returns ns per call (after a warm-up of the same length / 4). */
function measure(fn) {
  const batch = 1000;
  const run = (ms) => {
    let calls = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(ms) * 1_000_000n;
    let now = start;
    while (now < end) {
      for (let i = 0; i < batch; i++) fn();
      calls += batch;
      now = process.hrtime.bigint();
    }
    return Number(now - start) / calls;
  };
  run(Math.max(50, runMs / 4));
  return run(runMs);
}

const sizes = [3, 100, 1000];
const rows = [];
for (const lbmethod of ["byrequests", "bytraffic", "bybusyness", "random2"]) {
  for (const n of sizes) {
    const b = balancerFor(lbmethod, n, null);
    const ns = measure(() => b.pick(null, 0).release());
    rows.push({ case: lbmethod, members: n, ns });
  }
}
for (const n of sizes) {
  const b = balancerFor("byrequests", n, { cookie: "ROUTEID", param: null, noFailover: false });
  const route = `pod-${String(Math.floor(n / 2)).padStart(4, "0")}`;
  const ns = measure(() => b.pick(route, 0).release());
  rows.push({ case: "sticky hit", members: n, ns });
}
{
  const b = balancerFor("byrequests", 3, null);
  rows.push({ case: "canary split (weight 20)", members: 2, ns: measure(() => b.splitToCanary(20)) });
}

if (values.json) {
  console.log(JSON.stringify({ node: process.version, runMs, rows }, null, 2));
} else {
  console.log(`balancer selection cost (ns per pick + release; ${process.version}, ${runMs} ms per case, one thread)`);
  console.log("| case | members | ns/op |");
  console.log("|---|---:|---:|");
  for (const r of rows) console.log(`| ${r.case} | ${r.members} | ${r.ns.toFixed(0)} |`);
}
