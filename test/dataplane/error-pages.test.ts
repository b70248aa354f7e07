// custom-error-pages through a real ProxyServer, member and error-backend Service on loopback:
// listed statuses from the member and from the proxy itself get the error backend's body (with
// ingress-nginx's X-* headers), else the ConfigMap page, else the built-in one; the status is kept;
// the error backend's own failures never loop; HEAD and gRPC requests are left alone.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { ProxyServer } from "../../src/dataplane/index.js";
import { MAX_ERROR_BACKEND_BODY } from "../../src/dataplane/error-pages.js";
import { defaultServerSettings, type RouteOptions } from "../../src/model/index.js";
import { balancerConfig, endpointTable, member, route, routeTable, send, silentLogger, startUpstream, vhost, type Upstream } from "./helpers.js";

const B = "default/web:80";
const E = "default/error-pages:80";
const PAGE_404 = "<!doctype html><title>Not here</title><p>We looked everywhere.</p>\n";
const PAGE_503 = `<!doctype html><title>Back soon</title><p>${"Maintenance. ".repeat(100)}</p>\n`;
let proxy: ProxyServer;
let port: number;
let u: Upstream;
let errors: Upstream;
/** How the error backend answers the next requests. */
let mode: "page" | "ok" | "wrong-status" | "huge" = "page";
let refusedPort: number;

interface Setup {
  members?: "up" | "none" | "refused";
  backend?: "up" | "none" | "absent";
  pages?: boolean;
}

async function serve(options: Partial<RouteOptions>, setup: Setup = {}): Promise<void> {
  const { members = "up", backend = "up", pages = true } = setup;
  const base = routeTable([vhost("example.com", [route("/", "Prefix", B, options)])]);
  const table = {
    ...base,
    balancers: backend === "absent" ? base.balancers : [...base.balancers, balancerConfig(E)],
    server: pages ? { ...defaultServerSettings, errorPages: { "404": PAGE_404, "503": PAGE_503 } } : defaultServerSettings,
  };
  const web = members === "up" ? [member(u.port)] : members === "refused" ? [member(refusedPort)] : [];
  await proxy.applyRoutes(table, endpointTable({ [B]: web, ...(backend === "up" ? { [E]: [member(errors.port)] } : backend === "none" ? { [E]: [] } : {}) }));
}

