// --proxy-protocol: the parser's unit table (v1 TCP4/TCP6/UNKNOWN, v2 IPv4/IPv6/LOCAL/UNSPEC,
// malformed, oversized, partial), then through real sockets on the plain and the TLS listener: the
// header's source is the client address for X-Forwarded-For, allow-cidrs and the access log;
// LOCAL/UNKNOWN keep the socket's; garbage, oversized and slow headers close the connection without
// a response; h2c with prior knowledge still works after a header.
import { connect as h2connect } from "node:http2";
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ProxyServer } from "../../src/dataplane/index.js";
import { MAX_V2_LENGTH, parseProxyHeader } from "../../src/dataplane/proxy-protocol.js";
import { defaultServerSettings, type RouteOptions, type RouteTable } from "../../src/model/index.js";
import { echo, endpointTable, member, route, routeTable, silentLogger, startUpstream, vhost, type Upstream } from "./helpers.js";

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A v2 header: command (0 LOCAL, 1 PROXY), family/transport byte, address block. */
function v2(command: number, famProto: number, block: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | command;
  head[1] = famProto;
  head.writeUInt16BE(block.length, 2);
  return Buffer.concat([SIG, head, block]);
}

function v2ipv4(src: string, dst = "10.0.0.1", tlv = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(12);
  src.split(".").forEach((o, i) => (b[i] = Number(o)));
  dst.split(".").forEach((o, i) => (b[4 + i] = Number(o)));
  b.writeUInt16BE(40000, 8);
  b.writeUInt16BE(443, 10);
  return v2(1, 0x11, Buffer.concat([b, tlv]));
}

function v2ipv6(groups: number[]): Buffer {
  const b = Buffer.alloc(36);
  groups.forEach((g, i) => b.writeUInt16BE(g, 2 * i));
  b.writeUInt16BE(1, 16 + 14);
  b.writeUInt16BE(40000, 32);
  b.writeUInt16BE(443, 34);
  return v2(1, 0x21, b);
}

const L = (s: string): Buffer => Buffer.from(s, "latin1");

