// Compression throughput through the proxy vs nginx `gzip on` (see README.md, "Compression
// through the proxy"): one origin answering a ~100 KiB JSON (Content-Length, no encoding); nginx
// (1 worker, gzip level 1, as ingress-nginx's default) and proxypass-ingress (--workers 1,
// compression "true") in front of it; wrk with Accept-Encoding gzip (both) and br / zstd
// (proxypass only; nginx has no brotli module in Debian's package by default).
//
//   npm run build && node_modules/.bin/node test/bench/compression.mjs [--duration 10] [--connections 20]
//
// Prints req/s, response MiB/s (compressed, as wrk reads them) and input MiB/s (the JSON
// compressed per second) per peer and coding, and the ratio to nginx gzip.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as netServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(args[i + 1]);
};
const duration = opt("duration", 10);
const connections = opt("connections", 20);
const root = fileURLToPath(new URL("../..", import.meta.url));

const items = [];
for (let i = 0; JSON.stringify(items).length < 100 * 1024; i++) items.push({ id: i, name: `user-${i}`, email: `user${i}@example.com`, active: i % 3 !== 0, score: ((i * 7919) % 1000) / 10, tags: ["a", "b", `t${i % 17}`] });
const body = Buffer.from(JSON.stringify(items));

function freePort() {
  return new Promise((resolve) => {
    const s = netServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHttp(port, host) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      globalThis.fetch(`http://127.0.0.1:${port}/`, { headers: { host } })
        .then((r) => r.arrayBuffer().then(() => resolve(r.status === 200)))
        .catch(() => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} not serving`);
}

function wrk(port, host, encoding) {
  const r = spawnSync("wrk", ["-t", "2", "-c", String(connections), "-d", `${duration}s`, "-H", `Host: ${host}`, "-H", `Accept-Encoding: ${encoding}`, `http://127.0.0.1:${port}/`], { encoding: "utf8", timeout: (duration + 30) * 1000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? 0);
  const transfer = /Transfer\/sec:\s+([\d.]+)(KB|MB|GB|B)/.exec(r.stdout);
  const mult = { B: 1 / 1048576, KB: 1 / 1024, MB: 1, GB: 1024 }[transfer?.[2] ?? "MB"];
  return { rps, outMiBs: Number(transfer?.[1] ?? 0) * mult, inMiBs: (rps * body.length) / 1048576 };
}

const dir = mkdtempSync(join(tmpdir(), "ppi-bench-compress-"));
const children = [];
const origin = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) });
  res.end(body);
});
try {
  await new Promise((resolve) => origin.listen(0, "127.0.0.1", resolve));
  const originPort = origin.address().port;
  const nginxPort = await freePort();
  writeFileSync(
    join(dir, "nginx.conf"),
    `worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log; daemon off;
events { worker_connections 1024; }
http { access_log off; upstream o { server 127.0.0.1:${originPort}; keepalive 32; }
  gzip on; gzip_comp_level 1; gzip_types application/json; gzip_proxied any; gzip_min_length 1024; gzip_vary on;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen 127.0.0.1:${nginxPort}; location / { proxy_pass http://o; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`,
  );
  children.push(spawn("nginx", ["-c", join(dir, "nginx.conf"), "-p", dir], { stdio: "ignore" }));
  writeFileSync(
    join(dir, "cluster.yaml"),
    `apiVersion: v1
kind: Service
metadata: { name: origin, namespace: bench }
spec: { ports: [{ name: http, port: 80 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: origin-1, namespace: bench, labels: { kubernetes.io/service-name: origin } }
addressType: IPv4
ports: [{ name: http, port: ${originPort} }]
endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: origin, namespace: bench, annotations: { proxypass.io/compression: "true" } }
spec:
  ingressClassName: proxypass
  rules: [{ host: bench.test, http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: origin, port: { number: 80 } } } }] } }]
`,
  );
  const ppPort = await freePort();
  const adminPort = await freePort();
  children.push(
    spawn(process.execPath, [join(root, "dist/cmd/proxypass-ingress.js"), "--manifests", dir, "--workers", "1", "--access-log", "false", "--bind-address", "127.0.0.1", "--http-port", String(ppPort), "--https-port", String(await freePort()), "--admin-port", String(adminPort)], { stdio: "ignore" }),
  );
  await waitHttp(nginxPort, "bench.test");
  await waitHttp(ppPort, "bench.test");
  console.log(`body ${body.length} bytes; wrk -t2 -c${connections} -d${duration}s; one worker each`);
  const rows = [
    ["nginx", "gzip", wrk(nginxPort, "bench.test", "gzip")],
    ["proxypass", "gzip", wrk(ppPort, "bench.test", "gzip")],
    ["proxypass", "br", wrk(ppPort, "bench.test", "br")],
    ["proxypass", "zstd", wrk(ppPort, "bench.test", "zstd")],
    ["nginx", "identity", wrk(nginxPort, "bench.test", "identity")],
    ["proxypass", "identity", wrk(ppPort, "bench.test", "identity")],
  ];
  const base = rows[0][2].rps || 1;
  console.log("peer       coding    req/s   out MiB/s  JSON MiB/s  vs nginx gzip");
  for (const [peer, coding, r] of rows) {
    console.log(`${peer.padEnd(10)} ${coding.padEnd(8)} ${r.rps.toFixed(0).padStart(6)}  ${r.outMiBs.toFixed(1).padStart(9)}  ${r.inMiBs.toFixed(1).padStart(10)}  ${(r.rps / base).toFixed(2)}x`);
  }
} finally {
  for (const c of children) c.kill("SIGTERM");
  origin.close();
  setTimeout(() => rmSync(dir, { recursive: true, force: true }), 500);
}
