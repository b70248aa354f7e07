// gRPC unary calls per second through the proxy (issue 6): proxypass-ingress (1 worker, h2c prior
// knowledge on the plain port, `backend-protocol: GRPC`) side by side with nginx (1 worker,
// `grpc_pass` over a keepalive upstream) and with the origin reached directly (the floor: client
// and origin alone). `npm run bench:grpc`, also run at the end of `npm run bench`.
//
// Origin: a @grpc/grpc-js server (test/fixtures/grpc/echo.proto, Unary echo) in its own process on
// 127.0.0.2. Load: no well-kept gRPC load tool ships on npm (ghz is a Go binary), so a bounded
// closed-loop @grpc/grpc-js client in a child process of its own: `--channels` channels (each its
// own HTTP/2 connection), `--concurrency` calls in flight in all, each call followed by the next
// as soon as it completes, for `--duration` seconds; it reports calls completed, failed calls and
// the latency of every call. Peers are interleaved over `--rounds` rounds after a warm-up; medians
// over the rounds. The grpc-js client costs more CPU per call than either proxy: on a small
// machine the client is the ceiling, so read the ratios, not the absolute rates. Everything on
// loopback; every process is killed on exit.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { spawn } from "node:child_process";
import * as configs from "./lib/configs.mjs";
import { Processes, findTool, sleep } from "./lib/procs.mjs";
import { freePort, median, repo, singleServiceManifests, startProxypass as launchProxypass, waitForLog } from "./lib/side.mjs";

const PROTO = join(repo, "test/fixtures/grpc/echo.proto");
const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "50" },
    channels: { type: "string", default: "4" },
    size: { type: "string", default: "64" },
    warmup: { type: "string", default: "2" },
    json: { type: "string" },
    quick: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (opts.help) {
  process.stdout.write(`usage: node test/bench/grpc.mjs [--duration S (5)] [--rounds N (3)] [--concurrency N (50)] [--channels N (4)] [--size BYTES (64)] [--warmup S (2)] [--json FILE] [--quick]\n`);
  process.exit(0);
}
if (opts.quick) {
  opts.duration = "2";
  opts.rounds = "1";
  opts.warmup = "1";
}
const duration = Number(opts.duration);
const rounds = Number(opts.rounds);
const concurrency = Number(opts.concurrency);
const channels = Math.max(1, Math.min(Number(opts.channels), concurrency));
const size = Number(opts.size);

const dir = mkdtempSync(join(tmpdir(), "ppi-bench-grpc-"));
const procs = new Processes(dir);
const node = process.execPath;
const log = (line) => process.stdout.write(`${line}\n`);



const ORIGIN = `
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
const [proto, port] = process.argv.slice(1);
const def = grpc.loadPackageDefinition(protoLoader.loadSync(proto, { defaults: true }));
const server = new grpc.Server();
server.addService(def.echo.Echo.service, { Unary: (call, cb) => cb(null, call.request) });
server.bindAsync("127.0.0.2:" + port, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) { process.stderr.write(String(err) + "\\n"); process.exit(1); }
  process.stdout.write("listening\\n");
});
`;

// The load: closed loop, C calls in flight over K channels; prints one JSON line (latencies in µs).
const LOAD = `
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
const [proto, target, c, k, size, seconds] = process.argv.slice(1);
const def = grpc.loadPackageDefinition(protoLoader.loadSync(proto, { defaults: true }));
const clients = Array.from({ length: Number(k) }, () => new def.echo.Echo(target, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, "grpc.default_authority": "grpc.bench.test" }));
const msg = { text: "x".repeat(Number(size)), n: 1 };
const lat = [];
let calls = 0, errors = 0;
const end = performance.now() + Number(seconds) * 1000;
await Promise.all(Array.from({ length: Number(c) }, (_, i) => new Promise((done) => {
  const client = clients[i % clients.length];
  const next = () => {
    if (performance.now() >= end) return done();
    const t0 = performance.now();
    client.Unary(msg, { deadline: Date.now() + 30000 }, (err) => {
      if (err) errors++; else { calls++; lat.push(Math.round((performance.now() - t0) * 1000)); }
      next();
    });
  };
  next();
})));
for (const cl of clients) cl.close();
lat.sort((a, b) => a - b);
const q = (p) => lat.length === 0 ? null : lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
process.stdout.write(JSON.stringify({ calls, errors, p50: q(0.5), p99: q(0.99) }) + "\\n");
process.exit(0);
`;

