// Request smuggling and framing: a table of malformed or hostile requests written on raw sockets,
// each with its expected status and whether the connection is closed afterwards (proved by a
// follow-up request on the same connection: answered when it stays open, never when it closes).
// Then upstream responses with bad framing (from a raw TCP fake member) must become 502.
import { createServer, type AddressInfo, type Server, type Socket, connect } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProxyServer } from "../../src/dataplane/index.js";
import { endpointTable, member, route, routeTable, send, silentLogger, startUpstream, vhost, type Upstream } from "./helpers.js";

const B = "default/web:80";
const A = "default/admin:80";

let proxy: ProxyServer;
let port: number;
let web: Upstream;
let admin: Upstream;
/** A listener standing for a foreign host: an open proxy would connect to it. */
let foreign: Server;
let foreignPort: number;
let foreignConnections = 0;

const PROBE = "GET /probe HTTP/1.1\r\nHost: example.com\r\n\r\n";

interface Outcome {
  /** Status of the first response ("" when none came). */
  readonly status: string;
  /** The connection was closed by the proxy after the first response (the probe got no answer). */
  readonly closed: boolean;
  readonly text: string;
}

/** Index just past the first complete response in `text`, or -1 (head plus a Content-Length or chunked body; neither: not complete until close). */
function firstResponseEnd(text: string): number {
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd === -1) return -1;
  const head = text.slice(0, headEnd + 2);
  if (/\r\ntransfer-encoding: *chunked\r\n/i.test(head)) {
    const last = text.indexOf("\r\n0\r\n\r\n", headEnd);
    return last === -1 ? -1 : last + 7;
  }
  const m = /\r\ncontent-length: *([0-9]+)\r\n/i.exec(head);
  if (m === null) return -1;
  const end = headEnd + 4 + Number(m[1]);
  return text.length >= end ? end : -1;
}

/**
 * Writes `data` on a fresh connection. Once the first response is complete, writes a valid probe
 * request: an answer to it means the connection stayed open; a close before it means closed.
 */
function exchange(data: string | Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.on("connect", () => s.write(data));
    let text = "";
    let probed = false;
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      s.destroy();
      resolve({ status: text.slice(9, 12), closed, text });
    };
    s.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      const end = firstResponseEnd(text);
      if (end === -1) return;
      if (!probed) {
        probed = true;
        if (!s.destroyed && s.writable) s.write(PROBE);
      }
      if (text.indexOf("HTTP/1.1 ", end) !== -1) finish(false);
    });
    s.on("error", () => finish(true));
    s.on("close", () => finish(true));
  });
}

beforeAll(async () => {
  proxy = new ProxyServer({ logger: silentLogger, maxHeaderSize: 8_192, keepAliveTimeoutMs: 60_000 });
  port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
  web = await startUpstream("web");
  admin = await startUpstream("admin");
  foreign = createServer((s: Socket) => {
    foreignConnections++;
    s.destroy();
  });
  await new Promise<void>((r) => foreign.listen(0, "127.0.0.1", () => r()));
  foreignPort = (foreign.address() as AddressInfo).port;
  await proxy.applyRoutes(
    routeTable([vhost("example.com", [route("/", "Prefix", B), route("/admin", "Prefix", A)])]),
    endpointTable({ [B]: [member(web.port)], [A]: [member(admin.port)] }),
  );
});

afterEach(() => {
  web.arrivals.length = 0;
  admin.arrivals.length = 0;
});

afterAll(async () => {
  await proxy.close(1_000);
  await web.close();
  await admin.close();
  await new Promise<void>((r) => foreign.close(() => r()));
});

const H = "Host: example.com\r\n";

interface Case {
  readonly name: string;
  readonly raw: () => string;
  readonly status: string;
  readonly closed: boolean;
  /** Requests the web and admin members may see (default none). */
  readonly webSees?: ReadonlyArray<string>;
}

