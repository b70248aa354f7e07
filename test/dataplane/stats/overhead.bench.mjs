// Micro-benchmark of what the request statistics add per request (npm run build first):
// route counters, three histogram observations, four clock reads, the worker totals and a request
// id, as forward.ts does them. Also the request id alone. `node test/dataplane/stats/overhead.bench.mjs`.
import { RouteStatsRegistry, WorkerStats, RequestIds, methodIndex, STAT_ACCESSES, STAT_BUSY, STAT_BYTES_IN, STAT_BYTES_OUT, STAT_DURATION_MS } from "../../../dist/src/dataplane/index.js";
const reg = new RouteStatsRegistry();
const s = reg.forRoute("shop/web", "shop/web:80");
const cells = new WorkerStats().cells;
const ids = new RequestIds("0");
const methods = ["GET", "GET", "POST", "GET"];
let sink = 0;
function perRequest(i) {
  // handle(): busy++, request id, 4 performance.now() (dispatch, connected, headers, end)
  cells[STAT_BUSY] += 1;
  const id = ids.next();
  const t0 = performance.now();
  const t1 = performance.now();
  s.connect.observe((t1 - t0) / 1000);
  const t2 = performance.now();
  s.header.observe((t2 - t0) / 1000);
  const end = performance.now();
  // account()
  s.record(methodIndex(methods[i & 3]), 200, (end - t0) / 1000 + 0.0004, 0, 100);
  cells[STAT_ACCESSES] += 1; cells[STAT_BYTES_IN] += 0; cells[STAT_BYTES_OUT] += 100; cells[STAT_DURATION_MS] += end - t0; cells[STAT_BUSY] -= 1;
  sink += id.length;
}
function idOnly() { sink += ids.next().length; }
function bench(name, fn, n = 3_000_000) {
  for (let i = 0; i < 200_000; i++) fn(i);
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / n);
  }
  process.stdout.write(`${name}: ${best.toFixed(1)} ns/request (best of 5 x ${n})\n`);
}
bench("stats path added per request (counters, 3 histograms, 4 clock reads, request id)", perRequest);
bench("request id alone", idOnly);
if (sink === 0) process.stdout.write("unexpected\n");
