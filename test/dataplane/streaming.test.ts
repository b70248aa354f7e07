// Streaming through real sockets: Server-Sent Events and chunked responses reach the client while
// the member still holds the response open (HTTP/1.1 and h2c clients, with and without
// compression), `Expect: 100-continue` (100 before the body, the body reaches the member; an early
// refusal is answered without reading the body), trailers relayed to HTTP/1.1 (chunked) and HTTP/2
// clients.
import { createHash } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { connect as h2connect, type ClientHttp2Session, type IncomingHttpHeaders as H2Headers } from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProxyServer } from "../../src/dataplane/index.js";
import { defaultServerSettings, type AuthConfig } from "../../src/model/index.js";
import { endpointTable, member, route, routeTable, silentLogger, startUpstream, vhost, type Upstream } from "./helpers.js";

const HOST = "stream.example.com";

/** A gate a member waits on; `open()` lets it go on. */
class Gate {
  #resolve: () => void = () => {};
  readonly promise = new Promise<void>((resolve) => (this.#resolve = resolve));
  open(): void {
    this.#resolve();
  }
}

/** What the held-open members are doing now: the test opens `first`/`rest`, reads `ended`. */
interface Held {
  first: Gate;
  rest: Gate;
  ended: boolean;
}
let held: Held = { first: new Gate(), rest: new Gate(), ended: false };
function hold(): Held {
  held = { first: new Gate(), rest: new Gate(), ended: false };
  return held;
}

let sse: Upstream;
let chunked: Upstream;
let bodyEcho: Upstream;
let trailers: Upstream;
let proxy: ProxyServer;
let port: number;

/** SHA-1 htpasswd entry ({SHA}) for amy:secret. */
const auth: AuthConfig = { basic: { realm: "Staff", htpasswd: [{ user: "amy", hash: `{SHA}${createHash("sha1").update("secret").digest("base64")}` }] }, external: null };

beforeAll(async () => {
  // SSE: the head at once (flushed), the first event when `first` opens, the last when `rest` opens.
  sse = await startUpstream("sse", (req, res) => {
    const h = held;
    req.resume();
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.flushHeaders();
    void h.first.promise.then(() => {
      res.write("id: 1\ndata: first\n\n");
      return h.rest.promise;
    }).then(() => {
      res.end("id: 2\ndata: last\n\n");
      h.ended = true;
    });
  });
  // Chunked (no content-length): one chunk at once, the rest when `rest` opens.
  chunked = await startUpstream("chunked", (req, res) => {
    const h = held;
    req.resume();
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.write("part-1;");
    void h.rest.promise.then(() => {
      res.end("part-2;");
      h.ended = true;
    });
  });
  bodyEcho = await startUpstream("body", (req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/plain", "x-expect-seen": String(req.headers.expect) });
      res.end(`got:${Buffer.concat(parts).toString()}`);
    });
  });
  trailers = await startUpstream("trailers", (req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/plain", trailer: "x-checksum" });
      res.write("payload");
      res.addTrailers({ "x-checksum": "c0ffee" });
      res.end();
    });
  });
  proxy = new ProxyServer({ logger: silentLogger });
  port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
  const table = routeTable([
    vhost(HOST, [
      route("/sse", "Prefix", "default/sse:80"),
      route("/gz/sse", "Prefix", "default/sse:80", { compression: true }),
      route("/chunked", "Prefix", "default/chunked:80"),
      route("/gz/chunked", "Prefix", "default/chunked:80", { compression: true }),
      route("/body", "Prefix", "default/body:80"),
      route("/private", "Prefix", "default/body:80", { auth }),
      route("/trailers", "Prefix", "default/trailers:80"),
    ]),
  ]);
  // Every text type compressible, no minimum size: an event stream would qualify but for its type.
  await proxy.applyRoutes(
    { ...table, server: { ...defaultServerSettings, compressionTypes: ["application/octet-stream", "text/*"], compressionMinSize: 0 } },
    endpointTable({ "default/sse:80": [member(sse.port)], "default/chunked:80": [member(chunked.port)], "default/body:80": [member(bodyEcho.port)], "default/trailers:80": [member(trailers.port)] }),
  );
}, 30_000);

afterAll(async () => {
  await proxy.close(1_000);
  await Promise.all([sse, chunked, bodyEcho, trailers].map((u) => u.close()));
});

/** An HTTP/1.1 request on its own connection; resolves with the response once its head arrived. */
function get1(path: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, headers: { host: HOST, ...headers }, agent: false }, resolve);
    req.on("error", reject);
    req.end();
  });
}

/** Resolves with the next chunk of a readable. */
function nextChunk(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    stream.once("data", (c: Buffer) => resolve(c));
    stream.once("error", reject);
  });
}

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on("data", (c: Buffer) => parts.push(c));
    stream.on("end", () => resolve(Buffer.concat(parts).toString()));
    stream.on("error", reject);
  });
}