describe("parseProxyHeader", () => {
  it.each([
    { name: "v1 TCP4", buf: L("PROXY TCP4 203.0.113.7 10.0.0.1 40000 443\r\nGET"), want: { kind: "done", length: 43, source: "203.0.113.7" } },
    { name: "v1 TCP6", buf: L("PROXY TCP6 2001:db8::7 2001:db8::1 40000 443\r\n"), want: { kind: "done", length: 46, source: "2001:db8::7" } },
    { name: "v1 UNKNOWN keeps the socket's address", buf: L("PROXY UNKNOWN\r\n"), want: { kind: "done", length: 15, source: null } },
    { name: "v1 UNKNOWN with addresses", buf: L("PROXY UNKNOWN ff::1 ff::2 1 2\r\n"), want: { kind: "done", length: 31, source: null } },
    { name: "v1 partial", buf: L("PROXY TCP4 203.0.1"), want: { kind: "need" } },
    { name: "v1 partial prefix", buf: L("PRO"), want: { kind: "need" } },
    { name: "v2 IPv4", buf: v2ipv4("198.51.100.9"), want: { kind: "done", length: 28, source: "198.51.100.9" } },
    { name: "v2 IPv4 with TLVs", buf: v2ipv4("198.51.100.9", "10.0.0.1", Buffer.from([0x04, 0x00, 0x02, 0x61, 0x62])), want: { kind: "done", length: 33, source: "198.51.100.9" } },
    { name: "v2 IPv6", buf: v2ipv6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 7]), want: { kind: "done", length: 52, source: "2001:db8:0:0:0:0:0:7" } },
    { name: "v2 LOCAL keeps the socket's address", buf: v2(0, 0x00, Buffer.alloc(0)), want: { kind: "done", length: 16, source: null } },
    { name: "v2 UNSPEC family keeps the socket's address", buf: v2(1, 0x00, Buffer.alloc(0)), want: { kind: "done", length: 16, source: null } },
    { name: "v2 partial signature", buf: SIG.subarray(0, 5), want: { kind: "need" } },
    { name: "v2 partial block", buf: v2ipv4("198.51.100.9").subarray(0, 20), want: { kind: "need" } },
  ])("$name", ({ buf, want }) => {
    expect(parseProxyHeader(buf)).toEqual(want);
  });

  it.each([
    { name: "plain HTTP, no header", buf: L("GET / HTTP/1.1\r\n") },
    { name: "v1 lower-case", buf: L("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n") },
    { name: "v1 unknown protocol", buf: L("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n") },
    { name: "v1 address not of the protocol", buf: L("PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n") },
    { name: "v1 bad address", buf: L("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n") },
    { name: "v1 port over 65535", buf: L("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n") },
    { name: "v1 port with leading zero", buf: L("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n") },
    { name: "v1 missing field", buf: L("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n") },
    { name: "v1 extra space", buf: L("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n") },
    { name: "v1 bare LF", buf: L("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n") },
    { name: "v1 longer than 107 bytes without LF", buf: L(`PROXY TCP6 ${"a".repeat(110)}`) },
    { name: "v1 line longer than 107 bytes", buf: L(`PROXY UNKNOWN ${"a".repeat(100)}\r\n`) },
    { name: "v2 bad signature", buf: Buffer.concat([L("\r\n\r\n\0\r\nQUIX\n"), Buffer.alloc(4)]) },
    { name: "v2 version 1", buf: Buffer.concat([SIG, Buffer.from([0x11, 0x11, 0, 0])]) },
    { name: "v2 command 2", buf: Buffer.concat([SIG, Buffer.from([0x22, 0x11, 0, 12]), Buffer.alloc(12)]) },
    { name: "v2 IPv4 block too short", buf: v2(1, 0x11, Buffer.alloc(8)) },
    { name: "v2 IPv6 block too short", buf: v2(1, 0x21, Buffer.alloc(12)) },
    { name: "v2 unknown family", buf: v2(1, 0x41, Buffer.alloc(12)) },
    { name: "v2 unknown transport", buf: v2(1, 0x13, Buffer.alloc(12)) },
    { name: `v2 length over ${MAX_V2_LENGTH}`, buf: Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0xff, 0xff])]) },
  ])("refuses $name", ({ buf }) => {
    expect(parseProxyHeader(buf).kind).toBe("error");
  });
});

const B = "default/web:80";
const proxies: ProxyServer[] = [];
const upstreams: Upstream[] = [];

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close(500)));
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

async function setup(options: Partial<RouteOptions> = {}, trustedProxies: string[] = []): Promise<{ proxy: ProxyServer; plain: number; tls: number; lines: string[] }> {
  const up = await startUpstream("web", echo);
  upstreams.push(up);
  const lines: string[] = [];
  const sink = { write: (s: string): boolean => (lines.push(s), true) };
  const proxy = new ProxyServer({ logger: silentLogger, proxyProtocol: true, trustedProxies, accessLogger: pino({ level: "info" }, sink) });
  proxies.push(proxy);
  const plain = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
  const tls = (await proxy.listenTls({ port: 0, host: "127.0.0.1" })).port;
  const table: RouteTable = { ...routeTable([vhost("example.com", [route("/", "Prefix", B, options)])]), server: { ...defaultServerSettings, clientHeaderTimeoutMs: 1500 } };
  await proxy.applyRoutes(table, endpointTable({ [B]: [member(up.port)] }));
  return { proxy, plain, tls, lines };
}

const GET = "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n";

/** Writes `parts` on a fresh plain connection; resolves with everything read until the proxy closes it. */
function rawPlain(port: number, parts: Array<string | Buffer>, gapMs = 0): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    let text = "";
    s.on("connect", () => {
      let i = 0;
      const next = (): void => {
        if (i < parts.length && !s.destroyed) s.write(parts[i++] as string | Buffer);
        if (i < parts.length) setTimeout(next, gapMs);
      };
      next();
    });
    s.on("data", (d: Buffer) => (text += d.toString("latin1")));
    s.on("error", () => resolve(text));
    s.on("close", () => resolve(text));
  });
}