const cases: ReadonlyArray<Case> = [
  { name: "Content-Length with Transfer-Encoding", raw: () => `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: "400", closed: true },
  { name: "Transfer-Encoding before Content-Length", raw: () => `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n`, status: "400", closed: true },
  { name: "duplicate differing Content-Length", raw: () => `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde`, status: "400", closed: true },
  { name: "duplicate equal Content-Length", raw: () => `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nabcde`, status: "400", closed: true },
  { name: "Content-Length as a list", raw: () => `POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nabcde`, status: "400", closed: true },
  { name: "Content-Length with junk after the digits", raw: () => `POST / HTTP/1.1\r\n${H}Content-Length: 5x\r\n\r\nabcde`, status: "400", closed: true },
  { name: "Content-Length with a sign", raw: () => `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nabcde`, status: "400", closed: true },
  { name: "negative Content-Length", raw: () => `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, status: "400", closed: true },
  { name: "Content-Length beyond 2^64", raw: () => `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999999\r\n\r\n`, status: "400", closed: true },
  { name: "Transfer-Encoding other than chunked (gzip)", raw: () => `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\nabc`, status: "400", closed: true },
  { name: "Transfer-Encoding gzip, chunked", raw: () => `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, status: "501", closed: true },
  { name: "Transfer-Encoding with a bogus token", raw: () => `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, status: "400", closed: true },
  { name: "Transfer-Encoding on HTTP/1.0", raw: () => `POST / HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, status: "400", closed: true },
  { name: "obs-fold (continuation line)", raw: () => `GET / HTTP/1.1\r\n${H}X-Folded: a\r\n b\r\n\r\n`, status: "400", closed: true },
  { name: "NUL in a header value", raw: () => `GET / HTTP/1.1\r\n${H}X-Bad: a\x00b\r\n\r\n`, status: "400", closed: true },
  { name: "CR alone in a header value", raw: () => `GET / HTTP/1.1\r\n${H}X-Bad: a\rb\r\n\r\n`, status: "400", closed: true },
  { name: "space in a header name", raw: () => `GET / HTTP/1.1\r\n${H}X Bad: a\r\n\r\n`, status: "400", closed: true },
  { name: "whitespace before the colon", raw: () => `GET / HTTP/1.1\r\n${H}X-Bad : a\r\n\r\n`, status: "400", closed: true },
  { name: "non-ASCII byte in a header name", raw: () => `GET / HTTP/1.1\r\n${H}X-B\xe4d: a\r\n\r\n`, status: "400", closed: true },
  { name: "header line without a colon", raw: () => `GET / HTTP/1.1\r\n${H}NoColonHere\r\n\r\n`, status: "400", closed: true },
  { name: "bare LF line endings", raw: () => `GET / HTTP/1.1\nHost: example.com\n\n`, status: "400", closed: true },
  { name: "bare LF after one header", raw: () => `GET / HTTP/1.1\r\nHost: example.com\nX-A: b\r\n\r\n`, status: "400", closed: true },
  { name: "non-hex chunk size", raw: () => `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`, status: "400", closed: true },
  { name: "chunk size overflowing 64 bits", raw: () => `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nhello\r\n0\r\n\r\n`, status: "400", closed: true },
  { name: "chunk data longer than its size", raw: () => `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n`, status: "400", closed: true },
  { name: "huge chunk extension", raw: () => `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;ext=${"x".repeat(20_000)}\r\nhello\r\n0\r\n\r\n`, status: "413", closed: true },
  { name: "request-line garbage", raw: () => "GARBAGE\r\n\r\n", status: "400", closed: true },
  { name: "lower-case method", raw: () => `get / HTTP/1.1\r\n${H}\r\n`, status: "400", closed: true },
  { name: "space inside the request target", raw: () => `GET /a b HTTP/1.1\r\n${H}\r\n`, status: "400", closed: true },
  { name: "unknown HTTP version", raw: () => `GET / HTTP/9.9\r\n${H}\r\n`, status: "400", closed: true },
  { name: "asterisk-form outside OPTIONS", raw: () => `GET * HTTP/1.1\r\n${H}\r\n`, status: "400", closed: true },
  { name: "absolute-form to a foreign host is never forwarded", raw: () => `GET http://127.0.0.1:${foreignPort}/steal HTTP/1.1\r\n${H}\r\n`, status: "404", closed: false },
  { name: "absolute-form to a foreign host with userinfo naming ours", raw: () => `GET http://example.com@127.0.0.1:${foreignPort}/ HTTP/1.1\r\n${H}\r\n`, status: "400", closed: true },
  { name: "CONNECT (its socket is drained and closed, never left half-open)", raw: () => `CONNECT 127.0.0.1:${foreignPort} HTTP/1.1\r\nHost: 127.0.0.1:${foreignPort}\r\n\r\n`, status: "405", closed: true },
  { name: "HTTP/1.0 without Host (no catch-all vhost)", raw: () => "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", status: "404", closed: false },
  { name: "HTTP/1.1 without Host", raw: () => "GET / HTTP/1.1\r\n\r\n", status: "400", closed: true },
  { name: "two Host headers", raw: () => `GET / HTTP/1.1\r\nHost: other.test\r\n${H}\r\n`, status: "400", closed: true },
  { name: "Host with userinfo", raw: () => "GET / HTTP/1.1\r\nHost: evil.test@example.com\r\n\r\n", status: "400", closed: true },
  { name: "Host with a path", raw: () => "GET / HTTP/1.1\r\nHost: example.com/admin\r\n\r\n", status: "400", closed: true },
  { name: "headers over --max-header-size", raw: () => `GET / HTTP/1.1\r\n${H}X-Big: ${"a".repeat(10_000)}\r\n\r\n`, status: "431", closed: true },
  { name: "many small headers over --max-header-size", raw: () => `GET / HTTP/1.1\r\n${H}${"X-A: b\r\n".repeat(2_000)}\r\n`, status: "431", closed: true },
  {
    name: "smuggled request behind CL+TE never reaches a member",
    raw: () => `POST / HTTP/1.1\r\n${H}Content-Length: 48\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: example.com\r\n\r\n`,
    status: "400",
    closed: true,
  },
  {
    name: "a request inside a Content-Length body stays body (pipelined smuggling attempt)",
    raw: () => `GET / HTTP/1.1\r\n${H}Content-Length: 41\r\n\r\nGET /admin HTTP/1.1\r\nHost: example.com\r\n\r\n`,
    status: "200",
    closed: false,
    webSees: ["/", "/probe"],
  },
  { name: "Expect other than 100-continue", raw: () => `GET / HTTP/1.1\r\n${H}Expect: teapot\r\n\r\n`, status: "417", closed: false },
];

describe("hostile and malformed requests (raw sockets)", () => {
  it("the table has at least 20 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases)("$name -> $status, closed: $closed", async ({ raw, status, closed, webSees }) => {
    const before = foreignConnections;
    const outcome = await exchange(Buffer.from(raw(), "latin1"));
    expect(outcome.status, outcome.text.slice(0, 200)).toBe(status);
    expect(outcome.closed).toBe(closed);
    expect(web.arrivals.map((a) => a.url)).toEqual(webSees ?? (closed ? [] : ["/probe"]));
    expect(admin.arrivals).toHaveLength(0);
    expect(foreignConnections).toBe(before);
  });

  it("the proxy is healthy after the whole table: a normal request succeeds", async () => {
    const reply = await send(port, { path: "/after" });
    expect(reply.status).toBe(200);
    expect(web.arrivals.map((a) => a.url)).toEqual(["/after"]);
  });
});

