// The client-side listeners through real sockets: HTTP/1.1 and h2c (prior knowledge) on the plain
// port, HTTP/1.1 and h2 (ALPN) on the TLS port, all through the same request path to HTTP/1.1
// members: header mapping both ways, streaming bodies, X-Forwarded-Proto/-Port of the client side.
import { connect as h2connect, constants as h2constants, type ClientHttp2Session, type IncomingHttpHeaders as H2Headers } from "node:http2";
import { request as httpsRequest } from "node:https";
import { connect as tlsConnect } from "node:tls";
import { Agent, request as undiciRequest } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProxyServer } from "../../src/dataplane/index.js";
import { echo, endpointTable, json, member, route, routeTable, send, silentLogger, startUpstream, vhost, type Upstream } from "./helpers.js";

const B = "default/web:80";

let proxy: ProxyServer;
let plainPort: number;
let tlsPort: number;
let u: Upstream;
let streaming: Upstream;
let hop: Upstream;

interface H2Reply {
  readonly status: number;
  readonly headers: H2Headers;
  readonly body: Buffer;
}

function h2request(session: ClientHttp2Session, headers: Record<string, string | string[]>, body?: Buffer[] | Buffer): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let responseHeaders: H2Headers = {};
    stream.on("response", (h) => (responseHeaders = h));
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve({ status: Number(responseHeaders[":status"]), headers: responseHeaders, body: Buffer.concat(chunks) }));
    stream.on("error", reject);
    if (body !== undefined) {
      if (Array.isArray(body)) for (const part of body) stream.write(part);
      else stream.write(body);
      stream.end();
    }
  });
}

function openH2(url: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = h2connect(url, { rejectUnauthorized: false, servername: "example.com" });
    session.once("connect", () => resolve(session));
    session.once("error", reject);
  });
}

beforeAll(async () => {
  u = await startUpstream("u", echo);
  // Echoes the request body back in pieces, chunked (no content-length).
  streaming = await startUpstream("s", (req, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream", "x-request-te": String(req.headers["transfer-encoding"]), "x-request-length": String(req.headers["content-length"]) });
    req.on("data", (c: Buffer) => res.write(c));
    req.on("end", () => res.end());
  });
  // Answers with connection-specific fields and two cookies.
  hop = await startUpstream("h", (req, res) => {
    req.resume();
    req.on("end", () => {
      res.setHeader("set-cookie", ["a=1; Path=/", "b=2; Path=/"]);
      res.setHeader("keep-alive", "timeout=5");
      res.setHeader("connection", "keep-alive, x-private");
      res.setHeader("x-private", "hop");
      res.setHeader("upgrade", "h2c");
      res.end("ok");
    });
  });
  proxy = new ProxyServer({ logger: silentLogger });
  plainPort = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
  tlsPort = (await proxy.listenTls({ port: 0, host: "127.0.0.1" })).port;
  await proxy.applyRoutes(
    routeTable([vhost("example.com", [route("/stream", "Prefix", "default/stream:80"), route("/hop", "Prefix", "default/hop:80"), route("/", "Prefix", B)])]),
    endpointTable({ [B]: [member(u.port)], "default/stream:80": [member(streaming.port)], "default/hop:80": [member(hop.port)] }),
  );
}, 30_000);

afterAll(async () => {
  await proxy.close(1_000);
  await Promise.all([u.close(), streaming.close(), hop.close()]);
});

