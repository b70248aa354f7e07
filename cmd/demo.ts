#!/usr/bin/env node
// `npm start`: starts the demo backends on loopback and the controller with deploy/examples,
// then prints what to try. Ctrl-C stops everything.
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");

interface Backend {
  readonly service: string;
  readonly pod: string;
  readonly host: string;
  readonly port: number;
}

const backends: ReadonlyArray<Backend> = [
  { service: "web", pod: "web-0", host: "127.0.0.2", port: 9001 },
  { service: "web", pod: "web-1", host: "127.0.0.3", port: 9001 },
  { service: "web", pod: "web-2", host: "127.0.0.4", port: 9001 },
  { service: "api", pod: "api-0", host: "127.0.0.5", port: 9002 },
];

function startBackend(b: Backend): Promise<Server> {
  const server = createServer((req, res) => {
    const body = `${JSON.stringify({ service: b.service, pod: b.pod, method: req.method, url: req.url, host: req.headers.host, "x-forwarded-for": req.headers["x-forwarded-for"] })}\n`;
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(b.port, b.host, () => resolve(server));
  });
}

async function run(): Promise<void> {
  const servers = await Promise.all(backends.map(startBackend));
  const args = [join(root, "dist", "cmd", "proxypass-ingress.js"), "--manifests", join(root, "deploy", "examples"), "--bind-address", "127.0.0.1", ...process.argv.slice(2)];
  // Own process group: a terminal Ctrl-C reaches only the demo, which forwards it once.
  const controller = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"], detached: true });
  process.on("exit", () => {
    if (controller.exitCode === null) controller.kill("SIGKILL");
  });

  const http = "http://127.0.0.1:8080";
  process.stdout.write(`
proxypass-ingress demo
  proxy:  ${http}          (Ingress demo/demo from deploy/examples/demo.yaml)
  admin:  http://127.0.0.1:10254/readyz

Try:
  curl -s ${http}/                                   # round robin over web-0, web-1, web-2
  for i in 1 2 3 4 5 6; do curl -s ${http}/; done
  curl -s ${http}/api/users                          # the api Service
  curl -s -H 'Host: api.demo.localhost' ${http}/     # host rule
  curl -si ${http}/ | grep -i x-served-by            # response-headers annotation
  curl -s http://127.0.0.1:10254/readyz
  curl -s http://127.0.0.1:10254/metrics | grep '^proxypass_config'

Edit deploy/examples/demo.yaml (e.g. remove an endpoint) and the change is live within a second.
Ctrl-C stops everything.

`);

  let exiting = false;
  const shutdown = (): void => {
    if (exiting) return;
    exiting = true;
    controller.kill("SIGINT");
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  const code = await new Promise<number>((resolve) => controller.on("exit", (c) => resolve(c ?? 0)));
  await Promise.all(servers.map((s) => new Promise((r) => { s.close(r); s.closeAllConnections(); })));
  process.exit(exiting ? 0 : code);
}

run().catch((err: unknown) => {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
