// Feature tests of authentication (auth-* annotations): manifest files → file source → reconcile
// loop → one in-process data plane → HTTP (and WebSocket upgrade) requests through real sockets.
// The htpasswd lines were made by Apache's own htpasswd tool (htpasswd -B -C 5, -m, -s, -d).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { request } from "undici";
import { WebSocket, WebSocketServer } from "ws";
import { Reconciler } from "../../src/control/index.js";
import { ProxyServer } from "../../src/dataplane/index.js";
import { ManifestSource } from "../../src/files/index.js";
import { defaultBuildSettings, type Diagnostic } from "../../src/model/index.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { startUpstream, type Upstream } from "../support/upstream.js";

const log = pino({ level: "silent" });

const htpasswd = [
  "bcuser:$2y$05$8LdFxMY.RirjIoX/zfS7T.la9XEImG3aClrA9pWc8jCpolkF9KU1.",
  "mduser:$apr1$26rQOMbq$.gPyGISN3ovkqjc7naiZa0",
  "shauser:{SHA}z0jT3TdveclVlHs5WCpg5cPeIe8=",
  "",
].join("\n");
const desLine = "desuser:rv2pkBlkgxiEc";

function secretYaml(ns: string, name: string, data: Record<string, string>, type = "Opaque"): string {
  const lines = Object.entries(data).map(([k, v]) => `  ${k}: ${Buffer.from(v, "utf8").toString("base64")}`);
  return `apiVersion: v1\nkind: Secret\nmetadata: { name: ${name}, namespace: ${ns} }\ntype: ${type}\ndata:\n${lines.join("\n")}\n`;
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`;
}

/** The auth service's behaviour per request, chosen by a `mode=` query parameter of the original URL (X-Original-URL). */
type Mode = "allow" | "deny401" | "deny403" | "error500" | "slow";

interface AuthService {
  readonly server: Server;
  readonly port: number;
  readonly seen: Array<{ url: string; method: string; headers: IncomingHttpHeaders }>;
}

async function startAuthService(): Promise<AuthService> {
  const seen: AuthService["seen"] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? "", method: req.method ?? "", headers: req.headers });
    req.resume();
    const original = String(req.headers["x-original-url"] ?? "");
    const mode = (/[?&]mode=([a-z0-9]+)/.exec(original)?.[1] ?? "allow") as Mode;
    switch (mode) {
      case "allow":
        if (req.headers.authorization !== "Bearer good") {
          res.writeHead(401, { "www-authenticate": 'Bearer realm="sso"' });
          res.end("no");
          return;
        }
        res.writeHead(200, { "x-user": "alice", "x-role": "admin", "x-other": "not copied" });
        res.end("ok");
        return;
      case "deny401":
        res.writeHead(401, { "www-authenticate": 'Bearer realm="sso", error="invalid_token"' });
        res.end("denied");
        return;
      case "deny403":
        res.writeHead(403, { location: "https://sso.example/login?rd=x" });
        res.end("forbidden");
        return;
      case "error500":
        res.writeHead(500);
        res.end("boom");
        return;
      case "slow":
        // Never answers; the proxy's auth-timeout must.
        return;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", () => resolve()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

interface Env {
  dir: string;
  proxy: ProxyServer;
  source: ManifestSource;
  reconciler: Reconciler;
  port: number;
  upstream: Upstream;
  wsUpstream: Server;
  auth: AuthService;
  diagnostics: ReadonlyArray<Diagnostic>;
}

let env: Env;

async function get(path: string, host: string, headers: Record<string, string> = {}) {
  const res = await request(`http://127.0.0.1:${env.port}${path}`, { headers: { host, ...headers } });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** The headers the upstream saw on its last request. */
function lastSeen(): IncomingHttpHeaders {
  return env.upstream.arrivals.at(-1)?.headers ?? {};
}

beforeAll(async () => {
  const upstream = await startUpstream("web-0", {
    handler: (req, res) => {
      req.resume();
      res.writeHead(200, { "x-upstream": "web-0" });
      res.end(`web-0 ${req.url}`);
    },
  });
  // A WebSocket echo member for upgrades.
  const wsUpstream = createServer();
  const wss = new WebSocketServer({ server: wsUpstream });
  wss.on("connection", (ws, req) => {
    ws.send(`hello ${String(req.headers["x-user"] ?? "")}`);
    ws.on("message", (m: Buffer) => ws.send(m.toString()));
  });
  await new Promise<void>((resolve) => wsUpstream.listen(0, "127.0.0.1", () => resolve()));
  const wsPort = (wsUpstream.address() as AddressInfo).port;
  const auth = await startAuthService();
  const down = await closedPort();
  const dir = await mkdtemp(join(tmpdir(), "ppi-auth-"));
  const authUrl = `http://127.0.0.1:${auth.port}/check?from=proxy`;
  await writeFile(
    join(dir, "objects.yaml"),
    [
      serviceYaml("team", "web", 80),
      endpointSlicesYaml("team", "web", [{ ip: upstream.host, port: upstream.port, pod: "web-0" }]),
      serviceYaml("team", "ws", 80),
      endpointSlicesYaml("team", "ws", [{ ip: "127.0.0.1", port: wsPort, pod: "ws-0" }]),
      secretYaml("team", "htpasswd", { auth: htpasswd }),
      secretYaml("team", "no-auth-key", { users: htpasswd }),
      secretYaml("team", "des", { auth: `${htpasswd}${desLine}\n` }),
      secretYaml("other", "htpasswd", { auth: htpasswd }),
      ingressYaml("team", "basic", [{ host: "basic.test", path: "/", service: "web", port: 80 }, { host: "basic.test", path: "/ws", service: "ws", port: 80 }], {
        "proxypass.io/auth-type": "basic",
        "proxypass.io/auth-secret": "htpasswd",
        "proxypass.io/auth-realm": 'Team "A" \\ area',
      }),
      ingressYaml("team", "missing", [{ host: "missing.test", path: "/", service: "web", port: 80 }], { "proxypass.io/auth-type": "basic", "proxypass.io/auth-secret": "nope" }),
      ingressYaml("team", "nokey", [{ host: "nokey.test", path: "/", service: "web", port: 80 }], { "proxypass.io/auth-type": "basic", "proxypass.io/auth-secret": "no-auth-key" }),
      ingressYaml("team", "des", [{ host: "des.test", path: "/", service: "web", port: 80 }], { "proxypass.io/auth-type": "basic", "proxypass.io/auth-secret": "des" }),
      ingressYaml("team", "crossns", [{ host: "crossns.test", path: "/", service: "web", port: 80 }], { "proxypass.io/auth-type": "basic", "proxypass.io/auth-secret": "other/htpasswd" }),
      ingressYaml("team", "open", [{ host: "open.test", path: "/", service: "web", port: 80 }]),
      ingressYaml("team", "ext", [{ host: "ext.test", path: "/", service: "web", port: 80 }, { host: "ext.test", path: "/ws", service: "ws", port: 80 }], {
        "proxypass.io/auth-url": authUrl,
        "proxypass.io/auth-response-headers": "X-User, x-role",
        "proxypass.io/auth-timeout": "0.5",
      }),
      ingressYaml("team", "down", [{ host: "down.test", path: "/", service: "web", port: 80 }], { "proxypass.io/auth-url": `http://127.0.0.1:${down}/check` }),
    ].join("---\n"),
  );
  const proxy = new ProxyServer({ logger: log });
  const address = await proxy.listen({ port: 0, host: "127.0.0.1" });
  const source = new ManifestSource({ path: dir, logger: log });
  const holder: { diagnostics: ReadonlyArray<Diagnostic> } = { diagnostics: [] };
  const reconciler = new Reconciler({ source, sink: proxy, settings: defaultBuildSettings, logger: log, observers: [{ observe: (o) => (holder.diagnostics = o.diagnostics) }] });
  await reconciler.start();
  env = {
    dir,
    proxy,
    source,
    reconciler,
    port: address.port,
    upstream,
    wsUpstream,
    auth,
    get diagnostics() {
      return holder.diagnostics;
    },
  };
});

afterAll(async () => {
  env.reconciler.close();
  env.source.close();
  await env.proxy.close(1000);
  await env.upstream.close();
  env.wsUpstream.closeAllConnections();
  await new Promise<void>((resolve) => env.wsUpstream.close(() => resolve()));
  env.auth.server.closeAllConnections();
  await new Promise<void>((resolve) => env.auth.server.close(() => resolve()));
  await rm(env.dir, { recursive: true, force: true });
});

describe("basic auth (auth-type: basic, auth-secret, auth-realm)", () => {
  it.each([
    { name: "bcrypt ($2y$) entry", user: "bcuser", password: "bcpass" },
    { name: "apr1 MD5 entry (password with a space and a colon)", user: "mduser", password: "md pass:x" },
    { name: "{SHA} entry", user: "shauser", password: "shapass" },
  ])("admits the right password of a $name and forwards Authorization upstream", async ({ user, password }) => {
    const r = await get("/page", "basic.test", { authorization: basic(user, password) });
    expect(r.status).toBe(200);
    expect(r.body).toBe("web-0 /page");
    expect(lastSeen().authorization).toBe(basic(user, password));
  });

  it("a bcrypt check remembered in the cache still refuses a wrong password", async () => {
    expect((await get("/", "basic.test", { authorization: basic("bcuser", "bcpass") })).status).toBe(200);
    expect((await get("/", "basic.test", { authorization: basic("bcuser", "bcpass") })).status).toBe(200);
    expect((await get("/", "basic.test", { authorization: basic("bcuser", "bcpasS") })).status).toBe(401);
  });

  it.each([
    { name: "no Authorization header", authorization: null },
    { name: "wrong bcrypt password", authorization: basic("bcuser", "wrong") },
    { name: "wrong apr1 password", authorization: basic("mduser", "md pass") },
    { name: "wrong {SHA} password", authorization: basic("shauser", "shapass ") },
    { name: "unknown user", authorization: basic("mallory", "bcpass") },
    { name: "another scheme", authorization: "Bearer abc" },
    { name: "malformed base64", authorization: "Basic %%%notbase64" },
    { name: "credentials without a colon", authorization: `Basic ${Buffer.from("bcuser").toString("base64")}` },
    { name: "empty user name", authorization: basic("", "bcpass") },
  ])("401 with WWW-Authenticate and the escaped realm for $name; nothing reaches the member", async ({ authorization }) => {
    const before = env.upstream.arrivals.length;
    const r = await get("/secret", "basic.test", authorization === null ? {} : { authorization });
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toBe('Basic realm="Team \\"A\\" \\\\ area", charset="UTF-8"');
    expect(env.upstream.arrivals.length).toBe(before);
  });

  it.each([
    { name: "the Secret does not exist", host: "missing.test", reason: "AuthSecretNotFound", object: "team/missing" },
    { name: "the Secret has no auth key", host: "nokey.test", reason: "AuthSecretInvalid", object: "team/nokey" },
    { name: "one line has an unsupported (DES crypt) hash", host: "des.test", reason: "AuthSecretInvalid", object: "team/des" },
    { name: "the Secret is in another namespace", host: "crossns.test", reason: "AuthSecretInvalid", object: "team/crossns" },
  ])("fails closed with 503 and an error diagnostic on the Ingress when $name", async ({ host, reason, object }) => {
    const before = env.upstream.arrivals.length;
    const r = await get("/", host, { authorization: basic("shauser", "shapass") });
    expect(r.status).toBe(503);
    expect(env.upstream.arrivals.length).toBe(before);
    expect(env.diagnostics.filter((d) => d.object === object).map((d) => ({ severity: d.severity, reason: d.reason }))).toEqual([{ severity: "error", reason }]);
  });

  it("routes without auth annotations are not affected", async () => {
    expect((await get("/", "open.test")).status).toBe(200);
  });

  it("applies to WebSocket upgrades: refused without credentials, tunnelled with them", async () => {
    const refused = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${env.port}/ws`, { headers: { host: "basic.test" } });
      ws.on("unexpected-response", (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on("open", () => reject(new Error("upgrade admitted without credentials")));
      ws.on("error", noop);
    });
    expect(refused).toBe(401);
    const greeting = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${env.port}/ws`, { headers: { host: "basic.test", authorization: basic("mduser", "md pass:x") } });
      ws.on("message", (m: Buffer) => {
        resolve(m.toString());
        ws.close();
      });
      ws.on("error", reject);
    });
    expect(greeting).toBe("hello ");
  });
});