/** A PROXY header on the raw socket, then TLS over the same socket; resolves with the HTTP/1.1 answer. */
function overTls(port: number, header: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const raw: Socket = connect({ host: "127.0.0.1", port }, () => {
      raw.write(header);
      const t = tlsConnect({ socket: raw, servername: "example.com", rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] }, () => t.write(GET));
      let text = "";
      t.on("data", (d: Buffer) => (text += d.toString("latin1")));
      t.on("error", reject);
      t.on("close", () => resolve(text));
    });
    raw.on("error", reject);
  });
}

function body(text: string): { headers: Record<string, string | string[] | undefined> } {
  // The echo member's JSON body (chunked or not): from its first "{" to its last "}".
  const rest = text.slice(text.indexOf("\r\n\r\n") + 4);
  return JSON.parse(rest.slice(rest.indexOf("{"), rest.lastIndexOf("}") + 1)) as { headers: Record<string, string | string[] | undefined> };
}

describe("--proxy-protocol through real sockets", () => {
  it("plain: v1 TCP4 and TCP6, v2 IPv4 and IPv6 sources become the client address (X-Forwarded-For, access log)", async () => {
    const { plain, lines } = await setup();
    const cases: Array<[Buffer | string, string]> = [
      ["PROXY TCP4 203.0.113.7 10.0.0.1 40000 80\r\n", "203.0.113.7"],
      ["PROXY TCP6 2001:db8::7 2001:db8::1 40000 80\r\n", "2001:db8::7"],
      [v2ipv4("198.51.100.9"), "198.51.100.9"],
      [v2ipv6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 9]), "2001:db8:0:0:0:0:0:9"],
    ];
    for (const [header, source] of cases) {
      const text = await rawPlain(plain, [Buffer.concat([Buffer.from(header), L(GET)])]);
      expect(text).toMatch(/^HTTP\/1\.1 200 /);
      expect(body(text).headers["x-forwarded-for"]).toBe(source);
    }
    // The access log's `remote` is the proxied source.
    await expect.poll(() => lines.map((l) => JSON.parse(l) as { msg: string; remote: string }).filter((l) => l.msg === "request").map((l) => l.remote)).toEqual(cases.map((c) => c[1]));
  });

  it("plain: v1 UNKNOWN and v2 LOCAL keep the socket's address", async () => {
    const { plain } = await setup();
    for (const header of [L("PROXY UNKNOWN\r\n"), v2(0, 0, Buffer.alloc(0))]) {
      const text = await rawPlain(plain, [header, GET], 30);
      expect(text).toMatch(/^HTTP\/1\.1 200 /);
      expect(body(text).headers["x-forwarded-for"]).toBe("127.0.0.1");
    }
  });

  it("plain: the header split over several packets still works", async () => {
    const { plain } = await setup();
    const text = await rawPlain(plain, ["PROXY TCP4 203.0", ".113.7 10.0.0.1 400", "00 80\r", "\n", GET], 20);
    expect(body(text).headers["x-forwarded-for"]).toBe("203.0.113.7");
  });

  it.each([
    { name: "no header (plain HTTP)", parts: [GET] },
    { name: "garbage", parts: ["HELLO WORLD\r\n\r\n"] },
    { name: "a v1 line over 107 bytes", parts: [`PROXY TCP4 ${"1".repeat(120)}\r\n${GET}`] },
    { name: "an oversized v2 length", parts: [Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0xff, 0xff]), Buffer.alloc(64)])] },
    { name: "a bad v1 address", parts: [`PROXY TCP4 999.1.1.1 10.0.0.1 1 2\r\n${GET}`] },
  ])("plain: $name -> closed without a response", async ({ parts }) => {
    const { plain } = await setup();
    expect(await rawPlain(plain, parts)).toBe("");
  });

  it("plain: a header that never completes is closed after the client header timeout, without a response", async () => {
    const { plain } = await setup();
    const started = performance.now();
    expect(await rawPlain(plain, ["PROXY TCP4 203.0.113.7"])).toBe("");
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it("allow-cidrs judges the proxied address, not the load balancer's", async () => {
    const { plain, tls } = await setup({ allowCidrs: ["203.0.113.0/24"] });
    expect(await rawPlain(plain, [`PROXY TCP4 203.0.113.7 10.0.0.1 1 80\r\n${GET}`])).toMatch(/^HTTP\/1\.1 200 /);
    expect(await rawPlain(plain, [`PROXY TCP4 198.51.100.1 10.0.0.1 1 80\r\n${GET}`])).toMatch(/^HTTP\/1\.1 403 /);
    // LOCAL: the socket's address (127.0.0.1) is not allowed.
    expect(await rawPlain(plain, [v2(0, 0, Buffer.alloc(0)), GET], 30)).toMatch(/^HTTP\/1\.1 403 /);
    expect(await overTls(tls, v2ipv4("203.0.113.9"))).toMatch(/^HTTP\/1\.1 200 /);
    expect(await overTls(tls, v2ipv4("198.51.100.1"))).toMatch(/^HTTP\/1\.1 403 /);
  });

  it("--trusted-proxies applies on top: a trusted proxied source's X-Forwarded-For names the client", async () => {
    const { plain } = await setup({ denyCidrs: ["192.0.2.5/32"] }, ["203.0.113.0/24"]);
    const req = "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 192.0.2.5\r\nConnection: close\r\n\r\n";
    expect(await rawPlain(plain, [`PROXY TCP4 203.0.113.7 10.0.0.1 1 80\r\n${req}`])).toMatch(/^HTTP\/1\.1 403 /);
    expect(await rawPlain(plain, [`PROXY TCP4 198.51.100.1 10.0.0.1 1 80\r\n${req}`])).toMatch(/^HTTP\/1\.1 200 /);
  });

  it("TLS: the header is read before the handshake; v1 and v2 sources reach X-Forwarded-For", async () => {
    const { tls } = await setup();
    expect(body(await overTls(tls, "PROXY TCP4 203.0.113.7 10.0.0.1 40000 443\r\n")).headers["x-forwarded-for"]).toBe("203.0.113.7");
    expect(body(await overTls(tls, v2ipv6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 7]))).headers["x-forwarded-for"]).toBe("2001:db8:0:0:0:0:0:7");
    expect(body(await overTls(tls, v2(0, 0, Buffer.alloc(0)))).headers["x-forwarded-for"]).toBe("127.0.0.1");
  });

  it("TLS: a handshake without a header is closed without a response", async () => {
    const { tls } = await setup();
    const result = await new Promise<string>((resolve) => {
      const t = tlsConnect({ host: "127.0.0.1", port: tls, servername: "example.com", rejectUnauthorized: false }, () => resolve("handshake"));
      t.on("error", () => resolve("closed"));
      t.on("close", () => resolve("closed"));
    });
    expect(result).toBe("closed");
  });

  it("h2c with prior knowledge still works after a PROXY header on the plain port (the source in X-Forwarded-For)", async () => {
    const { plain } = await setup();
    const session = h2connect(`http://127.0.0.1:${plain}`, {
      createConnection: () => {
        const s = connect({ host: "127.0.0.1", port: plain });
        s.write("PROXY TCP4 203.0.113.7 10.0.0.1 40000 80\r\n");
        return s;
      },
    });
    try {
      const text = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ":path": "/", ":authority": "example.com" });
        let data = "";
        req.on("data", (d: Buffer) => (data += d.toString()));
        req.on("end", () => resolve(data));
        req.on("error", reject);
        req.end();
      });
      expect((JSON.parse(text) as { headers: Record<string, string> }).headers["x-forwarded-for"]).toBe("203.0.113.7");
    } finally {
      session.close();
    }
  });
});
