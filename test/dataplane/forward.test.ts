import { connect } from "node:net";
import { request as httpRequest } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProxyServer } from "../../src/dataplane/index.js";
import type { RouteOptions } from "../../src/model/index.js";
import { echo, endpointTable, json, member, route, routeTable, send, silentLogger, startStuckListener, startUpstream, vhost, type Upstream } from "./helpers.js";

const B = "default/web:80";

let proxy: ProxyServer;
let port: number;
const upstreams: Upstream[] = [];

async function upstream(name: string, handler = echo): Promise<Upstream> {
  const u = await startUpstream(name, handler);
  upstreams.push(u);
  return u;
}

async function serve(target: Upstream | number, options: Partial<RouteOptions> = {}, hosts = ["example.com"]): Promise<void> {
  const p = typeof target === "number" ? target : target.port;
  await proxy.applyRoutes(routeTable(hosts.map((h) => vhost(h, [route("/", "Prefix", B, options)]))), endpointTable({ [B]: [member(p)] }));
}

beforeAll(async () => {
  proxy = new ProxyServer({ logger: silentLogger });
  port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
});

afterEach(async () => {
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

afterAll(async () => {
  await proxy.close(1_000);
});

describe("forwarding bodies", () => {
  it.each([
    { name: "0 B request and response", size: 0, chunked: false },
    { name: "1 MiB request and response with content-length", size: 1 << 20, chunked: false },
    { name: "1 MiB chunked both ways", size: 1 << 20, chunked: true },
  ])("$name", async ({ size, chunked }) => {
    const u = await upstream("u", (req, res) => {
      const parts: Buffer[] = [];
      req.on("data", (c: Buffer) => parts.push(c));
      req.on("end", () => {
        const body = Buffer.concat(parts);
        res.writeHead(200, chunked ? { "x-te": String(req.headers["transfer-encoding"]) } : { "content-length": String(body.length) });
        // echo back in pieces so the response is chunked when no content-length
        for (let i = 0; i < body.length; i += 65_536) res.write(body.subarray(i, i + 65_536));
        res.end();
      });
    });
    await serve(u);
    const body = Buffer.alloc(size, 7);
    for (let i = 0; i < size; i += 997) body[i] = i & 0xff;
    const reply = await send(port, { method: "POST", path: "/upload", body: chunked ? [body.subarray(0, size / 2), body.subarray(size / 2)] : body, chunked });
    expect(reply.status).toBe(200);
    expect(reply.body.equals(body)).toBe(true);
    if (chunked) {
      expect(reply.headers["x-te"]).toBe("chunked");
      expect(reply.headers["transfer-encoding"]).toBe("chunked");
    } else {
      expect(reply.headers["content-length"]).toBe(String(size));
    }
  });

  it("slow client: response backpressure pauses the upstream and still delivers everything", async () => {
    const size = 8 << 20;
    const u = await upstream("big", (_req, res) => {
      res.writeHead(200, { "content-length": String(size) });
      const chunk = Buffer.alloc(1 << 16, 1);
      let sent = 0;
      const pump = (): void => {
        while (sent < size) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    await serve(u);
    const got = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, path: "/", headers: { host: "example.com" }, agent: false }, (res) => {
        let n = 0;
        res.pause();
        setTimeout(() => {
          res.on("data", (c: Buffer) => (n += c.length));
          res.on("end", () => resolve(n));
          res.resume();
        }, 200);
      });
      req.on("error", reject);
      req.end();
    });
    expect(got).toBe(size);
  });
});

describe("aborts", () => {
  it("client abort aborts the upstream request", async () => {
    let upstreamClosed: () => void = () => {};
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    let arrived: () => void = () => {};
    const arrival = new Promise<void>((r) => (arrived = r));
    const u = await upstream("hang", (req, res) => {
      res.writeHead(200);
      res.write("partial");
      res.on("close", () => upstreamClosed());
      arrived();
    });
    await serve(u);
    const req = httpRequest({ host: "127.0.0.1", port, path: "/", headers: { host: "example.com" }, agent: false });
    req.on("error", () => {});
    req.on("response", (res) => res.once("data", () => req.destroy()));
    req.end();
    await arrival;
    await closed; // upstream sees its connection closed
    expect(u.arrivals).toHaveLength(1);
    await expect.poll(() => proxy.memberStats(B, `127.0.0.1:${u.port}`)?.busy).toBe(0);
  });

  it("client abort during the request body aborts the upstream request", async () => {
    let upstreamClosed: () => void = () => {};
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    const u = await upstream("upload", (req) => {
      req.on("data", () => {});
      req.on("close", () => upstreamClosed());
    });
    await serve(u);
    const req = httpRequest({ host: "127.0.0.1", port, method: "POST", path: "/", headers: { host: "example.com", "content-length": "1000000" }, agent: false });
    req.on("error", () => {});
    req.write(Buffer.alloc(1000));
    await expect.poll(() => u.arrivals.length).toBe(1);
    req.destroy();
    await closed;
  });

  it("upstream abort mid-body ends the client response abruptly", async () => {
    const u = await upstream("cut", (req, res) => {
      res.writeHead(200, { "content-length": "100000" });
      res.write(Buffer.alloc(1000));
      setImmediate(() => req.socket.destroy());
    });
    await serve(u);
    await expect(send(port, { path: "/" })).rejects.toThrow();
  });
});

describe("error statuses", () => {
  it("502 when the upstream refuses the connection", async () => {
    const u = await upstream("gone");
    const deadPort = u.port;
    await u.close();
    upstreams.splice(upstreams.indexOf(u), 1);
    await serve(deadPort);
    const reply = await send(port);
    expect(reply.status).toBe(502);
    expect(reply.body.toString()).toBe("Bad Gateway\n");
  });

  it("502 when the upstream resets the connection before responding", async () => {
    const u = await upstream("reset", (req) => req.socket.destroy());
    await serve(u);
    expect((await send(port)).status).toBe(502);
  });

  it("503 when the balancer has no usable member", async () => {
    await proxy.applyRoutes(routeTable([vhost("example.com", [route("/", "Prefix", B)])]), endpointTable({ [B]: [] }));
    const reply = await send(port);
    expect(reply.status).toBe(503);
    expect(reply.body.toString()).toBe("Service Unavailable\n");
  });

  it("uses terminating members only when none is ready", async () => {
    const ready = await upstream("ready");
    const term = await upstream("terminating");
    await proxy.applyRoutes(routeTable([vhost("example.com", [route("/", "Prefix", B)])]), endpointTable({ [B]: [member(ready.port), member(term.port, false)] }));
    for (let i = 0; i < 4; i++) expect(json(await send(port)).member).toBe("ready");
    await proxy.applyEndpoints(endpointTable({ [B]: [member(term.port, false)] }));
    expect(json(await send(port)).member).toBe("terminating");
  });

  it("504 on read timeout (no response headers in time)", async () => {
    const u = await upstream("slow", () => {});
    await serve(u, { timeouts: { connectMs: 1_000, readMs: 150 } });
    const reply = await send(port);
    expect(reply.status).toBe(504);
    expect(reply.body.toString()).toBe("Gateway Timeout\n");
  });

  describe("connect timeout", () => {
    // Connects to this listener hang (see startStuckListener).
    let stuck: { port: number; close(): void };
    let stuckPort = 0;
    beforeAll(async () => {
      stuck = await startStuckListener();
      stuckPort = stuck.port;
    });
    afterAll(() => stuck.close());

    it("504 when connecting to the member times out", async () => {
      // No read timeout: only the connect timeout can end this request.
      await serve(stuckPort, { timeouts: { connectMs: 200, readMs: null } });
      const reply = await send(port);
      expect(reply.status).toBe(504);
    });
  });

  it.each([
    { name: "404 for a host with no vhost and no default backend", host: "nothing.test", path: "/", status: 404 },
    { name: "404 for an absolute-form request to a foreign host (no open proxy)", host: "example.com", path: "http://evil.test/steal", status: 404 },
    { name: "400 for an unsupported request target", host: "example.com", path: "*", status: 400 },
  ])("$name", async ({ host, path, status }) => {
    const u = await upstream("u");
    await serve(u);
    const reply = await send(port, { path, headers: { host } });
    expect(reply.status).toBe(status);
    expect(u.arrivals).toHaveLength(0);
  });

  it("absolute-form for a host we serve is routed by its authority", async () => {
    const u = await upstream("u");
    await serve(u);
    const reply = await send(port, { path: "http://example.com/x?q=1", headers: { host: "ignored.test" } });
    expect(reply.status).toBe(200);
    expect(json(reply).url).toBe("/x?q=1");
    expect(json(reply).headers.host).toBe("example.com");
  });

  it("HTTP/1.0 request without Host is routed by the catch-all vhost; the member's address is sent as Host", async () => {
    const u = await upstream("u");
    await serve(u, {}, [""]);
    const text = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port }, () => s.write("GET /plain HTTP/1.0\r\n\r\n"));
      let data = "";
      s.on("data", (d: Buffer) => (data += d.toString()));
      s.on("end", () => resolve(data));
      s.on("error", reject);
    });
    expect(text.startsWith("HTTP/1.1 200")).toBe(true);
    expect(u.arrivals[0]?.headers.host).toBe(`127.0.0.1:${u.port}`);
  });

  it.each([
    { name: "Content-Length with Transfer-Encoding (smuggling) is refused with 400", raw: "POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: "400" },
    { name: "duplicate differing Content-Length is refused with 400", raw: "POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", status: "400" },
    { name: "headers over the limit get 431", raw: `GET / HTTP/1.1\r\nHost: example.com\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, status: "431" },
  ])("$name", async ({ raw, status }) => {
    const u = await upstream("u");
    await serve(u);
    const text = await new Promise<string>((resolve) => {
      const s = connect({ host: "127.0.0.1", port }, () => s.write(raw));
      let data = "";
      s.on("data", (d: Buffer) => (data += d.toString()));
      s.on("close", () => resolve(data));
      s.on("error", () => resolve(data));
    });
    expect(text.slice(9, 12)).toBe(status);
    expect(u.arrivals).toHaveLength(0);
  });

  it("CONNECT is refused with 405 and never forwarded", async () => {
    const u = await upstream("u");
    await serve(u);
    const text = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port }, () => s.write(`CONNECT 127.0.0.1:${u.port} HTTP/1.1\r\nHost: 127.0.0.1:${u.port}\r\n\r\n`));
      let data = "";
      s.on("data", (d: Buffer) => (data += d.toString()));
      s.on("end", () => resolve(data));
      s.on("error", reject);
    });
    expect(text.startsWith("HTTP/1.1 405")).toBe(true);
    expect(u.arrivals).toHaveLength(0);
  });
});

describe("headers", () => {
  it("removes hop-by-hop headers in both directions, including those named in Connection", async () => {
    const u = await upstream("hop", (req, res) => {
      res.writeHead(200, {
        connection: "x-up-private, keep-alive",
        "x-up-private": "secret",
        "proxy-authenticate": "Basic",
        "keep-alive": "timeout=1",
        "x-kept": "yes",
        "content-type": "text/plain",
      });
      res.end(JSON.stringify(req.headers));
    });
    await serve(u);
    const reply = await send(port, {
      headers: { connection: "x-client-private, keep-alive", "x-client-private": "1", te: "trailers", "proxy-authorization": "Basic x", "keep-alive": "300", "x-kept": "ok", "proxy-connection": "keep-alive", upgrade: "h2c" },
    });
    expect(reply.status).toBe(200);
    const seen = JSON.parse(reply.body.toString()) as Record<string, string>;
    for (const h of ["x-client-private", "te", "proxy-authorization", "keep-alive", "proxy-connection", "upgrade", "via"]) expect(seen[h], h).toBeUndefined();
    expect(seen["x-kept"]).toBe("ok");
    expect(reply.headers["x-up-private"]).toBeUndefined();
    expect(reply.headers["proxy-authenticate"]).toBeUndefined();
    expect(reply.headers["x-kept"]).toBe("yes");
    expect(reply.headers.via).toBeUndefined();
  });

  it("preserves Host, appends X-Forwarded-For and sets X-Forwarded-Proto/-Host/-Port", async () => {
    const u = await upstream("xf");
    await serve(u);
    const reply = await send(port, { headers: { host: "Example.com:8080", "x-forwarded-for": "203.0.113.7", "x-forwarded-host": "spoofed", "x-forwarded-proto": "https" } });
    const h = json(reply).headers;
    expect(h.host).toBe("Example.com:8080");
    expect(h["x-forwarded-for"]).toBe("203.0.113.7, 127.0.0.1");
    expect(h["x-forwarded-proto"]).toBe("http");
    expect(h["x-forwarded-host"]).toBe("Example.com:8080");
    expect(h["x-forwarded-port"]).toBe(String(port));
    expect(h.via).toBeUndefined();
  });

  it.each([
    { name: "preserveHost false sends the balancer's host header", options: { preserveHost: false }, want: "web.default.svc" },
    { name: "upstreamVhost overrides the Host", options: { upstreamVhost: "internal.test" }, want: "internal.test" },
  ])("$name", async ({ options, want }) => {
    const u = await upstream("h");
    await serve(u, options);
    expect(json(await send(port)).headers.host).toBe(want);
  });

  it("applies request header rules: set, add, append, unset", async () => {
    const u = await upstream("rules", (req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(req.rawHeaders));
    });
    await serve(u, {
      requestHeaders: [
        { op: "set", name: "x-set", value: "new" },
        { op: "add", name: "x-add", value: "two" },
        { op: "append", name: "x-append", value: "b" },
        { op: "append", name: "x-append-new", value: "only" },
        { op: "unset", name: "x-unset", value: "" },
      ],
    });
    const reply = await send(port, { headers: { "x-set": "old", "x-add": "one", "x-append": "a", "x-unset": "gone" } });
    const raw = JSON.parse(reply.body.toString()) as string[];
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < raw.length; i += 2) pairs.push([(raw[i] ?? "").toLowerCase(), raw[i + 1] ?? ""]);
    const all = (n: string): string[] => pairs.filter(([k]) => k === n).map(([, v]) => v);
    expect(all("x-set")).toEqual(["new"]);
    expect(all("x-add")).toEqual(["one", "two"]);
    expect(all("x-append")).toEqual(["a, b"]);
    expect(all("x-append-new")).toEqual(["only"]);
    expect(all("x-unset")).toEqual([]);
  });

  it("applies response header rules and keeps multiple Set-Cookie", async () => {
    const u = await upstream("resp", (_req, res) => {
      res.setHeader("set-cookie", ["a=1", "b=2"]);
      res.setHeader("server", "secret-server");
      res.setHeader("cache-control", "no-cache");
      res.end("ok");
    });
    await serve(u, {
      responseHeaders: [
        { op: "unset", name: "server", value: "" },
        { op: "set", name: "x-frame-options", value: "DENY" },
        { op: "append", name: "cache-control", value: "private" },
      ],
    });
    const reply = await send(port);
    expect(reply.headers.server).toBeUndefined();
    expect(reply.headers["x-frame-options"]).toBe("DENY");
    expect(reply.headers["cache-control"]).toBe("no-cache, private");
    expect(reply.headers["set-cookie"]).toEqual(["a=1", "b=2"]);
  });
});

describe("balancing", () => {
  it("round robin over ready members; endpoint-only updates do not recompile routes; pools reused", async () => {
    const a = await upstream("a");
    const b = await upstream("b");
    await proxy.applyRoutes(routeTable([vhost("example.com", [route("/", "Prefix", B)])]), endpointTable({ [B]: [member(a.port), member(b.port)] }));
    const compiled = proxy.routesCompiled;
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(json(await send(port)).member);
    expect(new Set(seen)).toEqual(new Set(["a", "b"]));
    for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toBe(seen[i - 1]);
    const c = await upstream("c");
    const poolBefore = proxy.registry.get(B)?.members.get(`127.0.0.1:${a.port}`)?.upstream;
    await proxy.applyEndpoints(endpointTable({ [B]: [member(a.port), member(c.port)] }));
    expect(proxy.routesCompiled).toBe(compiled);
    expect(proxy.registry.get(B)?.members.get(`127.0.0.1:${a.port}`)?.upstream).toBe(poolBefore);
    const after = new Set<string>();
    for (let i = 0; i < 6; i++) after.add(json(await send(port)).member);
    expect(after).toEqual(new Set(["a", "c"]));
    await proxy.registry.drained();
  });
});
