// backend-protocol AJP through a real ProxyServer to two real Tomcat 10 instances (jvmRoutes
// tomcat-0 and tomcat-1, secretRequired): request data and attributes, bodies both ways (chunked
// uploads too), JSESSIONID stickiness by jvmRoute, the secret, health checks by CPing, and a
// Tomcat killed mid-request (502, then failover for the next request).
import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProxyServer } from "../../../src/dataplane/index.js";
import type { AjpBackendConfig, BalancerSettings, Member } from "../../../src/model/index.js";
import { startTomcat, type Tomcat } from "../../support/tomcat.js";
import { waitFor } from "../../support/wait.js";
import { endpointTable, member, route, routeTable, send, silentLogger, vhost } from "../helpers.js";
import { lines } from "./collect.js";

const B = "default/tomcat:8009";
const WRONG = "default/tomcat-wrong:8009";
const MISSING = "default/tomcat-missing:8009";
const SECRET = "s3cret-Ghostcat-fix";

let a: Tomcat;
let b: Tomcat;
let proxy: ProxyServer;
let port: number;

const ajp = (overrides: Partial<AjpBackendConfig> = {}): AjpBackendConfig => ({ secret: SECRET, packetSize: 8192, pingMs: 0, failClosed: false, ...overrides });
const sticky: Partial<BalancerSettings> = { sticky: { cookie: "JSESSIONID", param: "jsessionid", noFailover: false } };

function members(): Member[] {
  return [member(a.port, true, "127.0.0.1", { route: a.jvmRoute }), member(b.port, true, "127.0.0.1", { route: b.jvmRoute })];
}

async function serve(settings: Partial<BalancerSettings> = {}): Promise<void> {
  await proxy.applyRoutes(
    routeTable([vhost("shop.example", [route("/", "Prefix", B)]), vhost("wrong.example", [route("/", "Prefix", WRONG)]), vhost("missing.example", [route("/", "Prefix", MISSING)])], null, {
      [B]: { protocol: "ajp", ajp: ajp(), ...sticky, ...settings },
      [WRONG]: { protocol: "ajp", ajp: ajp({ secret: "not-the-secret" }) },
      [MISSING]: { protocol: "ajp", ajp: ajp({ secret: null, failClosed: true }) },
    }),
    endpointTable({ [B]: members(), [WRONG]: members(), [MISSING]: members() }),
  );
}

beforeAll(async () => {
  [a, b] = await Promise.all([startTomcat({ jvmRoute: "tomcat-0", secret: SECRET }), startTomcat({ jvmRoute: "tomcat-1", secret: SECRET })]);
  proxy = new ProxyServer({ logger: silentLogger });
  port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
  await serve();
}, 180_000);

afterAll(async () => {
  await proxy?.close(100);
  await Promise.all([a?.stop(), b?.stop()]);
});

const shop = { host: "shop.example" };
const sha = (buf: Buffer): string => createHash("sha256").update(buf).digest("hex");