describe("plain port", () => {
  it("HTTP/1.1 still works, X-Forwarded-Proto http and the plain port", async () => {
    const reply = await send(plainPort, { path: "/x?y=1" });
    expect(reply.status).toBe(200);
    const seen = json(reply);
    expect(seen.url).toBe("/x?y=1");
    expect(seen.headers["x-forwarded-proto"]).toBe("http");
    expect(seen.headers["x-forwarded-port"]).toBe(String(plainPort));
  });

  it("h2c with prior knowledge: routed by :authority, no pseudo-header forwarded, Host = :authority", async () => {
    const session = await openH2(`http://127.0.0.1:${plainPort}`);
    try {
      const reply = await h2request(session, { ":method": "GET", ":path": "/a/b?c=d", ":authority": "example.com", "x-test": "1" });
      expect(reply.status).toBe(200);
      const seen = json({ status: reply.status, headers: {}, rawHeaders: [], body: reply.body });
      expect(seen.url).toBe("/a/b?c=d");
      expect(seen.headers.host).toBe("example.com");
      expect(seen.headers["x-test"]).toBe("1");
      expect(Object.keys(seen.headers).filter((k) => k.startsWith(":"))).toEqual([]);
      expect(seen.headers["x-forwarded-proto"]).toBe("http");
      expect(seen.headers["x-forwarded-port"]).toBe(String(plainPort));
      // Several requests on one session.
      const again = await Promise.all([1, 2, 3].map((i) => h2request(session, { ":method": "GET", ":path": `/n${i}`, ":authority": "example.com" })));
      expect(again.map((r) => r.status)).toEqual([200, 200, 200]);
    } finally {
      session.close();
    }
  });

  it("h2c: an unknown :authority gets 404 like HTTP/1.1", async () => {
    const session = await openH2(`http://127.0.0.1:${plainPort}`);
    try {
      const reply = await h2request(session, { ":method": "GET", ":path": "/", ":authority": "other.test" });
      expect(reply.status).toBe(404);
    } finally {
      session.close();
    }
  });

  it("a request split into tiny first packets ('P', 'OST ...') is still HTTP/1.1", async () => {
    const { connect } = await import("node:net");
    const socket = connect({ host: "127.0.0.1", port: plainPort });
    await new Promise((r) => socket.once("connect", r));
    socket.setNoDelay(true);
    const data: Buffer[] = [];
    socket.on("data", (c: Buffer) => data.push(c));
    socket.write("P");
    await new Promise((r) => setTimeout(r, 50));
    socket.write("OST /p HTTP/1.1\r\nhost: example.com\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi");
    await new Promise((r) => socket.once("close", r));
    const text = Buffer.concat(data).toString("latin1");
    expect(text.startsWith("HTTP/1.1 200")).toBe(true);
    expect(text).toContain('"bodyBytes":2');
  });
});

