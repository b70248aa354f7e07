// WebSocket through the proxy (issue 6): echo messages per second and echo latency, proxypass-ingress
// (1 worker) side by side with nginx (1 worker, the usual Upgrade/Connection recipe) and with the
// origin reached directly (the floor: client and origin alone). `npm run bench:ws`, also run at the
// end of `npm run bench`.
//
// Origin: a `ws` echo server in its own process on 127.0.0.2. Load: `--connections` WebSocket
// clients in a child process of their own, each in a ping-pong loop (send one `--size`-byte text
// message, wait for its echo, send the next) for `--duration` seconds; it reports messages echoed
// and the latency of every round trip. Peers are interleaved over `--rounds` rounds after a
// warm-up; medians over the rounds. Everything on loopback; every process is killed on exit.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { spawn } from "node:child_process";
import * as configs from "./lib/configs.mjs";
import { Processes, findTool, sleep } from "./lib/procs.mjs";
import { freePort, median, repo, singleServiceManifests, startProxypass as launchProxypass, waitForLog } from "./lib/side.mjs";

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "50" },
    size: { type: "string", default: "64" },
    warmup: { type: "string", default: "2" },
    json: { type: "string" },
    quick: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (opts.help) {
  process.stdout.write(`usage: node test/bench/websocket.mjs [--duration S (5)] [--rounds N (3)] [--connections N (50)] [--size BYTES (64)] [--warmup S (2)] [--json FILE] [--quick]\n`);
  process.exit(0);
}
if (opts.quick) {
  opts.duration = "2";
  opts.rounds = "1";
  opts.warmup = "1";
}
const duration = Number(opts.duration);
const rounds = Number(opts.rounds);
const connections = Number(opts.connections);
const size = Number(opts.size);

const dir = mkdtempSync(join(tmpdir(), "ppi-bench-ws-"));
const procs = new Processes(dir);
const node = process.execPath;
const log = (line) => process.stdout.write(`${line}\n`);



const ORIGIN = `
import { WebSocketServer } from "ws";
const wss = new WebSocketServer({ host: "127.0.0.2", port: Number(process.argv[1]), perMessageDeflate: false });
wss.on("connection", (ws) => ws.on("message", (data, binary) => ws.send(data, { binary })));
wss.on("listening", () => process.stdout.write("listening\\n"));
`;

// The load: N clients in ping-pong loops; prints one JSON line with messages and latencies (µs).
const LOAD = `
import { WebSocket } from "ws";
const [url, host, n, size, seconds] = process.argv.slice(1);
const payload = "x".repeat(Number(size));
const lat = [];
let messages = 0, errors = 0, stop = false;
const end = performance.now() + Number(seconds) * 1000;
await Promise.all(Array.from({ length: Number(n) }, () => new Promise((done) => {
  const ws = new WebSocket(url, { headers: { host }, perMessageDeflate: false });
  let t0 = 0;
  const send = () => { t0 = performance.now(); ws.send(payload); };
  ws.on("open", send);
  ws.on("message", () => {
    lat.push(Math.round((performance.now() - t0) * 1000));
    messages++;
    if (performance.now() < end) send(); else ws.close();
  });
  ws.on("error", () => { errors++; done(); });
  ws.on("close", () => done());
})));
lat.sort((a, b) => a - b);
const q = (p) => lat.length === 0 ? null : lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
process.stdout.write(JSON.stringify({ messages, errors, p50: q(0.5), p99: q(0.99) }) + "\\n");
`;

function runLoad(url, host, seconds) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(node, ["--input-type=module", "-e", LOAD, url, host, String(connections), String(size), String(seconds)], { cwd: repo, stdio: ["ignore", "pipe", "inherit"] });
    procs.track(child);
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 30) * 1000);
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
  // Evaluated from the repo's directory, so `ws` resolves from its node_modules.
  const p = procs.start("origin", node, ["--input-type=module", "-e", ORIGIN, String(port)], { cwd: repo });
  await waitForLog(p, "listening", "ws origin", 5000);
  return port;
}

async function startNginx(originPort) {
  const nginx = findTool("nginx");
  if (nginx === null) return null;
  const port = await freePort();
  const t = join(dir, "nginx-tmp");
  mkdirSync(t, { recursive: true });
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `worker_processes 1;
${configs.nginxCommon(dir, "nginx")}
http {
  ${configs.nginxHttpCommon(dir, "nginx")}
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  upstream pool { server 127.0.0.2:${originPort}; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://pool;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 3600s;
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
  return (await launchProxypass({ procs, dir, files: singleServiceManifests({ originPort, name: "ws" }) })).port;
}


async function main() {
  procs.startWatchdog();
  const originPort = await startOrigin();
  const peers = [["direct", originPort, "127.0.0.2"]];
  const nginxPort = await startNginx(originPort);
  if (nginxPort !== null) peers.push(["nginx-1w", nginxPort, "127.0.0.1"]);
  else log("nginx not found: no nginx row (apt-get install nginx)");
  peers.push(["proxypass-1w", await startProxypass(originPort), "127.0.0.1"]);
  log(`WebSocket echo: ${connections} connections, ${size}-byte text messages, ping-pong, ${duration} s × ${rounds} rounds (interleaved), ${opts.warmup} s warm-up each`);
  for (const [, port, addr] of peers) await runLoad(`ws://${addr}:${port}/`, "ws.bench.test", Number(opts.warmup));
  const results = new Map(peers.map(([id]) => [id, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < peers.length; i++) {
      const [id, port, addr] = peers[(i + r) % peers.length];
      results.get(id).push(await runLoad(`ws://${addr}:${port}/`, "ws.bench.test", duration));
    }
  }
  const rows = peers.map(([id]) => {
    const runs = results.get(id);
    return { id, rate: median(runs.map((x) => x.messages / x.seconds)), p50: median(runs.map((x) => x.p50)), p99: median(runs.map((x) => x.p99)), errors: runs.reduce((a, x) => a + x.errors, 0) };
  });
  const base = rows.find((r) => r.id === "nginx-1w");
  log("| peer | echoes/s | p50 ms | p99 ms | errors | × nginx-1w (rate) | × nginx-1w (p99) |");
  log("|---|--:|--:|--:|--:|--:|--:|");
  for (const r of rows) {
    const ratio = base === undefined ? "" : (r.rate / base.rate).toFixed(2);
    const p99r = base === undefined ? "" : (r.p99 / base.p99).toFixed(2);
    log(`| ${r.id} | ${Math.round(r.rate)} | ${(r.p50 / 1000).toFixed(2)} | ${(r.p99 / 1000).toFixed(2)} | ${r.errors} | ${ratio} | ${p99r} |`);
  }
  if (opts.json !== undefined) writeFileSync(opts.json, `${JSON.stringify({ connections, size, duration, rounds, rows, node: process.version }, null, 2)}\n`);
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  process.stderr.write(`bench:ws: ${err instanceof Error ? err.stack : String(err)}\n`);
} finally {
  await procs.stopAll();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
