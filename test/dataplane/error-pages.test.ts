// custom-error-pages through a real ProxyServer and member on loopback: listed statuses from the
// member and from the proxy itself get the ConfigMap page with the status kept; others pass.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import zlib from "node:zlib";
import { ProxyServer } from "../../src/dataplane/index.js";
import { defaultServerSettings, type RouteOptions } from "../../src/model/index.js";
import { endpointTable, member, route, routeTable, send, silentLogger, startUpstream, vhost, type Upstream } from "./helpers.js";

const B = "default/web:80";
const PAGE_404 = "<!doctype html><title>Not here</title><p>We looked everywhere.</p>\n";
const PAGE_503 = `<!doctype html><title>Back soon</title><p>${"Maintenance. ".repeat(100)}</p>\n`;
let proxy: ProxyServer;
let port: number;
let u: Upstream;

async function serve(options: Partial<RouteOptions>, members = true): Promise<void> {
  const table = { ...routeTable([vhost("example.com", [route("/", "Prefix", B, options)])]), server: { ...defaultServerSettings, errorPages: { "404": PAGE_404, "503": PAGE_503 } } };
  await proxy.applyRoutes(table, endpointTable({ [B]: members ? [member(u.port)] : [] }));
}

beforeAll(async () => {
  proxy = new ProxyServer({ logger: silentLogger });
  port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
  u = await startUpstream("u", (req, res) => {
    req.resume();
    const status = Number(req.url?.slice(1)) || 200;
    res.writeHead(status, { "content-type": "application/json", "x-member-detail": "secret" });
    res.end(JSON.stringify({ status, stack: "at internal.js:1" }));
  });
});

afterEach(() => undefined);

afterAll(async () => {
  await u.close();
  await proxy.close(1_000);
});

describe("custom-error-pages", () => {
  it("a listed status from the member: the page, status kept, the member's body and headers dropped", async () => {
    await serve({ customErrorPages: [404, 503] });
    const reply = await send(port, { path: "/404" });
    expect(reply.status).toBe(404);
    expect(reply.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(reply.headers["x-member-detail"]).toBeUndefined();
    expect(reply.body.toString()).toBe(PAGE_404);
    // the connection to the member stays usable: the next request is answered normally
    expect((await send(port, { path: "/200" })).status).toBe(200);
  });

  it("a status that is not listed, or listed without a page, passes through", async () => {
    await serve({ customErrorPages: [404, 500] });
    const a = await send(port, { path: "/500" });
    expect(a.status).toBe(500);
    expect(JSON.parse(a.body.toString())).toMatchObject({ status: 500 });
    const b = await send(port, { path: "/410" });
    expect(b.status).toBe(410);
    expect(b.headers["content-type"]).toBe("application/json");
  });

  it("a route without custom-error-pages is never overridden", async () => {
    await serve({});
    const reply = await send(port, { path: "/404" });
    expect(reply.headers["content-type"]).toBe("application/json");
  });

  it("the proxy's own 503 (no member) gets the page too", async () => {
    await serve({ customErrorPages: [503] }, false);
    const reply = await send(port, { path: "/" });
    expect(reply.status).toBe(503);
    expect(reply.body.toString()).toBe(PAGE_503);
  });

  it("with compression on, the page is compressed like any HTML response", async () => {
    await serve({ customErrorPages: [503], compression: true });
    const reply = await send(port, { path: "/503", headers: { "accept-encoding": "gzip" } });
    expect(reply.status).toBe(503);
    expect(reply.headers["content-encoding"]).toBe("gzip");
    expect(zlib.gunzipSync(reply.body).toString()).toBe(PAGE_503);
  });
});