describe("TLS port", () => {
  it("HTTP/1.1 over TLS (ALPN http/1.1): X-Forwarded-Proto https and the TLS port", async () => {
    const reply = await new Promise<{ status: number; body: string; alpn: string | false | null }>((resolve, reject) => {
      const req = httpsRequest({ host: "127.0.0.1", port: tlsPort, path: "/t?q=1", servername: "example.com", headers: { host: "example.com" }, rejectUnauthorized: false, agent: false, ...({ ALPNProtocols: ["http/1.1"] } as object) }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), alpn: (res.socket as import("node:tls").TLSSocket).alpnProtocol }));
      });
      req.on("error", reject);
      req.end();
    });
    expect(reply.alpn).toBe("http/1.1");
    expect(reply.status).toBe(200);
    const seen = JSON.parse(reply.body) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe("/t?q=1");
    expect(seen.headers["x-forwarded-proto"]).toBe("https");
    expect(seen.headers["x-forwarded-port"]).toBe(String(tlsPort));
  });

  it("a client without ALPN gets HTTP/1.1", async () => {
    const socket = tlsConnect({ host: "127.0.0.1", port: tlsPort, servername: "example.com", rejectUnauthorized: false });
    await new Promise((r, j) => {
      socket.once("secureConnect", r);
      socket.once("error", j);
    });
    expect(socket.alpnProtocol).toBe(false);
    const data: Buffer[] = [];
    socket.on("data", (c: Buffer) => data.push(c));
    socket.write("GET /noalpn HTTP/1.1\r\nhost: example.com\r\nconnection: close\r\n\r\n");
    await new Promise((r) => socket.once("close", r));
    expect(Buffer.concat(data).toString("latin1").startsWith("HTTP/1.1 200")).toBe(true);
  });

  it("h2 via ALPN: routed, Host = :authority, X-Forwarded-Proto https", async () => {
    const session = await openH2(`https://127.0.0.1:${tlsPort}`);
    try {
      expect(session.alpnProtocol).toBe("h2");
      const reply = await h2request(session, { ":method": "GET", ":path": "/h2?x=1", ":authority": "example.com", cookie: ["a=1", "b=2"] });
      expect(reply.status).toBe(200);
      const seen = JSON.parse(reply.body.toString()) as { url: string; headers: Record<string, string> };
      expect(seen.url).toBe("/h2?x=1");
      expect(seen.headers.host).toBe("example.com");
      // RFC 9113 §8.2.3: cookie fields joined into one for HTTP/1.1.
      expect(seen.headers.cookie).toBe("a=1; b=2");
      expect(seen.headers["x-forwarded-proto"]).toBe("https");
      expect(seen.headers["x-forwarded-port"]).toBe(String(tlsPort));
      expect(reply.headers["x-member"]).toBe("u");
    } finally {
      session.close();
    }
  });

  it("h2: a streamed request body without content-length goes upstream chunked and streams back", async () => {
    const session = await openH2(`https://127.0.0.1:${tlsPort}`);
    try {
      const parts = [Buffer.alloc(100_000, 1), Buffer.alloc(300_000, 2), Buffer.alloc(700_000, 3)];
      const reply = await h2request(session, { ":method": "POST", ":path": "/stream", ":authority": "example.com" }, parts);
      expect(reply.status).toBe(200);
      expect(reply.headers["x-request-te"]).toBe("chunked");
      expect(reply.body.equals(Buffer.concat(parts))).toBe(true);
      // With a content-length it is forwarded as given.
      const body = Buffer.alloc(50_000, 9);
      const sized = await h2request(session, { ":method": "PUT", ":path": "/stream", ":authority": "example.com", "content-length": String(body.length) }, body);
      expect(sized.headers["x-request-length"]).toBe(String(body.length));
      expect(sized.headers["x-request-te"]).toBe("undefined");
      expect(sized.body.equals(body)).toBe(true);
    } finally {
      session.close();
    }
  });

  it("h2: a client that stops reading for a while still gets a 4 MiB streamed echo in full (flow control both ways)", async () => {
    const session = await openH2(`https://127.0.0.1:${tlsPort}`);
    try {
      const big = Buffer.alloc(4 << 20, 5);
      const stream = session.request({ ":method": "POST", ":path": "/stream", ":authority": "example.com" });
      stream.end(big);
      stream.pause();
      await new Promise((r) => setTimeout(r, 200));
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.resume();
      await new Promise((r) => stream.on("end", r));
      expect(Buffer.concat(chunks).equals(big)).toBe(true);
    } finally {
      session.close();
    }
  });

  it("h2 responses carry no connection-specific fields; several Set-Cookie survive", async () => {
    const session = await openH2(`https://127.0.0.1:${tlsPort}`);
    try {
      const reply = await h2request(session, { ":method": "GET", ":path": "/hop", ":authority": "example.com" });
      expect(reply.status).toBe(200);
      for (const name of ["connection", "keep-alive", "transfer-encoding", "upgrade", "x-private"]) expect(reply.headers[name]).toBeUndefined();
      expect(reply.headers["set-cookie"]).toEqual(["a=1; Path=/", "b=2; Path=/"]);
      expect(reply.body.toString()).toBe("ok");
    } finally {
      session.close();
    }
  });

  it("h2: a Host header that differs from :authority is 400 (RFC 9113 §8.3.1)", async () => {
    const session = await openH2(`https://127.0.0.1:${tlsPort}`);
    try {
      const reply = await h2request(session, { ":method": "GET", ":path": "/", ":authority": "example.com", host: "other.test" });
      expect(reply.status).toBe(400);
    } finally {
      session.close();
    }
  });

  it("h2: CONNECT gets 405", async () => {
    const session = await openH2(`https://127.0.0.1:${tlsPort}`);
    try {
      const reply = await h2request(session, { ":method": "CONNECT", ":authority": "example.com:443" });
      expect(reply.status).toBe(405);
    } finally {
      session.close();
    }
  });

  it("undici with allowH2 speaks h2 through the TLS port; without it, HTTP/1.1", async () => {
    for (const allowH2 of [true, false]) {
      const dispatcher = new Agent({ allowH2, connect: { rejectUnauthorized: false, servername: "example.com" } });
      try {
        const res = await undiciRequest(`https://127.0.0.1:${tlsPort}/undici`, { dispatcher, headers: { host: "example.com" } });
        const seen = (await res.body.json()) as { headers: Record<string, string> };
        expect(res.statusCode).toBe(200);
        expect(seen.headers["x-forwarded-proto"]).toBe("https");
        expect(seen.headers.host).toBe("example.com");
      } finally {
        await dispatcher.close();
      }
    }
  });

  it("h2 session stats: the request is counted like an HTTP/1.1 one", async () => {
    const before = proxy.workerStats.read().accesses;
    const session = await openH2(`https://127.0.0.1:${tlsPort}`);
    try {
      await h2request(session, { ":method": "GET", ":path": "/count", ":authority": "example.com" });
    } finally {
      session.close();
    }
    expect(proxy.workerStats.read().accesses).toBe(before + 1);
  });
});

describe("HTTP/2 settings", () => {
  it("advertises 100 concurrent streams and no server push", async () => {
    const session = await openH2(`https://127.0.0.1:${tlsPort}`);
    try {
      await new Promise<void>((r) => (session.remoteSettings.maxConcurrentStreams !== undefined && session.remoteSettings.maxConcurrentStreams !== h2constants.NGHTTP2_DEFAULT_WEIGHT ? r() : session.once("remoteSettings", () => r())));
      expect(session.remoteSettings.maxConcurrentStreams).toBe(100);
    } finally {
      session.close();
    }
  });
});
