// Path mapping end to end, as a user runs it: the compiled controller, manifest files with the
// rewrite annotations, a real HTTP + WebSocket backend on loopback. rewrite-target, X-Forwarded-Prefix,
// ProxyPassReverse on redirects and cookies (path mapping, and host-only mapping by upstream-vhost),
// app-root, WebSocket upgrades on a mapped path, and an ingress-nginx capture group refused.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import zlib from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { startController, type RunningController } from "../support/controller.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { waitFor } from "../support/wait.js";
import { send } from "../dataplane/helpers.js";

let ctl: RunningController;
let dir: string;
let backend: Server;
let wss: WebSocketServer;

function seen(req: IncomingMessage): string {
  return JSON.stringify({ url: req.url, host: req.headers.host, prefix: req.headers["x-forwarded-prefix"] ?? null });
}

beforeAll(async () => {
  wss = new WebSocketServer({ noServer: true });
  backend = createServer((req, res) => {
    req.resume();
    const host = req.headers.host ?? "";
    if (req.url === "/login-redirect") {
      res.writeHead(302, {
        location: `http://${host}/login?next=%2Fme`,
        "content-location": "/doc",
        refresh: "0; url=/next",
        "set-cookie": [`sid=1; Path=/; HttpOnly`, `pref=2; Domain=${host.replace(/:\d+$/, "")}; Path=/settings`],
      });
      res.end();
      return;
    }
    if (req.url === "/big") {
      // 64 MiB of random letters (1 MiB block repeated: farther apart than any compressor window).
      const letters = randomBytes(1 << 20).map((b) => 97 + (b % 26));
      const total = 64 << 20;
      let written = 0;
      res.writeHead(200, { "content-type": "text/plain" });
      const pump = (): void => {
        while (written < total) {
          written += letters.length;
          if (!res.write(letters)) {
            res.once("drain", pump);
            return;
          }
        }
        res.end();
      };
      pump();
      return;
    }
    if (req.url === "/json") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ id: i, name: `n${i}` }))));
      return;
    }
    if (req.url === "/elsewhere") {
      res.writeHead(302, { location: "https://login.example.org/x" });
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(seen(req));
  });
  backend.on("upgrade", (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => ws.send(seen(req)));
  });
  await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
  const port = (backend.address() as AddressInfo).port;
  dir = await mkdtemp(join(tmpdir(), "ppi-mapping-"));
  await writeFile(
    join(dir, "cluster.yaml"),
    [
      serviceYaml("m", "users", 80),
      endpointSlicesYaml("m", "users", [{ ip: "127.0.0.1", port, pod: "users-0" }]),
      ingressYaml("m", "users", [{ host: "map.test", path: "/api/users", service: "users", port: 80 }], {
        "proxypass.io/rewrite-target": "/",
        "proxypass.io/app-root": "/api/users/home",
      }),
      ingressYaml("m", "vhost", [{ host: "vhost.test", path: "/", service: "users", port: 80 }], { "proxypass.io/upstream-vhost": "internal.local:8080" }),
      ingressYaml("m", "zip", [{ host: "zip.test", path: "/", service: "users", port: 80 }]),
      ingressYaml("m", "nozip", [{ host: "nozip.test", path: "/", service: "users", port: 80 }], { "proxypass.io/compression": "false" }),
      "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: global, namespace: m }\ndata:\n  compression: \"true\"\n  compression-min-size: \"512\"\n",
      ingressYaml("m", "bad", [{ host: "bad.test", path: "/old", service: "users", port: 80 }], { "proxypass.io/rewrite-target": "/$2" }),
    ].join("---\n"),
  );
  // Small young generation (as the image's NODE_OPTIONS does): Buffers the stream passed through are
  // collected soon, so RSS shows what is held, not garbage.
  ctl = await startController(["--manifests", dir, "--configmap", "m/global", "--workers", "1", "--shutdown-delay", "0", "--shutdown-grace", "1"], { ...process.env, NODE_OPTIONS: "--max-semi-space-size=2" });
  await waitFor(async () => ((await send(ctl.httpPort, { path: "/api/users/x", headers: { host: "map.test" } }).catch(() => null))?.status === 200 ? true : undefined), {
    timeoutMs: 20_000,
    what: "controller serving map.test",
  });
}, 40_000);

