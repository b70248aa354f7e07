// Floor 3: undici alone, as an HTTP client against the origin pool: 50 concurrent keep-alive
// request loops with `dispatch` and an empty handler, for a fixed time. Prints req/s and the CPU
// µs per request of this process: what the upstream half of any Node proxy costs at the least.
//   node test/bench/floor-undici.mjs --members 127.0.0.2:9000,127.0.0.3:9000 [--seconds 5] [--concurrency 50]
import { parseArgs } from "node:util";
import { Pool } from "undici";

const { values } = parseArgs({ options: { members: { type: "string" }, seconds: { type: "string", default: "5" }, concurrency: { type: "string", default: "50" } } });
if (!values.members) {
  console.error("usage: floor-undici.mjs --members HOST:PORT[,HOST:PORT...] [--seconds 5] [--concurrency 50]");
  process.exit(2);
}
const pools = values.members.split(",").map((m) => new Pool(`http://${m}`, { keepAliveTimeout: 60_000 }));
const seconds = Number(values.seconds);
let done = 0;
let next = 0;
let errors = 0;
const end = performance.now() + seconds * 1000;

class Handler {
  onRequestStart() {}
  onResponseStart() {}
  onResponseData() {}
  onResponseEnd() {
    done++;
    if (performance.now() < end) send();
  }
  onResponseError() {
    errors++;
    if (performance.now() < end) send();
  }
}

function send() {
  const pool = pools[next];
  next = (next + 1) % pools.length;
  pool.dispatch({ method: "GET", path: "/", headers: ["host", "origin"] }, new Handler());
}

const cpu0 = process.cpuUsage();
for (let i = 0; i < Number(values.concurrency); i++) send();
setTimeout(() => {
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ reqPerSec: Math.round(done / seconds), cpuMicrosPerReq: Number(((cpu.user + cpu.system) / done).toFixed(1)), errors }));
  process.exit(0);
}, seconds * 1000 + 200);
