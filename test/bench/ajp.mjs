// AJP through the proxy (issue 11): requests/s through proxypass-ingress → AJP → Tomcat versus
// Apache httpd mod_proxy_ajp → the same Tomcat, side by side, printed as a ratio; with reference
// rows proxypass-ingress → the same Tomcat's HTTP/1.1 connector and wrk straight to that connector
// (Tomcat alone: the ceiling of every row). `npm run bench:ajp`; `npm run bench` runs it too (before
// run.mjs's peer table, with --optional: no Tomcat or wrk -> a line saying so, not a failure).
//
// One Tomcat 10 (Debian's tomcat10, the tests' CATALINA_BASE recipe from test/support/tomcat.ts,
// with the JIT and heap of a server: `--jvm`) with an AJP connector (secretRequired, the same secret
// for both proxies) and an HTTP connector, both on 127.0.0.1; the request is a small static file
// (`--path`, default /hello.txt, Tomcat's DefaultServlet). Peers: proxypass-ingress (--workers 1,
// access log off; an Ingress with backend-protocol AJP and ajp-secret, another for the HTTP
// connector), httpd (mpm_event, one child, `ProxyPass / ajp://… secret=…` from a standalone config
// loading mod_proxy and mod_proxy_ajp from /usr/lib/apache2/modules, a2enmod-free). wrk keep-alive,
// peers interleaved over `--rounds` rounds after a warm-up of each; medians over the rounds.
// Everything on loopback; every process (the JVM too) is killed on exit.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Processes, findTool, sleep } from "./lib/procs.mjs";
import { waitFor } from "./lib/http-check.mjs";
import { freePort, median, startProxypass as launchProxypass } from "./lib/side.mjs";
import { runWrk } from "./lib/wrk.mjs";

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "32" },
    threads: { type: "string", default: "2" },
    warmup: { type: "string", default: "5" },
    path: { type: "string", default: "/hello.txt" },
    jvm: { type: "string", default: "-Xms256m -Xmx256m -XX:+UseParallelGC" },
    json: { type: "string" },
    quick: { type: "boolean", default: false },
    optional: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (opts.help) {
  process.stdout.write(
    "usage: node test/bench/ajp.mjs [--duration S (10)] [--rounds N (3)] [--connections N (32)] [--threads N (2)] [--warmup S (5)] [--path /hello.txt] [--jvm 'JVM flags'] [--json FILE] [--quick] [--optional (exit 0 without Tomcat or wrk, as `npm run bench` runs it)]\n",
  );
  process.exit(0);
}
if (opts.quick) {
  opts.duration = "3";
  opts.rounds = "1";
  opts.warmup = "3";
}
const duration = Number(opts.duration);
const rounds = Number(opts.rounds);
const connections = Number(opts.connections);
const threads = Number(opts.threads);
const SECRET = "bench-ajp-secret";
const HOST_AJP = "ajp.bench.test";
const HOST_HTTP = "http.bench.test";

const dir = mkdtempSync(join(tmpdir(), "ppi-bench-ajp-"));
chmodSync(dir, 0o755); // httpd drops to nobody when started as root
const procs = new Processes(dir);
const log = (line) => process.stdout.write(`${line}\n`);

class NotAvailable extends Error {}
let tomcatInstance = null;



async function startTomcat() {
  // The tests' Tomcat support (TypeScript, run by Node's type stripping).
  const { startTomcat: start, tomcatMissing } = await import("../support/tomcat.ts");
  const missing = tomcatMissing();
  if (missing !== null) throw new NotAvailable(missing);
  const tomcat = await start({ jvmRoute: "tomcat-0", secret: SECRET, httpConnector: true, jvmArgs: opts.jvm.split(/\s+/).filter(Boolean), detached: true });
  procs.track(tomcat.process);
  tomcatInstance = tomcat;
  return tomcat;
}

