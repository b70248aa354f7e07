// Shared pieces of the single-scenario benchmarks (websocket, compression, grpc, ajp, tls): free
// loopback ports, the container image's NODE_OPTIONS, medians, the proxypass manifests of one
// Service behind one Ingress, and starting proxypass-ingress (1 worker) on them.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "./http-check.mjs";
import { sleep } from "./procs.mjs";

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** A free TCP port on 127.0.0.1 (the kernel's pick). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

/** NODE_OPTIONS of the container image (Dockerfile ENV), as the controller ships. */
export function imageNodeOptions() {
  const m = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(readFileSync(join(repo, "Dockerfile"), "utf8"));
  return m === null ? "" : m[1];
}

/** The median (lower middle) of numbers; NaN when empty. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)];
}

const meta = (name, extra = {}) => ({ name, namespace: "bench", creationTimestamp: "2024-01-01T00:00:00Z", ...extra });

/**
 * Manifests of one Service "origin" (port name `portName`, service port `servicePort`) whose one
 * endpoint is 127.0.0.2:`originPort`, behind one Ingress for any host with `annotations`.
 */
export function singleServiceManifests({ originPort, name = "bench", portName = "http", servicePort = 80, annotations = {} }) {
  return {
    "class.json": { apiVersion: "networking.k8s.io/v1", kind: "IngressClass", metadata: { name: "proxypass", annotations: { "ingressclass.kubernetes.io/is-default-class": "true" } }, spec: { controller: "proxypass.io/ingress-controller" } },
    "ingress.json": {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: meta(name, { annotations }),
      spec: { ingressClassName: "proxypass", rules: [{ http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "origin", port: { name: portName } } } }] } }] },
    },
    "service.json": { apiVersion: "v1", kind: "Service", metadata: meta("origin"), spec: { type: "ClusterIP", clusterIP: "10.96.0.10", ports: [{ name: portName, port: servicePort, targetPort: originPort, protocol: "TCP" }] } },
    "slice.json": {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: meta("origin-1", { labels: { "kubernetes.io/service-name": "origin" } }),
      addressType: "IPv4",
      endpoints: [{ addresses: ["127.0.0.2"], conditions: { ready: true }, targetRef: { kind: "Pod", name: "origin-0", namespace: "bench" } }],
      ports: [{ name: portName, port: originPort, protocol: "TCP" }],
    },
  };
}

/**
 * Writes `files` (name -> object) as manifests and starts proxypass-ingress on them (1 worker, no
 * access log, the image's NODE_OPTIONS), loopback only; resolves once /readyz answers.
 * `extraArgs` are appended (e.g. `--default-ssl-certificate`).
 * @returns {{ port: number, httpsPort: number, admin: number, pid: number, log: string, alive: () => boolean }}
 */
export async function startProxypass({ procs, dir, files, extraArgs = [] }) {
  const entry = join(repo, "dist/cmd/proxypass-ingress.js");
  if (!existsSync(entry)) throw new Error(`${entry} missing: npm run build first`);
  const mdir = join(dir, "manifests");
  mkdirSync(mdir, { recursive: true });
  for (const [name, obj] of Object.entries(files)) writeFileSync(join(mdir, name), JSON.stringify(obj));
  const port = await freePort();
  const httpsPort = await freePort();
  const admin = await freePort();
  const args = [
    entry,
    ...["--manifests", mdir, "--http-port", String(port), "--https-port", String(httpsPort), "--admin-port", String(admin), "--bind-address", "127.0.0.1"],
    ...["--workers", "1", "--access-log=false", "--log-level", "warn", "--shutdown-delay", "0", "--shutdown-grace", "1"],
    ...extraArgs,
  ];
  const p = procs.start("proxypass", process.execPath, args, { cwd: repo, env: { ...process.env, NODE_OPTIONS: imageNodeOptions() } });
  const alive = () => !p.entry.exited;
  const ready = await waitFor(`http://127.0.0.1:${admin}/readyz`, { timeoutMs: 60_000, alive });
  if (!ready.ok) throw new Error(`proxypass not ready: ${readFileSync(p.log, "utf8").slice(-2000)}`);
  return { port, httpsPort, admin, pid: p.pid, log: p.log, alive };
}

/** Waits (up to `timeoutMs`) until a started process's log contains `text` ("listening"); throws with the log otherwise. */
export async function waitForLog(p, text, what, timeoutMs = 5000) {
  for (let waited = 0; waited < timeoutMs && !readFileSync(p.log, "utf8").includes(text); waited += 50) await sleep(50);
  if (!readFileSync(p.log, "utf8").includes(text)) throw new Error(`${what} did not start: ${readFileSync(p.log, "utf8")}`);
}