afterAll(async () => {
  if (ctl !== undefined && ctl.child.exitCode === null) {
    ctl.child.kill("SIGTERM");
    await ctl.exited;
  }
  for (const c of wss?.clients ?? []) c.terminate();
  backend?.closeAllConnections();
  await new Promise<void>((resolve) => (backend === undefined ? resolve() : backend.close(() => resolve())));
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("path mapping through the controller binary", () => {
  it("rewrite-target / strips the Prefix, keeps query and encoded bytes, sends X-Forwarded-Prefix (a client's is dropped)", async () => {
    const reply = await send(ctl.httpPort, { path: "/api/users/a%2Fb/42?q=%2F&x=%C3%A9", headers: { host: "map.test", "x-forwarded-prefix": "/evil" } });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body.toString())).toEqual({ url: "/a%2Fb/42?q=%2F&x=%C3%A9", host: "map.test", prefix: "/api/users" });
  });

  it("the prefix itself maps to the target", async () => {
    const reply = await send(ctl.httpPort, { path: "/api/users?x=1", headers: { host: "map.test" } });
    expect(JSON.parse(reply.body.toString())).toMatchObject({ url: "/?x=1" });
  });

  it("ProxyPassReverse maps Location, Content-Location, Refresh and cookie paths back to the public prefix", async () => {
    const reply = await send(ctl.httpPort, { path: "/api/users/login-redirect", headers: { host: "map.test" } });
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe("http://map.test/api/users/login?next=%2Fme");
    expect(reply.headers["content-location"]).toBe("/api/users/doc");
    expect(reply.headers.refresh).toBe("0; url=/api/users/next");
    expect(reply.headers["set-cookie"]).toEqual(["sid=1; Path=/api/users; HttpOnly", "pref=2; Domain=map.test; Path=/api/users/settings"]);
  });

  it("an unrelated Location is left alone", async () => {
    const reply = await send(ctl.httpPort, { path: "/api/users/elsewhere", headers: { host: "map.test" } });
    expect(reply.headers.location).toBe("https://login.example.org/x");
  });

  it("app-root redirects exactly / with 302 to the scheme and Host of the request", async () => {
    const root = await send(ctl.httpPort, { path: "/?utm=1", headers: { host: "map.test" } });
    expect(root.status).toBe(302);
    expect(root.headers.location).toBe("http://map.test/api/users/home");
    const other = await send(ctl.httpPort, { path: "/other", headers: { host: "map.test" } });
    expect(other.status).toBe(404);
  });

  it("upstream-vhost turns ProxyPassReverse on for the host: Location and cookie Domain of the upstream Host become the client's", async () => {
    const reply = await send(ctl.httpPort, { path: "/login-redirect", headers: { host: "vhost.test:8000" } });
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe("http://vhost.test:8000/login?next=%2Fme");
    expect(reply.headers["set-cookie"]).toEqual(["sid=1; Path=/; HttpOnly", "pref=2; Domain=vhost.test; Path=/settings"]);
  });

  it("a WebSocket upgrade on a mapped path reaches the member at the target path with X-Forwarded-Prefix", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${ctl.httpPort}/api/users/socket?room=1`, { headers: { host: "map.test" } });
    const first = await new Promise<string>((resolve, reject) => {
      ws.once("message", (d) => resolve(String(d)));
      ws.once("error", reject);
    });
    ws.terminate();
    expect(JSON.parse(first)).toEqual({ url: "/socket?room=1", host: "map.test", prefix: "/api/users" });
  });

  it("an ingress-nginx capture group in rewrite-target is refused with how to write it: that Ingress is not served", async () => {
    const reply = await send(ctl.httpPort, { path: "/old/x", headers: { host: "bad.test" } });
    expect(reply.status).toBe(404);
    expect(ctl.output()).toMatch(/rewrite-target: invalid value \\"\/\$2\\": capture groups like \$1\/\$2 are ingress-nginx regex syntax/);
  });
});

function vmRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

describe("compression through the controller binary (ConfigMap default)", () => {
  it("the ConfigMap's compression: true compresses a JSON response; an Ingress's \"false\" wins", async () => {
    const zipped = await send(ctl.httpPort, { path: "/json", headers: { host: "zip.test", "accept-encoding": "br" } });
    expect(zipped.headers["content-encoding"]).toBe("br");
    expect(JSON.parse(zlib.brotliDecompressSync(zipped.body).toString())).toHaveLength(500);
    const plain = await send(ctl.httpPort, { path: "/json", headers: { host: "nozip.test", "accept-encoding": "br" } });
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(JSON.parse(plain.body.toString())).toHaveLength(500);
  });

  it("a 64 MiB streamed response compressed for a slow client: every byte arrives and the controller's RSS stays bounded", async () => {
    const pid = ctl.child.pid as number;
    const before = vmRss(pid);
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, vmRss(pid))), 50);
    try {
      const got = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: "127.0.0.1", port: ctl.httpPort, path: "/big", headers: { host: "zip.test", "accept-encoding": "gzip" }, agent: false }, (res) => {
          expect(res.headers["content-encoding"]).toBe("gzip");
          const gunzip = zlib.createGunzip();
          let n = 0;
          let reads = 0;
          gunzip.on("data", (d: Buffer) => {
            n += d.length;
            if (++reads % 16 === 0 && n < 32 << 20) {
              res.pause();
              setTimeout(() => res.resume(), 5);
            }
          });
          gunzip.on("end", () => resolve(n));
          gunzip.on("error", reject);
          res.pipe(gunzip);
        });
        req.on("error", reject);
        req.end();
      });
      expect(got).toBe(64 << 20);
    } finally {
      clearInterval(timer);
    }
    // Without backpressure the proxy would hold most of the 64 MiB; with it, its buffers and garbage.
    expect(peak - before).toBeLessThan(40 << 20);
  }, 120_000);
});