function openH2(): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`http://127.0.0.1:${port}`);
    session.once("connect", () => resolve(session));
    session.once("error", reject);
  });
}

/** An h2 GET; resolves with the response head and the stream. */
function get2(session: ClientHttp2Session, path: string, headers: Record<string, string> = {}): Promise<{ headers: H2Headers; stream: import("node:http2").ClientHttp2Stream }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": path, ":authority": HOST, ...headers });
    stream.once("response", (h) => resolve({ headers: h, stream }));
    stream.once("error", reject);
  });
}

describe("Server-Sent Events are not buffered", () => {
  it("HTTP/1.1: the head arrives before any event, the first event while the member holds the stream open", async () => {
    const h = hold();
    const res = await get1("/sse/events", { accept: "text/event-stream" });
    // The member sent only its head so far: the client has it (EventSource's "open").
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/event-stream");
    const first = nextChunk(res);
    h.first.open();
    expect((await first).toString()).toContain("data: first");
    expect(h.ended).toBe(false);
    const rest = readAll(res);
    h.rest.open();
    expect(await rest).toContain("data: last");
  });

  it("h2c: the head arrives before any event, the first event while the member holds the stream open", async () => {
    const session = await openH2();
    try {
      const h = hold();
      const { headers, stream } = await get2(session, "/sse/events");
      expect(headers[":status"]).toBe(200);
      expect(headers["content-type"]).toBe("text/event-stream");
      const first = nextChunk(stream);
      h.first.open();
      expect((await first).toString()).toContain("data: first");
      expect(h.ended).toBe(false);
      const rest = readAll(stream);
      h.rest.open();
      expect(await rest).toContain("data: last");
    } finally {
      session.close();
    }
  });

  it("compression on (text/* listed): an event stream is never compressed, and still not buffered", async () => {
    const h = hold();
    const res = await get1("/gz/sse/events", { "accept-encoding": "gzip, br, zstd" });
    expect(res.headers["content-encoding"]).toBeUndefined();
    const first = nextChunk(res);
    h.first.open();
    expect((await first).toString()).toContain("data: first");
    expect(h.ended).toBe(false);
    const rest = readAll(res);
    h.rest.open();
    expect(await rest).toContain("data: last");
  });
});

describe("chunked responses stream", () => {
  it("HTTP/1.1: the first chunk reaches the client before the member ends (chunked to the client)", async () => {
    const h = hold();
    const res = await get1("/chunked/x");
    expect(res.headers["transfer-encoding"]).toBe("chunked");
    expect((await nextChunk(res)).toString()).toBe("part-1;");
    expect(h.ended).toBe(false);
    const rest = readAll(res);
    h.rest.open();
    expect(await rest).toBe("part-2;");
  });

  it("h2c: the first chunk reaches the client before the member ends", async () => {
    const session = await openH2();
    try {
      const h = hold();
      const { stream } = await get2(session, "/chunked/x");
      expect((await nextChunk(stream)).toString()).toBe("part-1;");
      expect(h.ended).toBe(false);
      const rest = readAll(stream);
      h.rest.open();
      expect(await rest).toBe("part-2;");
    } finally {
      session.close();
    }
  });

  it("compressed (gzip, flushed per chunk): the first chunk decodes before the member ends", async () => {
    const { createGunzip } = await import("node:zlib");
    const h = hold();
    const res = await get1("/gz/chunked/x", { "accept-encoding": "gzip" });
    expect(res.headers["content-encoding"]).toBe("gzip");
    const gunzip = createGunzip();
    res.pipe(gunzip);
    expect((await nextChunk(gunzip)).toString()).toBe("part-1;");
    expect(h.ended).toBe(false);
    const rest = readAll(gunzip);
    h.rest.open();
    expect(await rest).toBe("part-2;");
  });
});

/** A raw HTTP/1.1 client: reads what the proxy sends, in order. */
class RawClient {
  readonly socket: Socket;
  #buffer = "";
  #waiters: Array<() => void> = [];
  ended = false;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (s: string) => {
      this.#buffer += s;
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on("end", () => {
      this.ended = true;
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static open(): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = netConnect(port, "127.0.0.1", () => resolve(new RawClient(s)));
      s.once("error", reject);
    });
  }

  get text(): string {
    return this.#buffer;
  }