async function startApache(ajpPort) {
  const apache2 = findTool("apache2");
  if (apache2 === null) throw new NotAvailable("apache2 not installed (apt-get install -y apache2)");
  const modules = "/usr/lib/apache2/modules";
  for (const m of ["mpm_event", "authz_core", "proxy", "proxy_ajp"]) {
    if (!existsSync(join(modules, `mod_${m}.so`))) throw new NotAvailable(`apache module mod_${m}.so missing in ${modules}`);
  }
  const root = join(dir, "apache");
  mkdirSync(join(root, "run"), { recursive: true });
  const port = await freePort();
  const slots = Math.max(64, connections + 16);
  const mod = (name) => `LoadModule ${name}_module ${join(modules, `mod_${name}.so`)}`;
  const conf = join(root, "httpd.conf");
  writeFileSync(
    conf,
    `ServerRoot "${root}"
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile "${join(root, "httpd.pid")}"
ErrorLog "${join(root, "error.log")}"
LogLevel warn
DefaultRuntimeDir "${join(root, "run")}"
Mutex file:${join(root, "run")} default
${process.getuid?.() === 0 ? "User nobody\nGroup nogroup" : ""}
${mod("mpm_event")}
${mod("authz_core")}
${mod("proxy")}
${mod("proxy_ajp")}

# One child process with a thread per connection slot (as the apache-event peer of run.mjs).
StartServers 1
ServerLimit 1
ThreadLimit ${slots}
ThreadsPerChild ${slots}
MinSpareThreads 1
MaxSpareThreads ${slots}
MaxRequestWorkers ${slots}
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 120

ProxyPreserveHost On
ProxyPass "/" "ajp://127.0.0.1:${ajpPort}/" secret=${SECRET}
`,
  );
  const p = procs.start("apache-ajp", apache2, ["-d", root, "-f", conf, "-DFOREGROUND"], { env: { PATH: process.env.PATH, LANG: "C" } });
  const ready = await waitFor(`http://127.0.0.1:${port}${opts.path}`, { timeoutMs: 30_000, alive: () => !p.entry.exited, headers: { host: HOST_AJP } });
  if (!ready.ok) throw new Error(`httpd mod_proxy_ajp not serving ${opts.path}: ${JSON.stringify(ready.last)}\n${readFileSync(p.log, "utf8").slice(-2000)}`);
  return port;
}

async function startProxypass(tomcat) {
  const meta = (name, extra = {}) => ({ name, namespace: "bench", creationTimestamp: "2024-01-01T00:00:00Z", ...extra });
  const ingress = (name, host, service, annotations) => ({
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: meta(name, { annotations }),
    spec: { ingressClassName: "proxypass", rules: [{ host, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: service, port: { name: "p" } } } }] } }] },
  });
  const service = (name, port) => ({ apiVersion: "v1", kind: "Service", metadata: meta(name), spec: { type: "ClusterIP", ports: [{ name: "p", port, protocol: "TCP" }] } });
  const slice = (name, port) => ({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: meta(`${name}-1`, { labels: { "kubernetes.io/service-name": name } }),
    addressType: "IPv4",
    endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true }, targetRef: { kind: "Pod", name: "tomcat-0", namespace: "bench" } }],
    ports: [{ name: "p", port, protocol: "TCP" }],
  });
  const files = {
    "class.json": { apiVersion: "networking.k8s.io/v1", kind: "IngressClass", metadata: { name: "proxypass" }, spec: { controller: "proxypass.io/ingress-controller" } },
    "secret.json": { apiVersion: "v1", kind: "Secret", metadata: meta("tomcat-ajp"), type: "Opaque", data: { secret: Buffer.from(SECRET).toString("base64") } },
    "ingress-ajp.json": ingress("ajp", HOST_AJP, "tomcat-ajp", { "proxypass.io/backend-protocol": "AJP", "proxypass.io/ajp-secret": "tomcat-ajp" }),
    "ingress-http.json": ingress("http", HOST_HTTP, "tomcat-http", {}),
    "service-ajp.json": service("tomcat-ajp", 8009),
    "service-http.json": service("tomcat-http", 8080),
    "slice-ajp.json": slice("tomcat-ajp", tomcat.port),
    "slice-http.json": slice("tomcat-http", tomcat.httpPort),
  };
  const { port, alive } = await launchProxypass({ procs, dir, files });
  for (const host of [HOST_AJP, HOST_HTTP]) {
    const served = await waitFor(`http://127.0.0.1:${port}${opts.path}`, { timeoutMs: 30_000, alive, headers: { host } });
    if (!served.ok) throw new Error(`proxypass does not serve ${host}${opts.path}: ${JSON.stringify(served.last)}`);
  }
  return port;
}


