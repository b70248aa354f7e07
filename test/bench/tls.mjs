// TLS termination (issues 5 and 9): proxypass-ingress (1 worker) side by side with nginx (1 worker)
// terminating the same ECDSA P-256 certificate in front of the same 3-member pool. `npm run
// bench:tls`, also run at the end of `npm run bench`.
//
// Rows, each a median over `--rounds` interleaved rounds after a warm-up:
//   - keep-alive HTTP/1.1 over TLS: wrk, `--connections` connections, 100-byte responses;
//   - HTTP/2 over TLS (ALPN h2): h2load, `--h2-clients` connections × `--h2-streams` concurrent streams;
//   - new handshakes per second: wrk with `Connection: close`, so every request is a new TCP
//     connection and a full TLS handshake (wrk never offers a session);
//   - resumed handshakes per second: `openssl s_time -reuse` (session resumption; TLS 1.2 with
//     session tickets so every connection after the first resumes — s_time reads no TLS 1.3
//     post-handshake ticket), `--stime` processes side by side; and the same with `-new` (full
//     TLS 1.2 handshakes) for comparison.
// The origin is nginx on 127.0.0.2-4 (as `npm run bench`); everything on loopback; every process
// is killed on exit. Tools: nginx, wrk, h2load (Debian nghttp2-client), openssl.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as configs from "./lib/configs.mjs";
import { waitFor } from "./lib/http-check.mjs";
import { Processes, findTool, sleep } from "./lib/procs.mjs";
import { runWrk } from "./lib/wrk.mjs";
import { freePort, median, startProxypass as launchProxypass } from "./lib/side.mjs";

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "50" },
    "h2-clients": { type: "string", default: "10" },
    "h2-streams": { type: "string", default: "10" },
    stime: { type: "string", default: "2" },
    warmup: { type: "string", default: "2" },
    json: { type: "string" },
    quick: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (opts.help) {
  process.stdout.write(
    "usage: node test/bench/tls.mjs [--duration S (5)] [--rounds N (3)] [--connections N (50)] [--h2-clients N (10)] [--h2-streams N (10)] [--stime N (2)] [--warmup S (2)] [--json FILE] [--quick]\n",
  );
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

const dir = mkdtempSync(join(tmpdir(), "ppi-bench-tls-"));
const procs = new Processes(dir);
const log = (line) => process.stdout.write(`${line}\n`);
const host = "tls.bench.test";



function need(name, pkg) {
  const path = findTool(name);
  if (path === null) throw new Error(`${name} not found: apt-get install ${pkg}`);
  return path;
}

/** One ECDSA P-256 certificate for both peers. */
function makeCertificate() {
  const cert = join(dir, "tls.crt");
  const key = join(dir, "tls.key");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${host}`, "-addext", `subjectAltName=DNS:${host}`, "-days", "2", "-keyout", key, "-out", cert], { stdio: "ignore" });
  return { cert, key };
}

async function startOrigin() {
  const port = await freePort();
  writeFileSync(join(dir, "1m.bin"), Buffer.alloc(1024, 0x61));
  mkdirSync(join(dir, "origin-tmp"), { recursive: true });
  writeFileSync(join(dir, "origin.conf"), configs.originNginx({ dir, port, workers: 1 }));
  const origin = procs.start("origin", need("nginx", "nginx"), ["-p", dir, "-c", join(dir, "origin.conf"), "-e", join(dir, "origin-error.log"), "-g", "daemon off;"]);
  for (const m of configs.members) {
    const ok = await waitFor(`http://${m}:${port}/`, { timeoutMs: 10_000, alive: () => !origin.entry.exited });
    if (!ok.ok) throw new Error(`origin nginx did not start: ${readFileSync(origin.log, "utf8").slice(-1000)}`);
  }
  return port;
}

async function startNginx(originPort, pem) {
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
  upstream pool {
    ${configs.members.map((m) => `server ${m}:${originPort};`).join("\n    ")}
    keepalive 256;
  }
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${pem.cert};
    ssl_certificate_key ${pem.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets on;
    location / {
      proxy_pass http://pool;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`,
  );
  const p = procs.start("nginx", need("nginx", "nginx"), ["-p", dir, "-c", conf, "-e", join(dir, "nginx-error.log"), "-g", "daemon off;"]);
  for (let i = 0; i < 50 && !p.entry.exited; i++) {
    if ((await run("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-brief"], 5)).includes("Protocol version")) return port;
    await sleep(100);
  }
  throw new Error(`nginx (TLS) did not start: ${readFileSync(p.log, "utf8").slice(-1000)}`);
}

async function startProxypass(originPort, pem) {
  const files = configs.manifests({ originPort });
  // The same certificate, as the default (SNI-less wrk, h2load and s_time get it like nginx's).
  files["secret.json"] = {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/tls",
    metadata: { name: "tls", namespace: "bench" },
    data: { "tls.crt": readFileSync(pem.cert).toString("base64"), "tls.key": readFileSync(pem.key).toString("base64") },
  };
  return (await launchProxypass({ procs, dir, files, extraArgs: ["--default-ssl-certificate", "bench/tls"] })).httpsPort;
}