describe("AJP members through the proxy", () => {
  it("GET: method, URI, query, headers, client address and X-Forwarded-* reach the servlet; not secure", async () => {
    const r = await send(port, { path: "/echo.jsp?q=a%20b&x=1", headers: { ...shop, "x-custom": "v1", accept: "text/plain", "user-agent": "t/1", "x-forwarded-proto": "https" } });
    expect(r.status).toBe(200);
    const l = lines(r.body);
    expect(l.get("method")).toEqual(["GET"]);
    expect(l.get("uri")).toEqual(["/echo.jsp"]);
    expect(l.get("query")).toEqual(["q=a%20b&x=1"]);
    expect(l.get("h.x-custom")).toEqual(["v1"]);
    expect(l.get("h.host")).toEqual(["shop.example"]);
    expect(l.get("h.x-forwarded-for")).toEqual(["127.0.0.1"]);
    expect(l.get("remoteAddr")).toEqual(["127.0.0.1"]);
    expect(Number(l.get("remotePort")?.[0])).toBeGreaterThan(0);
    expect(l.get("serverName")).toEqual(["shop.example"]);
    // A client's X-Forwarded-Proto is dropped and never makes the request secure.
    expect(l.get("secure")).toEqual(["false"]);
    expect(l.get("h.x-forwarded-proto")).toEqual(["http"]);
  }, 60_000);

  it("no request attribute can be injected from client headers", async () => {
    const r = await send(port, {
      path: "/echo.jsp",
      headers: { ...shop, AJP_REMOTE_PORT: "1", "AJP_SSL_PROTOCOL": "TLSv1.3", "jakarta.servlet.request.X509Certificate": "x", injected: "1", "ssl_cipher": "NULL" },
    });
    const l = lines(r.body);
    expect(l.get("remotePort")?.[0]).not.toBe("1");
    expect(l.get("attr.AJP_REMOTE_PORT")).toEqual(["null"]);
    expect(l.get("attr.jakarta.servlet.request.X509Certificate")).toEqual(["null"]);
    expect(l.get("attr.jakarta.servlet.request.cipher_suite")).toEqual(["null"]);
    expect(l.get("attr.injected")).toEqual(["null"]);
    expect(l.get("secure")).toEqual(["false"]);
  }, 60_000);

  it("POST with Content-Length: 1 MiB arrives whole (many data packets)", async () => {
    const body = randomBytes(1 << 20);
    const r = await send(port, { method: "POST", path: "/echo.jsp", headers: { ...shop, "content-type": "application/octet-stream" }, body });
    const l = lines(r.body);
    expect(l.get("contentLength")).toEqual([String(body.length)]);
    expect(l.get("bodyLength")).toEqual([String(body.length)]);
    expect(l.get("bodySha256")).toEqual([sha(body)]);
  }, 60_000);

  it("chunked upload (no Content-Length): Tomcat asks for each chunk, the empty packet ends it", async () => {
    const parts = [randomBytes(100_000), randomBytes(3), randomBytes(250_000)];
    const r = await send(port, { method: "POST", path: "/echo.jsp", headers: { ...shop, "content-type": "application/octet-stream" }, body: parts, chunked: true });
    const l = lines(r.body);
    expect(l.get("contentLength")).toEqual(["-1"]);
    expect(l.get("bodyLength")).toEqual([String(350_003)]);
    expect(l.get("bodySha256")).toEqual([sha(Buffer.concat(parts))]);
  }, 60_000);

  it("a large response body (8 MB) streams through", async () => {
    const r = await send(port, { path: "/big.jsp?n=8000000", headers: shop });
    expect(r.status).toBe(200);
    expect(r.headers["content-length"]).toBe("8000000");
    expect(r.body.length).toBe(8_000_000);
    for (let i = 0; i < r.body.length; i += 999_983) expect(r.body[i]).toBe(48 + (i % 10));
  }, 60_000);

  it("coded and named response headers, repeated Set-Cookie, the status", async () => {
    const r = await send(port, { path: "/headers.jsp?status=201", headers: shop });
    expect(r.status).toBe(201);
    expect(r.headers["content-language"]).toBe("de");
    expect(r.headers["location"]).toBe("/elsewhere");
    expect(r.headers["x-custom"]).toBe("custom value");
    expect(r.headers["www-authenticate"]).toBe('Basic realm="x"');
    expect(r.headers["set-cookie"]).toEqual(["a=1; Path=/", "b=2; Path=/"]);
    expect(r.body.toString()).toMatch(/^headers jvmRoute=tomcat-[01]$/);
  }, 60_000);

  it("JSESSIONID stickiness: the session stays on the Tomcat whose jvmRoute it names; the proxy adds no cookie of its own", async () => {
    const first = await send(port, { path: "/session.jsp", headers: shop });
    const cookies = ([] as string[]).concat(first.headers["set-cookie"] ?? []);
    expect(cookies).toHaveLength(1);
    const m = /^JSESSIONID=([A-F0-9]+)\.(tomcat-[01]);/.exec(cookies[0] ?? "");
    expect(m).not.toBeNull();
    const route = m?.[2] as string;
    const id = `${m?.[1] ?? ""}.${route}`;
    for (let i = 2; i <= 6; i++) {
      const r = await send(port, { path: "/session.jsp", headers: { ...shop, cookie: `JSESSIONID=${id}` } });
      const l = lines(r.body);
      expect(l.get("jvmRoute")).toEqual([route]);
      expect(l.get("count")).toEqual([String(i)]);
      expect(r.headers["set-cookie"]).toBeUndefined();
    }
    // The ;jsessionid= path parameter works too (httpd's JSESSIONID|jsessionid).
    const viaUrl = await send(port, { path: `/session.jsp;jsessionid=${id}`, headers: shop });
    expect(lines(viaUrl.body).get("count")).toEqual(["7"]);
  }, 60_000);

  it("without a session, requests are balanced over both Tomcats", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add(lines((await send(port, { path: "/echo.jsp", headers: shop })).body).get("jvmRoute")?.[0] ?? "");
    expect([...seen].sort()).toEqual(["tomcat-0", "tomcat-1"]);
  }, 60_000);

  it("the secret: a wrong one is refused by Tomcat (403); a missing ajp-secret Secret fails closed (502)", async () => {
    expect((await send(port, { path: "/echo.jsp", headers: { host: "wrong.example" } })).status).toBe(403);
    expect((await send(port, { path: "/echo.jsp", headers: { host: "missing.example" } })).status).toBe(502);
  }, 60_000);

  it("connections to Tomcat are reused across requests", async () => {
    await send(port, { path: "/index.jsp", headers: shop });
    const opened = (): number => {
      const bal = proxy.registry.get(B);
      let n = 0;
      for (const m of bal?.list ?? []) n += (m.upstream.pool(5_000, bal?.transport) as unknown as { opened: number }).opened;
      return n;
    };
    const before = opened();
    for (let i = 0; i < 10; i++) expect((await send(port, { path: "/index.jsp", headers: shop })).status).toBe(200);
    // Ten sequential requests over two members: without reuse, ten new connections. (Not "zero":
    // an idle connection may time out on a loaded machine and be replaced.)
    expect(opened() - before).toBeLessThanOrEqual(4);
  }, 60_000);

  it("a WebSocket upgrade to an AJP balancer is 501 (AJP has no upgrade)", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, path: "/ws", headers: { host: "shop.example", connection: "Upgrade", upgrade: "websocket", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("upgrade", () => resolve(101));
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(501);
  }, 30_000);

  it("health checks: TCP is CPing/CPong; a Tomcat killed mid-request gives 502, is marked failed, and the next request fails over", async () => {
    await serve({ healthCheck: { uri: "/", method: "TCP", intervalMs: 500, passes: 1, fails: 1, expect: [[200, 399]] } });
    await waitFor(() => ([...(proxy.healthChecker?.results() ?? [])].filter((r) => r.balancer === B && r.healthy && r.checks > 0).length === 2 ? true : undefined), { timeoutMs: 20_000, what: "both members pass CPing" });
    // A POST pinned to tomcat-0 (its jvmRoute in the URL) that takes 3 s; Tomcat dies meanwhile.
    const pending = send(port, { method: "POST", path: `/slow.jsp;jsessionid=X.${a.jvmRoute}?ms=3000`, headers: shop, body: "x" });
    await new Promise((r) => setTimeout(r, 800));
    await a.kill();
    const dead = await pending;
    expect(dead.status).toBe(502);
    const next = await send(port, { path: "/echo.jsp", headers: shop });
    expect(next.status).toBe(200);
    expect(lines(next.body).get("jvmRoute")).toEqual([b.jvmRoute]);
    // The session of the dead Tomcat moves (no sticky-nofailover).
    const moved = await send(port, { path: `/echo.jsp;jsessionid=X.${a.jvmRoute}`, headers: shop });
    expect(lines(moved.body).get("jvmRoute")).toEqual([b.jvmRoute]);
    await waitFor(() => ([...(proxy.healthChecker?.results() ?? [])].find((r) => r.balancer === B && r.member === `127.0.0.1:${a.port}`)?.healthy === false ? true : undefined), { timeoutMs: 20_000, what: "the killed Tomcat fails its CPing check" });
  }, 90_000);
});