/** A raw TCP member that answers every request on a connection with `resp` and then closes. */
async function rawMember(resp: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((s: Socket) => {
    s.on("error", () => {});
    s.once("data", () => s.end(resp));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("upstream responses with bad framing become 502", () => {
  it.each([
    { name: "Content-Length with Transfer-Encoding", resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" },
    { name: "duplicate differing Content-Length", resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk" },
    { name: "invalid Content-Length", resp: "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok" },
    { name: "negative Content-Length", resp: "HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok" },
    { name: "bad chunk size before any body", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n" },
    { name: "obs-fold in a response header", resp: "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok" },
    { name: "bare LF status line", resp: "HTTP/1.1 200 OK\nContent-Length: 2\n\nok" },
  ])("$name", async ({ resp }) => {
    const m = await rawMember(resp);
    try {
      const R = "default/raw:80";
      await proxy.applyRoutes(routeTable([vhost("raw.test", [route("/", "Prefix", R, { timeouts: { connectMs: 2_000, readMs: 5_000 } })])]), endpointTable({ [R]: [member(m.port)] }));
      const reply = await send(port, { headers: { host: "raw.test" } });
      expect(reply.status).toBe(502);
      expect(reply.body.toString()).toBe("Bad Gateway\n");
    } finally {
      await m.close();
      await proxy.applyRoutes(
        routeTable([vhost("example.com", [route("/", "Prefix", B), route("/admin", "Prefix", A)])]),
        endpointTable({ [B]: [member(web.port)], [A]: [member(admin.port)] }),
      );
    }
  });

  it("a bad chunk after the response started ends the client response abruptly (never a clean end)", async () => {
    const m = await rawMember("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n");
    try {
      const R = "default/raw:80";
      await proxy.applyRoutes(routeTable([vhost("raw.test", [route("/", "Prefix", R)])]), endpointTable({ [R]: [member(m.port)] }));
      await expect(send(port, { headers: { host: "raw.test" } })).rejects.toThrow();
    } finally {
      await m.close();
    }
  });
});

export { H };