  /** Waits until what was received contains `marker` (or the connection ended). */
  async until(marker: string): Promise<string> {
    while (!this.#buffer.includes(marker) && !this.ended) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return this.#buffer;
  }

  async untilEnd(): Promise<string> {
    while (!this.ended) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return this.#buffer;
  }
}

describe("Expect: 100-continue", () => {
  it("HTTP/1.1: 100 Continue comes before the body is sent; the body then reaches the member", async () => {
    const c = await RawClient.open();
    c.socket.write(`POST /body/upload HTTP/1.1\r\nHost: ${HOST}\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
    const interim = await c.until("\r\n\r\n");
    expect(interim.startsWith("HTTP/1.1 100 Continue\r\n")).toBe(true);
    c.socket.write("hello");
    const all = await c.untilEnd();
    const final = all.slice(all.indexOf("\r\n\r\n") + 4);
    expect(final.startsWith("HTTP/1.1 200 ")).toBe(true);
    expect(final).toContain("got:hello");
    // The member never saw the client's Expect (the proxy answered it).
    expect(final.toLowerCase()).toContain("x-expect-seen: undefined");
  });

  it("HTTP/1.1: a request refused before forwarding (401) gets no 100, its body is never read, the connection closes", async () => {
    const before = bodyEcho.arrivals.length;
    const c = await RawClient.open();
    c.socket.write(`POST /private/upload HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n`);
    const all = await c.untilEnd();
    expect(all.startsWith("HTTP/1.1 401 ")).toBe(true);
    expect(all).not.toContain("100 Continue");
    expect(all.toLowerCase()).toContain("www-authenticate: basic");
    expect(bodyEcho.arrivals.length).toBe(before);
  });

  it("HTTP/1.1: no route (404) gets no 100 either, and the connection closes", async () => {
    const c = await RawClient.open();
    c.socket.write(`PUT /nowhere HTTP/1.1\r\nHost: other.example.com\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n`);
    const all = await c.untilEnd();
    expect(all.startsWith("HTTP/1.1 404 ")).toBe(true);
    expect(all).not.toContain("100 Continue");
  });

  it("HTTP/1.1: with credentials the 100 comes and the body reaches the member", async () => {
    const c = await RawClient.open();
    const basic = Buffer.from("amy:secret").toString("base64");
    c.socket.write(`POST /private/upload HTTP/1.1\r\nHost: ${HOST}\r\nAuthorization: Basic ${basic}\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
    expect((await c.until("\r\n\r\n")).startsWith("HTTP/1.1 100 Continue\r\n")).toBe(true);
    c.socket.write("abc");
    expect(await c.untilEnd()).toContain("got:abc");
  });

  it("h2c: the 100 (a HEADERS frame) comes before the body; the body then reaches the member", async () => {
    const session = await openH2();
    try {
      const stream = session.request({ ":method": "POST", ":path": "/body/upload", ":authority": HOST, expect: "100-continue", "content-length": "4" }, { endStream: false });
      await new Promise<void>((resolve, reject) => {
        stream.once("continue", resolve);
        stream.once("error", reject);
      });
      const head = new Promise<H2Headers>((resolve) => stream.once("response", resolve));
      stream.end("ping");
      const body = await readAll(stream);
      expect((await head)[":status"]).toBe(200);
      expect(body).toBe("got:ping");
    } finally {
      session.close();
    }
  });

  it("h2c: refused early (401) without a 100", async () => {
    const session = await openH2();
    try {
      const before = bodyEcho.arrivals.length;
      const stream = session.request({ ":method": "POST", ":path": "/private/upload", ":authority": HOST, expect: "100-continue", "content-length": "4" }, { endStream: false });
      let continued = false;
      stream.once("continue", () => (continued = true));
      const head = await new Promise<H2Headers>((resolve, reject) => {
        stream.once("response", resolve);
        stream.once("error", reject);
      });
      expect(head[":status"]).toBe(401);
      expect(continued).toBe(false);
      expect(bodyEcho.arrivals.length).toBe(before);
      stream.close();
    } finally {
      session.close();
    }
  });
});

describe("trailers", () => {
  it("HTTP/1.1 client (TE: trailers): chunked response with the member's trailer", async () => {
    const res = await get1("/trailers/x", { te: "trailers" });
    expect(res.headers["transfer-encoding"]).toBe("chunked");
    expect(res.headers.trailer).toBe("x-checksum");
    expect(await readAll(res)).toBe("payload");
    expect(res.trailers).toEqual({ "x-checksum": "c0ffee" });
  });

  it("HTTP/2 client: the member's trailer arrives as a trailing HEADERS frame", async () => {
    const session = await openH2();
    try {
      const { headers, stream } = await get2(session, "/trailers/x", { te: "trailers" });
      expect(headers[":status"]).toBe(200);
      const got = new Promise<H2Headers>((resolve) => stream.once("trailers", resolve));
      expect(await readAll(stream)).toBe("payload");
      expect((await got)["x-checksum"]).toBe("c0ffee");
    } finally {
      session.close();
    }
  });
});