async function main() {
  procs.startWatchdog();
  const wrk = findTool("wrk");
  if (wrk === null) throw new NotAvailable("wrk not installed (apt-get install -y wrk)");
  const tomcat = await startTomcat();
  const direct = await waitFor(`http://127.0.0.1:${tomcat.httpPort}${opts.path}`, { timeoutMs: 30_000 });
  if (!direct.ok) throw new Error(`Tomcat's HTTP connector does not serve ${opts.path}: ${JSON.stringify(direct.last)}`);
  const peers = [];
  try {
    peers.push({ id: "apache-ajp", port: await startApache(tomcat.port), host: HOST_AJP });
  } catch (err) {
    if (!(err instanceof NotAvailable)) throw err;
    log(`no apache-ajp row: ${err.message}`);
  }
  const pp = await startProxypass(tomcat);
  peers.push({ id: "proxypass-ajp", port: pp, host: HOST_AJP });
  peers.push({ id: "proxypass-http", port: pp, host: HOST_HTTP });
  peers.push({ id: "tomcat-http-direct", port: tomcat.httpPort, host: HOST_HTTP });
  log(`AJP: GET ${opts.path}, wrk -t${threads} -c${connections} keep-alive, ${duration} s × ${rounds} rounds (interleaved), ${opts.warmup} s warm-up each; one Tomcat (${opts.jvm}); proxypass --workers 1, httpd mpm_event 1 child`);
  const run = (peer, seconds) => runWrk({ wrk, url: `http://127.0.0.1:${peer.port}${opts.path}`, connections, threads, seconds, cpu: null, processes: procs, name: peer.id, headers: [`Host: ${peer.host}`] });
  for (const peer of peers) await run(peer, Number(opts.warmup));
  const results = new Map(peers.map((p) => [p.id, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < peers.length; i++) {
      const peer = peers[(i + r) % peers.length];
      results.get(peer.id).push(await run(peer, duration));
    }
  }
  const rows = peers.map(({ id }) => {
    const runs = results.get(id);
    return { id, rps: median(runs.map((x) => x.rps)), p50Ms: median(runs.map((x) => x.p50Ms)), p99Ms: median(runs.map((x) => x.p99Ms)), errors: runs.reduce((a, x) => a + x.socketErrors + x.non2xx, 0), runs: runs.map((x) => x.rps) };
  });
  const base = rows.find((r) => r.id === "apache-ajp");
  log("| peer | req/s | p50 ms | p99 ms | errors | × apache-ajp |");
  log("|---|--:|--:|--:|--:|--:|");
  for (const r of rows) log(`| ${r.id} | ${Math.round(r.rps)} | ${r.p50Ms?.toFixed(2)} | ${r.p99Ms?.toFixed(2)} | ${r.errors} | ${base === undefined ? "" : (r.rps / base.rps).toFixed(2)} |`);
  const ours = rows.find((r) => r.id === "proxypass-ajp");
  if (base !== undefined && ours !== undefined) log(`proxypass-ajp / apache-ajp = ${(ours.rps / base.rps).toFixed(2)}× requests/s`);
  if (opts.json !== undefined) writeFileSync(opts.json, `${JSON.stringify({ path: opts.path, connections, threads, duration, rounds, jvm: opts.jvm, rows, node: process.version }, null, 2)}\n`);
}

let failed = false;
try {
  await main();
} catch (err) {
  if (err instanceof NotAvailable && opts.optional) log(`bench:ajp: not run: ${err.message}`);
  else {
    failed = true;
    process.stderr.write(`bench:ajp: ${err instanceof Error ? err.stack : String(err)}\n`);
  }
} finally {
  await procs.stopAll();
  await tomcatInstance?.stop(); // removes its CATALINA_BASE
  await sleep(100);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