function runLoad(target, seconds) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(node, ["--input-type=module", "-e", LOAD, PROTO, target, String(concurrency), String(channels), String(size), String(seconds)], { cwd: repo, stdio: ["ignore", "pipe", "inherit"] });
    procs.track(child);
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 60) * 1000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      try {
        resolveRun({ ...JSON.parse(out.trim().split("\n").pop()), seconds });
      } catch {
        reject(new Error(`load generator exited ${code} without a result`));
      }
    });
  });
}

async function startOrigin() {
  const port = await freePort();
  // Evaluated from the repo's directory, so @grpc/grpc-js resolves from its node_modules.
  const p = procs.start("origin", node, ["--input-type=module", "-e", ORIGIN, PROTO, String(port)], { cwd: repo });
  await waitForLog(p, "listening", "gRPC origin", 10000);
  return port;
}

async function startNginx(originPort) {
  const nginx = findTool("nginx");
  if (nginx === null) return null;
  const port = await freePort();
  const t = join(dir, "nginx-tmp");
  mkdirSync(t, { recursive: true });
  const conf = join(dir, "nginx.conf");
  // nginx 1.22 syntax (listen ... http2); keepalive_requests raised so nginx's default of 1000
  // streams per client connection does not make the client reconnect during a round.
  writeFileSync(
    conf,
    `worker_processes 1;
${configs.nginxCommon(dir, "nginx")}
http {
  ${configs.nginxHttpCommon(dir, "nginx")}
  upstream pool { server 127.0.0.2:${originPort}; keepalive 32; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${port} http2;
    keepalive_requests 1000000;
    location / {
      grpc_pass grpc://pool;
      grpc_read_timeout 3600s;
    }
  }
}
`,
  );
  procs.start("nginx", nginx, ["-c", conf, "-g", "daemon off;"]);
  await sleep(300);
  return port;
}

async function startProxypass(originPort) {
  const files = singleServiceManifests({ originPort, name: "grpc", portName: "grpc", servicePort: 50051, annotations: { "proxypass.io/backend-protocol": "GRPC" } });
  return (await launchProxypass({ procs, dir, files })).port;
}


async function main() {
  procs.startWatchdog();
  const originPort = await startOrigin();
  const peers = [["direct", `127.0.0.2:${originPort}`]];
  const nginxPort = await startNginx(originPort);
  if (nginxPort !== null) peers.push(["nginx-1w", `127.0.0.1:${nginxPort}`]);
  else log("nginx not found: no nginx row (apt-get install nginx)");
  peers.push(["proxypass-1w", `127.0.0.1:${await startProxypass(originPort)}`]);
  log(`gRPC unary: ${concurrency} calls in flight over ${channels} channels, ${size}-byte messages, closed loop, ${duration} s × ${rounds} rounds (interleaved), ${opts.warmup} s warm-up each`);
  for (const [id, target] of peers) {
    const w = await runLoad(target, Number(opts.warmup));
    if (w.calls === 0) throw new Error(`${id}: no call succeeded during the warm-up (${w.errors} failed)`);
  }
  const results = new Map(peers.map(([id]) => [id, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < peers.length; i++) {
      const [id, target] = peers[(i + r) % peers.length];
      results.get(id).push(await runLoad(target, duration));
    }
  }
  const rows = peers.map(([id]) => {
    const runs = results.get(id);
    return { id, rate: median(runs.map((x) => x.calls / x.seconds)), p50: median(runs.map((x) => x.p50)), p99: median(runs.map((x) => x.p99)), errors: runs.reduce((a, x) => a + x.errors, 0) };
  });
  const base = rows.find((r) => r.id === "nginx-1w");
  log("| peer | calls/s | p50 ms | p99 ms | failed | × nginx-1w (rate) | × nginx-1w (p99) |");
  log("|---|--:|--:|--:|--:|--:|--:|");
  for (const r of rows) {
    const ratio = base === undefined ? "" : (r.rate / base.rate).toFixed(2);
    const p99r = base === undefined ? "" : (r.p99 / base.p99).toFixed(2);
    log(`| ${r.id} | ${Math.round(r.rate)} | ${(r.p50 / 1000).toFixed(2)} | ${(r.p99 / 1000).toFixed(2)} | ${r.errors} | ${ratio} | ${p99r} |`);
  }
  if (opts.json !== undefined) writeFileSync(opts.json, `${JSON.stringify({ concurrency, channels, size, duration, rounds, rows, node: process.version }, null, 2)}\n`);
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  process.stderr.write(`bench:grpc: ${err instanceof Error ? err.stack : String(err)}\n`);
} finally {
  await procs.stopAll();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