describe("external auth (auth-url, auth-response-headers, auth-timeout)", () => {
  it("2xx admits and copies only the listed headers upstream, replacing the client's own", async () => {
    const r = await get("/app?x=1", "ext.test", { authorization: "Bearer good", cookie: "sid=1", "x-user": "forged", "x-other": "client" });
    expect(r.status).toBe(200);
    const seen = lastSeen();
    expect(seen["x-user"]).toBe("alice");
    expect(seen["x-role"]).toBe("admin");
    expect(seen["x-other"]).toBe("client");
    const sub = env.auth.seen.at(-1);
    expect(sub?.method).toBe("GET");
    expect(sub?.url).toBe("/check?from=proxy");
    expect(sub?.headers["x-original-url"]).toBe("http://ext.test/app?x=1");
    expect(sub?.headers["x-original-method"]).toBe("GET");
    expect(sub?.headers["x-forwarded-host"]).toBe("ext.test");
    expect(sub?.headers["x-forwarded-proto"]).toBe("http");
    expect(sub?.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(sub?.headers.authorization).toBe("Bearer good");
    expect(sub?.headers.cookie).toBe("sid=1");
    expect(sub?.headers["x-user"]).toBeUndefined();
  });

  it("the original method of a POST is told in X-Original-Method; the body goes only upstream", async () => {
    const res = await request(`http://127.0.0.1:${env.port}/form`, { method: "POST", body: "a=1", headers: { host: "ext.test", authorization: "Bearer good", "content-type": "text/plain" } });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    expect(env.auth.seen.at(-1)?.headers["x-original-method"]).toBe("POST");
    expect(env.auth.seen.at(-1)?.headers["content-length"]).toBeUndefined();
  });

  it.each([
    { name: "401 passes through with its WWW-Authenticate", query: "mode=deny401", status: 401, header: "www-authenticate", value: 'Bearer realm="sso", error="invalid_token"' },
    { name: "the auth service's own 401 for a bad token", query: "mode=allow", status: 401, header: "www-authenticate", value: 'Bearer realm="sso"' },
    { name: "403 passes through with its Location", query: "mode=deny403", status: 403, header: "location", value: "https://sso.example/login?rd=x" },
  ])("$name; nothing reaches the member", async ({ query, status, header, value }) => {
    const before = env.upstream.arrivals.length;
    const r = await get(`/?${query}`, "ext.test", { authorization: "Bearer bad" });
    expect(r.status).toBe(status);
    expect(r.headers[header]).toBe(value);
    expect(env.upstream.arrivals.length).toBe(before);
  });

  it.each([
    { name: "the auth service answers 500", host: "ext.test", path: "/?mode=error500" },
    { name: "the auth service is down (connection refused)", host: "down.test", path: "/" },
    { name: "the auth service does not answer within auth-timeout", host: "ext.test", path: "/?mode=slow" },
  ])("503 (never open) when $name", async ({ host, path }) => {
    const before = env.upstream.arrivals.length;
    const r = await get(path, host, { authorization: "Bearer good" });
    expect(r.status).toBe(503);
    expect(env.upstream.arrivals.length).toBe(before);
  });

  it("applies to WebSocket upgrades: the auth headers reach the member, a refusal is relayed", async () => {
    const greeting = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${env.port}/ws`, { headers: { host: "ext.test", authorization: "Bearer good" } });
      ws.on("message", (m: Buffer) => {
        resolve(m.toString());
        ws.close();
      });
      ws.on("error", reject);
    });
    expect(greeting).toBe("hello alice");
    const refused = await new Promise<{ status: number; challenge: string }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${env.port}/ws?mode=deny401`, { headers: { host: "ext.test" } });
      ws.on("unexpected-response", (_req, res) => {
        resolve({ status: res.statusCode ?? 0, challenge: String(res.headers["www-authenticate"]) });
        ws.terminate();
      });
      ws.on("open", () => reject(new Error("upgrade admitted")));
      ws.on("error", noop);
    });
    expect(refused).toEqual({ status: 401, challenge: 'Bearer realm="sso", error="invalid_token"' });
  });
});

function noop(): void {}
