// Response compression through the proxy (issue 6): a ~100 KiB JSON compressed on the fly by
// proxypass-ingress (1 worker, `compression: "true"`: gzip, br, zstd by Accept-Encoding) side by side
// with nginx (1 worker, `gzip on`, gzip_comp_level 1 as ingress-nginx's default `gzip-level`) on the
// same payload; identity rows show what compressing costs. `npm run bench:compression`, also run by
// `npm run bench` (after the WebSocket bench).
//
// Origin: a node:http server in its own process on 127.0.0.2 answering the same JSON buffer with a
// Content-Length. Load: wrk (`--connections`, 2 threads) with `Accept-Encoding: <coding>`. Before
// measuring, each (peer, coding) is checked once: the response must carry that Content-Encoding and
// decode to the origin's bytes (a row that fails is reported, not measured). Rows are interleaved
// over `--rounds` rounds after a warm-up; medians over the rounds. The proxy's CPU per request
// (its process tree, /proc) is measured during each run. Everything on loopback; every process is
// killed on exit.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import zlib from "node:zlib";
import * as configs from "./lib/configs.mjs";
import { Processes, findTool } from "./lib/procs.mjs";
import { waitFor } from "./lib/http-check.mjs";
import { freePort, median, repo, singleServiceManifests, startProxypass as launchProxypass, waitForLog } from "./lib/side.mjs";
import { clockTicks, treeCpuTicks } from "./lib/stats.mjs";
import { runWrk } from "./lib/wrk.mjs";

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "20" },
    warmup: { type: "string", default: "2" },
    json: { type: "string" },
    quick: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (opts.help) {
  process.stdout.write(`usage: node test/bench/compression.mjs [--duration S (5)] [--rounds N (3)] [--connections N (20)] [--warmup S (2)] [--json FILE] [--quick]\n`);
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
const HOST = "bench.test";

const dir = mkdtempSync(join(tmpdir(), "ppi-bench-compress-"));
const procs = new Processes(dir);
const node = process.execPath;
const log = (line) => process.stdout.write(`${line}\n`);

/** The payload: ~100 KiB of API-list-like JSON (the same generator as compression-levels.mjs). */
function benchJson() {
  const items = [];
  for (let i = 0; items.length === 0 || JSON.stringify(items).length < 100 * 1024; i++) {
    items.push({ id: i, name: `user-${i}`, email: `user${i}@example.com`, active: i % 3 !== 0, score: ((i * 7919) % 1000) / 10, tags: ["a", "b", `t${i % 17}`], created: new Date(1700000000000 + i * 3600000).toISOString() });
  }
  return Buffer.from(JSON.stringify(items));
}
const body = benchJson();



const ORIGIN = `
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
const body = readFileSync(process.argv[2]);
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[1]), "127.0.0.2", () => process.stdout.write("listening\\n"));
`;

async function startOrigin() {
  const port = await freePort();
  const file = join(dir, "body.json");
  writeFileSync(file, body);
  const p = procs.start("origin", node, ["--input-type=module", "-e", ORIGIN, String(port), file], { cwd: repo });
  await waitForLog(p, "listening", "origin", 5000);
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
  # ingress-nginx's defaults: use-gzip, gzip-level 1, gzip-min-length 256; application/json is in its gzip-types.
  gzip on; gzip_comp_level 1; gzip_min_length 256; gzip_types application/json; gzip_proxied any; gzip_vary on;
  upstream pool { server 127.0.0.2:${originPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://pool;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`,
  );
  const p = procs.start("nginx", nginx, ["-c", conf, "-g", "daemon off;"]);
  const ready = await waitFor(`http://127.0.0.1:${port}/`, { timeoutMs: 10_000, alive: () => !p.entry.exited, headers: { host: HOST } });
  if (!ready.ok) throw new Error(`nginx not serving: ${readFileSync(p.log, "utf8").slice(-2000)}`);
  return { port, pid: p.pid };
}

async function startProxypass(originPort) {
  const pp = await launchProxypass({ procs, dir, files: singleServiceManifests({ originPort, name: "json", annotations: { "proxypass.io/compression": "true" } }) });
  return { port: pp.port, pid: pp.pid };
}

const decoders = { gzip: zlib.gunzipSync, br: zlib.brotliDecompressSync, zstd: zlib.zstdDecompressSync, identity: (b) => b };

/** One GET with `Accept-Encoding: coding`: "" when the answer has that coding and decodes to the payload, else why not; plus the encoded size. */
function check(port, coding) {
  return new Promise((resolveCheck) => {
    const req = request({ host: "127.0.0.1", port, path: "/", headers: { host: HOST, "accept-encoding": coding }, agent: false, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const raw = Buffer.concat(chunks);
        const got = res.headers["content-encoding"] ?? "identity";
        if (res.statusCode !== 200) return resolveCheck({ why: `status ${res.statusCode}`, bytes: raw.length });
        if (got !== coding) return resolveCheck({ why: `Content-Encoding ${got}, not ${coding}`, bytes: raw.length });
        let decoded;
        try {
          decoded = decoders[coding](raw);
        } catch (err) {
          return resolveCheck({ why: `does not decode: ${err.message}`, bytes: raw.length });
        }
        resolveCheck({ why: decoded.equals(body) ? "" : "decodes to other bytes", bytes: raw.length });
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolveCheck({ why: err.message, bytes: 0 }));
    req.end();
  });
}


async function measure(row, seconds) {
  const cpu0 = treeCpuTicks(row.pid);
  const r = await runWrk({ wrk: row.wrk, url: `http://127.0.0.1:${row.port}/`, connections, threads: 2, seconds, cpu: null, processes: procs, name: `${row.peer} ${row.coding}`, headers: [`Host: ${HOST}`, `Accept-Encoding: ${row.coding}`] });
  const ticks = treeCpuTicks(row.pid) - cpu0;
  return { rps: r.rps, bytesPerSec: r.bytesRead / r.seconds, cpuUsPerReq: r.requests > 0 ? ((ticks / clockTicks) * 1e6) / r.requests : NaN, errors: r.socketErrors + r.non2xx };
}

async function main() {
  const wrk = findTool("wrk");
  if (wrk === null) throw new Error("wrk not found (apt-get install wrk)");
  procs.startWatchdog();
  const originPort = await startOrigin();
  const peers = [];
  const nginx = await startNginx(originPort);
  if (nginx !== null) peers.push({ peer: "nginx-1w", ...nginx, codings: ["gzip", "identity"] });
  else log("nginx not found: no nginx rows (apt-get install nginx)");
  peers.push({ peer: "proxypass-1w", ...(await startProxypass(originPort)), codings: ["gzip", "br", "zstd", "identity"] });
  const rows = [];
  for (const p of peers) {
    for (const coding of p.codings) {
      const c = await check(p.port, coding);
      const row = { peer: p.peer, coding, port: p.port, pid: p.pid, wrk, encodedBytes: c.bytes, problem: c.why, runs: [] };
      if (c.why !== "") log(`${p.peer} ${coding}: not measured (${c.why})`);
      rows.push(row);
    }
  }
  const live = rows.filter((r) => r.problem === "");
  log(`Compression: ${body.length}-byte JSON, wrk -t2 -c${connections}, ${duration} s × ${rounds} rounds (interleaved), ${opts.warmup} s warm-up each; one worker per proxy`);
  for (const row of live) await measure(row, Number(opts.warmup));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < live.length; i++) {
      const row = live[(i + r) % live.length];
      row.runs.push(await measure(row, duration));
    }
  }
  const results = rows.map((row) => ({
    peer: row.peer,
    coding: row.coding,
    problem: row.problem || null,
    encodedBytes: row.encodedBytes,
    ratio: row.encodedBytes / body.length,
    rps: median(row.runs.map((x) => x.rps)),
    bytesPerSec: median(row.runs.map((x) => x.bytesPerSec)),
    cpuUsPerReq: median(row.runs.map((x) => x.cpuUsPerReq)),
    errors: row.runs.reduce((a, x) => a + x.errors, 0),
  }));
  const base = results.find((r) => r.peer === "nginx-1w" && r.coding === "gzip" && r.problem === null);
  log("| peer | coding | size (% of JSON) | req/s | response MiB/s | JSON MiB/s | proxy CPU µs/req | errors | × nginx gzip (req/s) | × nginx gzip (bytes/s) |");
  log("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
  for (const r of results) {
    if (r.problem !== null) {
      log(`| ${r.peer} | ${r.coding} | — | not measured: ${r.problem} | | | | | | |`);
      continue;
    }
    const x = (a, b) => (base === undefined ? "" : `${(a / b).toFixed(2)}`);
    log(
      `| ${r.peer} | ${r.coding} | ${(r.ratio * 100).toFixed(1)} % | ${Math.round(r.rps)} | ${(r.bytesPerSec / 1048576).toFixed(1)} | ${((r.rps * body.length) / 1048576).toFixed(1)} | ${Math.round(r.cpuUsPerReq)} | ${r.errors} | ${x(r.rps, base?.rps)} | ${x(r.bytesPerSec, base?.bytesPerSec)} |`,
    );
  }
  if (opts.json !== undefined) writeFileSync(opts.json, `${JSON.stringify({ bodyBytes: body.length, connections, duration, rounds, rows: results, node: process.version }, null, 2)}\n`);
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  process.stderr.write(`bench:compression: ${err instanceof Error ? err.stack : String(err)}\n`);
} finally {
  await procs.stopAll();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