beforeAll(async () => {
  proxy = new ProxyServer({ logger: silentLogger });
  port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
  u = await startUpstream("u", (req, res) => {
    req.resume();
    const status = Number(req.url?.slice(1, 4)) || 200;
    res.writeHead(status, { "content-type": "application/json", "x-member-detail": "secret" });
    res.end(JSON.stringify({ status, stack: "at internal.js:1" }));
  });
  errors = await startUpstream("errors", (req, res) => {
    req.resume();
    const code = Number(req.headers["x-code"]);
    const json = (req.headers["x-format"] ?? "").includes("application/json");
    if (mode === "wrong-status") {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end("the error backend broke");
      return;
    }
    if (mode === "huge") {
      res.writeHead(code, { "content-type": "text/html" });
      res.end("x".repeat(MAX_ERROR_BACKEND_BODY + 1));
      return;
    }
    res.writeHead(mode === "ok" ? 200 : code, { "content-type": json ? "application/json" : "text/html", "x-from-error-backend": "1" });
    res.end(json ? JSON.stringify({ code, uri: req.headers["x-original-uri"] }) : `<h1>error ${code} for ${String(req.headers["x-original-uri"])}</h1>`);
  });
  // A port nothing listens on: connections are refused (502).
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", () => resolve()));
  refusedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(async () => {
  await u.close();
  await errors.close();
  await proxy.close(1_000);
});

describe("custom-error-pages from the ConfigMap", () => {
  it("a listed status from the member: the page, status kept, the member's body and headers dropped", async () => {
    await serve({ customErrorPages: [404, 503] }, { backend: "absent" });
    const reply = await send(port, { path: "/404" });
    expect(reply.status).toBe(404);
    expect(reply.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(reply.headers["cache-control"]).toBe("no-store");
    expect(reply.headers["x-member-detail"]).toBeUndefined();
    expect(reply.body.toString()).toBe(PAGE_404);
    // the connection to the member stays usable: the next request is answered normally
    expect((await send(port, { path: "/200" })).status).toBe(200);
  });

  it("a status that is not listed, or listed without a page and without an error backend, passes through", async () => {
    await serve({ customErrorPages: [404, 500] }, { backend: "absent" });
    const a = await send(port, { path: "/500" });
    expect(a.status).toBe(500);
    expect(JSON.parse(a.body.toString())).toMatchObject({ status: 500 });
    const b = await send(port, { path: "/410" });
    expect(b.status).toBe(410);
    expect(b.headers["content-type"]).toBe("application/json");
  });

  it("a route without custom-error-pages is never overridden", async () => {
    await serve({}, { backend: "absent" });
    const reply = await send(port, { path: "/404" });
    expect(reply.headers["content-type"]).toBe("application/json");
  });

  it("the proxy's own 503 (no member) gets the page too", async () => {
    await serve({ customErrorPages: [503] }, { members: "none", backend: "absent" });
    const reply = await send(port, { path: "/" });
    expect(reply.status).toBe(503);
    expect(reply.body.toString()).toBe(PAGE_503);
  });

  it("response-headers rules apply to the page", async () => {
    await serve({ customErrorPages: [404], responseHeaders: [{ op: "set", name: "X-Frame-Options", value: "DENY" }] }, { backend: "absent" });
    const reply = await send(port, { path: "/404" });
    expect(reply.headers["x-frame-options"]).toBe("DENY");
    expect(reply.body.toString()).toBe(PAGE_404);
  });
});

describe("custom-error-pages from the custom-error-backend Service", () => {
  it("a member's 404: the backend's body and type with the status kept, asked with ingress-nginx's headers", async () => {
    mode = "page";
    await serve({ customErrorPages: [404], customErrorBackend: "error-pages:80" });
    const before = errors.arrivals.length;
    const reply = await send(port, { path: "/404/deep?q=1", headers: { accept: "text/html,*/*;q=0.8", "x-request-id": "req-abc-123" } });
    expect(reply.status).toBe(404);
    expect(reply.headers["content-type"]).toBe("text/html");
    expect(reply.headers["x-member-detail"]).toBeUndefined();
    expect(reply.headers["x-from-error-backend"]).toBeUndefined(); // only the body and its type are taken
    expect(reply.body.toString()).toBe("<h1>error 404 for /404/deep?q=1</h1>");
    expect(errors.arrivals.length).toBe(before + 1);
    const asked = errors.arrivals[before];
    expect(asked).toMatchObject({ method: "GET", url: "/" });
    expect(asked?.headers).toMatchObject({
      "x-code": "404",
      "x-format": "text/html,*/*;q=0.8",
      "x-original-uri": "/404/deep?q=1",
      "x-namespace": "default",
      "x-ingress-name": "ing",
      "x-service-name": "web",
      "x-service-port": "80",
      "x-request-id": "req-abc-123",
      host: "example.com",
    });
  });

  it("the backend picks the representation from X-Format (Accept)", async () => {
    mode = "page";
    await serve({ customErrorPages: [404], customErrorBackend: "error-pages:80" });
    const reply = await send(port, { path: "/404", headers: { accept: "application/json" } });
    expect(reply.status).toBe(404);
    expect(reply.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(reply.body.toString())).toEqual({ code: 404, uri: "/404" });
  });

  it.each([
    { name: "no member (503)", members: "none" as const, status: 503 },
    { name: "member refused (502)", members: "refused" as const, status: 502 },
  ])("the proxy's own $name: the backend's page with that status", async ({ members, status }) => {
    mode = "page";
    await serve({ customErrorPages: [502, 503], customErrorBackend: "error-pages:80" }, { members });
    const before = errors.arrivals.length;
    const reply = await send(port, { path: "/x" });
    expect(reply.status).toBe(status);
    expect(reply.body.toString()).toBe(`<h1>error ${status} for /x</h1>`);
    expect(errors.arrivals[before]?.headers["x-code"]).toBe(String(status));
  });

  it("a 2xx answer from the backend is used, the original status kept", async () => {
    mode = "ok";
    await serve({ customErrorPages: [404], customErrorBackend: "error-pages:80" });
    const reply = await send(port, { path: "/404" });
    expect(reply.status).toBe(404);
    expect(reply.body.toString()).toBe("<h1>error 404 for /404</h1>");
  });

  it.each([
    { name: "answers another error status (no loop: it is not overridden again)", mode: "wrong-status" as const, backend: "up" as const },
    { name: "answers more than the size limit", mode: "huge" as const, backend: "up" as const },
    { name: "has no ready member", mode: "page" as const, backend: "none" as const },
  ])("the backend $name: the ConfigMap page, else the built-in one", async ({ mode: m, backend }) => {
    mode = m;
    await serve({ customErrorPages: [404, 410], customErrorBackend: "error-pages:80" }, { backend });
    const withPage = await send(port, { path: "/404" });
    expect(withPage.status).toBe(404);
    expect(withPage.body.toString()).toBe(PAGE_404);
    const builtIn = await send(port, { path: "/410" });
    expect(builtIn.status).toBe(410);
    expect(builtIn.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(builtIn.body.toString()).toBe("410 Gone\n");
  });

  it("the proxy's own 503 with a failing backend and no page: its usual plain body", async () => {
    mode = "wrong-status";
    await serve({ customErrorPages: [503], customErrorBackend: "error-pages:80" }, { members: "none", pages: false });
    const reply = await send(port, { path: "/" });
    expect(reply.status).toBe(503);
    expect(reply.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(reply.body.length).toBeGreaterThan(0);
    expect(reply.body.toString()).not.toContain("<h1>");
  });

  it("HEAD: the member's answer is relayed, the backend is not asked", async () => {
    mode = "page";
    await serve({ customErrorPages: [404], customErrorBackend: "error-pages:80" });
    const before = errors.arrivals.length;
    const reply = await send(port, { method: "HEAD", path: "/404" });
    expect(reply.status).toBe(404);
    expect(reply.headers["content-type"]).toBe("application/json");
    expect(errors.arrivals.length).toBe(before);
  });

  it("gRPC requests keep their answers (no HTML page)", async () => {
    mode = "page";
    await serve({ customErrorPages: [404], customErrorBackend: "error-pages:80" });
    const before = errors.arrivals.length;
    const reply = await send(port, { method: "POST", path: "/404", headers: { "content-type": "application/grpc" }, body: "" });
    expect(reply.status).toBe(404);
    expect(reply.headers["content-type"]).toBe("application/json");
    expect(errors.arrivals.length).toBe(before);
  });

  it("statuses that are not listed never reach the backend", async () => {
    mode = "page";
    await serve({ customErrorPages: [404], customErrorBackend: "error-pages:80" });
    const before = errors.arrivals.length;
    const reply = await send(port, { path: "/500" });
    expect(reply.status).toBe(500);
    expect(JSON.parse(reply.body.toString())).toMatchObject({ status: 500 });
    expect(errors.arrivals.length).toBe(before);
  });
});

describe("requests no route matches (the ConfigMap's custom-error-pages lists 404)", () => {
  async function serveNotFound(backend: string | null, pages = true): Promise<void> {
    const base = routeTable([vhost("example.com", [route("/", "Prefix", B)])]);
    const server = { ...defaultServerSettings, ...(pages ? { errorPages: { "404": PAGE_404 } } : {}), notFoundPage: { backend } };
    await proxy.applyRoutes({ ...base, balancers: [...base.balancers, balancerConfig(E)], server }, endpointTable({ [B]: [member(u.port)], [E]: [member(errors.port)] }));
  }

  it("an unknown host: the error backend's page with 404, asked without an Ingress or Service", async () => {
    mode = "page";
    await serveNotFound(E);
    const before = errors.arrivals.length;
    const reply = await send(port, { path: "/nowhere", headers: { host: "unknown.test" } });
    expect(reply.status).toBe(404);
    expect(reply.body.toString()).toBe("<h1>error 404 for /nowhere</h1>");
    expect(errors.arrivals[before]?.headers).toMatchObject({ "x-code": "404", "x-original-uri": "/nowhere", "x-namespace": "", "x-ingress-name": "", "x-service-name": "", "x-service-port": "", host: "unknown.test" });
    // a served host is not affected
    expect((await send(port, { path: "/200" })).status).toBe(200);
  });

  it("without an error backend: the ConfigMap's error-page-404", async () => {
    await serveNotFound(null);
    const reply = await send(port, { path: "/", headers: { host: "unknown.test" } });
    expect(reply.status).toBe(404);
    expect(reply.body.toString()).toBe(PAGE_404);
  });

  it("HEAD for an unknown host: the plain 404, the backend not asked", async () => {
    await serveNotFound(E);
    const before = errors.arrivals.length;
    const reply = await send(port, { method: "HEAD", path: "/", headers: { host: "unknown.test" } });
    expect(reply.status).toBe(404);
    expect(reply.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(errors.arrivals.length).toBe(before);
  });

  it("without notFoundPage an unknown host gets the plain 404", async () => {
    await serve({ customErrorPages: [404], customErrorBackend: "error-pages:80" });
    const before = errors.arrivals.length;
    const reply = await send(port, { path: "/", headers: { host: "unknown.test" } });
    expect(reply.status).toBe(404);
    expect(reply.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(errors.arrivals.length).toBe(before);
  });
});