/** Runs a command to completion (killed after `seconds` + 20), returns its stdout+stderr. */
function run(cmd, args, seconds) {
  return new Promise((resolveRun) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    procs.track(child);
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (out += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // gone
      }
    }, (seconds + 20) * 1000);
    child.on("close", () => {
      clearTimeout(timer);
      resolveRun(out);
    });
  });
}

async function h2load(port, seconds) {
  const out = await run(need("h2load", "nghttp2-client"), ["-D", String(seconds), "-c", opts["h2-clients"], "-m", opts["h2-streams"], "-t", "1", `https://127.0.0.1:${port}/`], seconds);
  const m = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const s = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const proto = /Application protocol: (\S+)/.exec(out);
  if (m === null || s === null) throw new Error(`h2load failed:\n${out.slice(0, 2000)}`);
  if (proto?.[1] !== "h2") throw new Error(`h2load did not negotiate h2:\n${out.slice(0, 1000)}`);
  return { rate: Number(m[1]), errors: Number(s[2]) + Number(s[3]) };
}

/** `openssl s_time` processes side by side; connections per second summed. */
async function stime(port, mode, seconds) {
  const n = Number(opts.stime);
  const outs = await Promise.all(
    Array.from({ length: n }, () => run("openssl", ["s_time", "-connect", `127.0.0.1:${port}`, mode, "-tls1_2", "-time", String(seconds), "-www", "/"], seconds)),
  );
  let rate = 0;
  for (const out of outs) {
    // "N connections in Ts; R connections/user sec, bytes read B" then "N connections in T real seconds, ..."
    const real = /(\d+) connections in (\d+) real seconds/.exec(out);
    if (real === null) throw new Error(`openssl s_time failed:\n${out.slice(0, 1500)}`);
    rate += Number(real[1]) / Math.max(1, Number(real[2]));
  }
  return { rate, errors: 0 };
}

async function wrk(port, seconds, close) {
  const r = await runWrk({
    wrk: need("wrk", "wrk"),
    url: `https://127.0.0.1:${port}/`,
    connections: close ? 10 : connections,
    threads: 1,
    seconds,
    cpu: null,
    processes: procs,
    name: "tls",
    headers: close ? ["Connection: close"] : [],
  });
  return { rate: r.rps, errors: r.socketErrors + r.non2xx, p99: r.p99Ms };
}

const scenarios = [
  { id: "keep-alive HTTP/1.1 req/s", run: (port, s) => wrk(port, s, false) },
  { id: `h2 req/s (${opts["h2-clients"]}×${opts["h2-streams"]} streams)`, run: (port, s) => h2load(port, s) },
  { id: "new handshakes/s (wrk, Connection: close)", run: (port, s) => wrk(port, s, true) },
  { id: `full TLS 1.2 handshakes/s (s_time -new ×${opts.stime})`, run: (port, s) => stime(port, "-new", s) },
  { id: `resumed TLS 1.2 handshakes/s (s_time -reuse ×${opts.stime})`, run: (port, s) => stime(port, "-reuse", s) },
];


async function main() {
  procs.startWatchdog();
  const pem = makeCertificate();
  const originPort = await startOrigin();
  const peers = [
    ["nginx-1w", await startNginx(originPort, pem)],
    ["proxypass-1w", await startProxypass(originPort, pem)],
  ];
  log(`TLS termination, ECDSA P-256, 100-byte responses from a 3-member pool; ${duration} s × ${rounds} rounds (interleaved), ${opts.warmup} s warm-up`);
  const rows = [];
  for (const sc of scenarios) {
    for (const [, port] of peers) await sc.run(port, Number(opts.warmup));
    const results = new Map(peers.map(([id]) => [id, []]));
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < peers.length; i++) {
        const [id, port] = peers[(i + r) % peers.length];
        results.get(id).push(await sc.run(port, duration));
      }
    }
    const row = { scenario: sc.id };
    for (const [id] of peers) {
      const runs = results.get(id);
      row[id] = { rate: median(runs.map((x) => x.rate)), errors: runs.reduce((a, x) => a + x.errors, 0) };
    }
    rows.push(row);
  }
  log("| scenario | nginx-1w | proxypass-1w | × nginx-1w | errors (nginx / proxypass) |");
  log("|---|--:|--:|--:|--:|");
  for (const r of rows) {
    const n = r["nginx-1w"];
    const p = r["proxypass-1w"];
    log(`| ${r.scenario} | ${Math.round(n.rate)} | ${Math.round(p.rate)} | ${(p.rate / n.rate).toFixed(2)} | ${n.errors} / ${p.errors} |`);
  }
  if (opts.json !== undefined) writeFileSync(opts.json, `${JSON.stringify({ duration, rounds, connections, rows, node: process.version }, null, 2)}\n`);
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  process.stderr.write(`bench:tls: ${err instanceof Error ? err.stack : String(err)}\n`);
} finally {
  await procs.stopAll();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
