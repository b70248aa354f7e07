// AJP13 packets: the forward-request encoder, data packets, the SEND_HEADERS decoder, and the
// client's handling of malformed, truncated and out-of-step packets from a raw TCP peer.
import type { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { AjpPool } from "../../../src/dataplane/ajp/index.js";
import { PacketReader, decodeSendHeaders, encodeBodyChunk, encodeForwardRequest, type AjpRequestInfo } from "../../../src/dataplane/ajp/protocol.js";
import { ajpRequest } from "./collect.js";
import { ab, bodyChunk, endResponse, int, peer, sendHeaders, str, type Peer } from "./peer.js";

/** Parses a forward-request packet back (the spec's field order), for assertions. */
function parseForward(packet: Buffer): { method: number; protocol: string; uri: string; remoteAddr: string; remoteHost: string; serverName: string; serverPort: number; ssl: boolean; headers: Array<[string | number, string]>; attributes: Array<[number, string | number | [string, string]]> } {
  expect(packet.subarray(0, 2)).toEqual(Buffer.from([0x12, 0x34]));
  expect(packet.readUInt16BE(2)).toBe(packet.length - 4);
  let p = 4;
  const byte = (): number => packet[p++] as number;
  const int = (): number => {
    const v = packet.readUInt16BE(p);
    p += 2;
    return v;
  };
  const str = (): string => {
    const n = int();
    const s = packet.toString("latin1", p, p + n);
    expect(packet[p + n]).toBe(0);
    p += n + 1;
    return s;
  };
  expect(byte()).toBe(2);
  const method = byte();
  const protocol = str();
  const uri = str();
  const remoteAddr = str();
  const remoteHost = str();
  const serverName = str();
  const serverPort = int();
  const ssl = byte() === 1;
  const count = int();
  const headers: Array<[string | number, string]> = [];
  for (let i = 0; i < count; i++) {
    const peek = packet.readUInt16BE(p);
    if (peek >= 0xa000) {
      p += 2;
      headers.push([peek, str()]);
    } else headers.push([str(), str()]);
  }
  const attributes: Array<[number, string | number | [string, string]]> = [];
  for (;;) {
    const code = byte();
    if (code === 0xff) break;
    if (code === 0x0b) attributes.push([code, int()]);
    else if (code === 0x0a) attributes.push([code, [str(), str()]]);
    else attributes.push([code, str()]);
  }
  expect(p).toBe(packet.length);
  return { method, protocol, uri, remoteAddr, remoteHost, serverName, serverPort, ssl, headers, attributes };
}

const info: AjpRequestInfo = { remoteAddr: "203.0.113.9", remotePort: 51000, localAddr: "10.0.0.2", serverName: "shop.example", serverPort: 443, tls: null, route: null };

describe("forward request encoder", () => {
  it.each([
    { name: "GET has method code 2", method: "GET", code: 2 },
    { name: "POST has method code 4", method: "POST", code: 4 },
    { name: "OPTIONS has method code 1", method: "OPTIONS", code: 1 },
    { name: "PROPFIND has method code 8", method: "PROPFIND", code: 8 },
    { name: "MKACTIVITY has method code 27", method: "MKACTIVITY", code: 27 },
  ])("$name", ({ method, code }) => {
    const f = parseForward(encodeForwardRequest(method, "/", [], info, null, 8192) as Buffer);
    expect(f.method).toBe(code);
    expect(f.attributes.find((a) => a[0] === 0x0d)).toBeUndefined();
  });

  it("a method without a code is 0xFF plus the stored_method attribute", () => {
    const f = parseForward(encodeForwardRequest("PATCH", "/", [], info, null, 8192) as Buffer);
    expect(f.method).toBe(0xff);
    expect(f.attributes).toContainEqual([0x0d, "PATCH"]);
  });

  it.each([
    { name: "accept", code: 0xa001 },
    { name: "accept-charset", code: 0xa002 },
    { name: "accept-encoding", code: 0xa003 },
    { name: "accept-language", code: 0xa004 },
    { name: "authorization", code: 0xa005 },
    { name: "connection", code: 0xa006 },
    { name: "content-type", code: 0xa007 },
    { name: "content-length", code: 0xa008 },
    { name: "cookie", code: 0xa009 },
    { name: "cookie2", code: 0xa00a },
    { name: "host", code: 0xa00b },
    { name: "pragma", code: 0xa00c },
    { name: "referer", code: 0xa00d },
    { name: "user-agent", code: 0xa00e },
  ])("request header $name is coded 0x$code", ({ name, code }) => {
    const f = parseForward(encodeForwardRequest("GET", "/", [name, "v"], info, null, 8192) as Buffer);
    expect(f.headers).toEqual([[code, "v"]]);
  });

  it("other headers go by name, in order, repeated ones each", () => {
    const f = parseForward(encodeForwardRequest("GET", "/", ["x-a", "1", "x-a", "2", "x-forwarded-for", "203.0.113.9"], info, null, 8192) as Buffer);
    expect(f.headers).toEqual([["x-a", "1"], ["x-a", "2"], ["x-forwarded-for", "203.0.113.9"]]);
  });

  it("URI without query; the query goes as the query_string attribute", () => {
    const f = parseForward(encodeForwardRequest("GET", "/a%20b/c?x=1&y=%2F", [], info, null, 8192) as Buffer);
    expect(f.uri).toBe("/a%20b/c");
    expect(f.attributes).toContainEqual([0x05, "x=1&y=%2F"]);
  });

  it("client facts: remote address (as host too), server name and port, remote port and local address as request attributes", () => {
    const f = parseForward(encodeForwardRequest("GET", "/", [], info, null, 8192) as Buffer);
    expect([f.protocol, f.remoteAddr, f.remoteHost, f.serverName, f.serverPort, f.ssl]).toEqual(["HTTP/1.1", "203.0.113.9", "203.0.113.9", "shop.example", 443, false]);
    expect(f.attributes).toContainEqual([0x0a, ["AJP_REMOTE_PORT", "51000"]]);
    expect(f.attributes).toContainEqual([0x0a, ["AJP_LOCAL_ADDR", "10.0.0.2"]]);
  });

  it("TLS: is_ssl and the ssl_* attributes (cert, cipher, session, key size) plus AJP_SSL_PROTOCOL", () => {
    const tls = { cipher: "TLS_AES_256_GCM_SHA384", session: "ab01", keySize: 256, cert: "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n", protocol: "TLSv1.3" };
    const f = parseForward(encodeForwardRequest("GET", "/", [], { ...info, tls }, null, 8192) as Buffer);
    expect(f.ssl).toBe(true);
    expect(f.attributes).toContainEqual([0x07, tls.cert]);
    expect(f.attributes).toContainEqual([0x08, "TLS_AES_256_GCM_SHA384"]);
    expect(f.attributes).toContainEqual([0x09, "ab01"]);
    expect(f.attributes).toContainEqual([0x0b, 256]);
    expect(f.attributes).toContainEqual([0x0a, ["AJP_SSL_PROTOCOL", "TLSv1.3"]]);
  });

  it("no TLS attributes without TLS", () => {
    const f = parseForward(encodeForwardRequest("GET", "/", [], info, null, 8192) as Buffer);
    expect(f.attributes.map((a) => a[0]).filter((c) => c >= 0x07 && c <= 0x0b && c !== 0x0a)).toEqual([]);
  });

  it("route and secret attributes", () => {
    const f = parseForward(encodeForwardRequest("GET", "/", [], { ...info, route: "tomcat-1" }, "s3cret", 8192) as Buffer);
    expect(f.attributes).toContainEqual([0x06, "tomcat-1"]);
    expect(f.attributes).toContainEqual([0x0c, "s3cret"]);
  });

  it("client headers named like attributes stay headers (no attribute can be injected)", () => {
    const headers = ["ajp_remote_port", "1", "secret", "x", "jakarta.servlet.request.x509certificate", "y", "ajp_ssl_protocol", "z", "query_string", "q"];
    const f = parseForward(encodeForwardRequest("GET", "/", headers, info, null, 8192) as Buffer);
    expect(f.headers.map((h) => h[0])).toEqual(["ajp_remote_port", "secret", "jakarta.servlet.request.x509certificate", "ajp_ssl_protocol", "query_string"]);
    expect(f.attributes).toEqual([
      [0x0a, ["AJP_REMOTE_PORT", "51000"]],
      [0x0a, ["AJP_LOCAL_ADDR", "10.0.0.2"]],
    ]);
  });

  it("a head larger than the packet size does not encode; a bigger packet size takes it", () => {
    const headers = ["cookie", "c".repeat(9000)];
    expect(encodeForwardRequest("GET", "/", headers, info, null, 8192)).toBeNull();
    expect(encodeForwardRequest("GET", "/", headers, info, null, 16384)).not.toBeNull();
  });
});

describe("data packets", () => {
  it("a body chunk: 0x1234, length, chunk length, bytes", () => {
    expect(encodeBodyChunk(Buffer.from("abc"))).toEqual(Buffer.from([0x12, 0x34, 0x00, 0x05, 0x00, 0x03, 0x61, 0x62, 0x63]));
  });
  it("the empty chunk ends the body", () => {
    expect(encodeBodyChunk(Buffer.alloc(0))).toEqual(Buffer.from([0x12, 0x34, 0x00, 0x02, 0x00, 0x00]));
  });
});


describe("SEND_HEADERS decoder", () => {
  it.each([
    { name: "content-type", code: 0xa001 },
    { name: "content-language", code: 0xa002 },
    { name: "content-length", code: 0xa003 },
    { name: "date", code: 0xa004 },
    { name: "last-modified", code: 0xa005 },
    { name: "location", code: 0xa006 },
    { name: "set-cookie", code: 0xa007 },
    { name: "set-cookie2", code: 0xa008 },
    { name: "servlet-engine", code: 0xa009 },
    { name: "status", code: 0xa00a },
    { name: "www-authenticate", code: 0xa00b },
  ])("response header code $code is $name", ({ name, code }) => {
    const packet = sendHeaders(200, [[code, "v"]]);
    const head = decodeSendHeaders(new PacketReader(packet, 5, packet.length));
    expect(head.headers[name]).toBe("v");
  });

  it("named headers are lower-cased; repeated ones become arrays", () => {
    const packet = sendHeaders(302, [["X-Thing", "a"], [0xa007, "c=1"], [0xa007, "d=2"]]);
    const head = decodeSendHeaders(new PacketReader(packet, 5, packet.length));
    expect(head.status).toBe(302);
    expect(head.headers["x-thing"]).toBe("a");
    expect(head.headers["set-cookie"]).toEqual(["c=1", "d=2"]);
  });

  it.each([
    { name: "an unknown header code", packet: sendHeaders(200, [[0xa0ff, "v"]]) },
    { name: "a value with CR LF (response splitting)", packet: sendHeaders(200, [["x-a", "1\r\nx-b: 2"]]) },
    { name: "a name that is not a token", packet: sendHeaders(200, [["x a", "1"]]) },
    { name: "status 0", packet: sendHeaders(0, []) },
    { name: "a header count beyond the packet", packet: ab(Buffer.concat([Buffer.from([4]), int(200), str("OK"), int(3)])) },
    { name: "a string without its NUL", packet: ab(Buffer.concat([Buffer.from([4]), int(200), int(2), Buffer.from("OKX"), int(0)])) },
  ])("rejects $name", ({ packet }) => {
    expect(() => decodeSendHeaders(new PacketReader(packet, 5, packet.length))).toThrow(/./);
  });
});

// ---- the client against a scripted raw peer ----


let peers: Peer[] = [];
let pools: AjpPool[] = [];
afterEach(async () => {
  for (const p of pools) await p.destroy();
  for (const p of peers) await p.close();
  peers = [];
  pools = [];
});

async function setup(script: (n: number, socket: Socket) => Buffer | null): Promise<{ peer: Peer; pool: AjpPool }> {
  const p = await peer(script);
  peers.push(p);
  const pool = new AjpPool("127.0.0.1", p.port, 2_000, { keepAliveTimeoutMs: 5_000, packetSize: 8192, secret: null, pingMs: 0 });
  pools.push(pool);
  return { peer: p, pool };
}

const ok = Buffer.concat([sendHeaders(200, [[0xa001, "text/plain"]]), bodyChunk("hello"), endResponse(true)]);

describe("AjpPool with a scripted peer", () => {
  it("a well-formed response; the connection is reused when END_RESPONSE says so", async () => {
    const { peer: p, pool } = await setup(() => ok);
    const a = await ajpRequest(pool, { path: "/" });
    const b = await ajpRequest(pool, { path: "/" });
    expect([a.status, a.body.toString(), b.body.toString()]).toEqual([200, "hello", "hello"]);
    expect(p.accepted.length).toBe(1);
  });

  it("END_RESPONSE with reuse 0: the next request opens a new connection", async () => {
    const { peer: p, pool } = await setup(() => Buffer.concat([sendHeaders(200, []), endResponse(false)]));
    await ajpRequest(pool, { path: "/" });
    await ajpRequest(pool, { path: "/" });
    expect(p.accepted.length).toBe(2);
  });

  it("a response split into single bytes is reassembled", async () => {
    const { pool } = await setup((_n, socket) => {
      let i = 0;
      const tick = (): void => {
        if (i < ok.length) socket.write(ok.subarray(i, ++i), tick);
      };
      tick();
      return null;
    });
    const r = await ajpRequest(pool, { path: "/" });
    expect(r.body.toString()).toBe("hello");
  });

  it.each([
    { name: "a packet without the AB prefix", reply: Buffer.from("HTTP/1.1 200 OK\r\n\r\n") },
    { name: "a packet longer than the packet size", reply: Buffer.from([0x41, 0x42, 0xff, 0xf0, 4]) },
    { name: "an unknown packet type", reply: ab(Buffer.from([0x63])) },
    { name: "a body chunk before the headers", reply: bodyChunk("x") },
    { name: "END_RESPONSE before the headers", reply: endResponse(true) },
    { name: "a truncated SEND_HEADERS packet", reply: ab(Buffer.concat([Buffer.from([4]), int(200)])) },
    { name: "a body chunk claiming more bytes than its packet", reply: Buffer.concat([sendHeaders(200, []), ab(Buffer.concat([Buffer.from([3]), int(500), Buffer.from("x")]))]) },
    { name: "a second SEND_HEADERS", reply: Buffer.concat([sendHeaders(200, []), sendHeaders(200, [])]) },
    { name: "a CPong in the middle of a request", reply: ab(Buffer.from([9])) },
  ])("$name: error, and the connection is dropped", async ({ reply }) => {
    const { peer: p, pool } = await setup(() => reply);
    const h = ajpRequest(pool, { path: "/" });
    await expect(h).rejects.toMatchObject({ code: "AJP_ERR_PROTOCOL" });
    expect(pool.connections).toBe(0);
    expect(p.accepted.length).toBe(1);
  });

  it("bytes after END_RESPONSE: the connection is not reused", async () => {
    const { peer: p, pool } = await setup(() => Buffer.concat([ok, bodyChunk("stray")]));
    await ajpRequest(pool, { path: "/" });
    await ajpRequest(pool, { path: "/" });
    expect(p.accepted.length).toBe(2);
  });

  it("the member closes mid-response (truncated): a socket error, never a success", async () => {
    const { pool } = await setup((_n, socket) => {
      socket.write(Buffer.concat([sendHeaders(200, []), bodyChunk("part")]), () => socket.destroy());
      return null;
    });
    await expect(ajpRequest(pool, { path: "/" })).rejects.toMatchObject({ code: "UND_ERR_SOCKET" });
    expect(pool.connections).toBe(0);
  });

  it("no headers within the read timeout: UND_ERR_HEADERS_TIMEOUT and the connection is dropped", async () => {
    const { pool } = await setup(() => null);
    await expect(ajpRequest(pool, { path: "/", headersTimeout: 200 })).rejects.toMatchObject({ code: "UND_ERR_HEADERS_TIMEOUT" });
    expect(pool.connections).toBe(0);
  });

  it("a refused connection fails with the socket's code and onRequestStart never called", async () => {
    const { peer: p, pool } = await setup(() => ok);
    await p.close();
    peers = [];
    await expect(ajpRequest(pool, { path: "/" })).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  it("an idle connection the member closed is replaced transparently for the next request", async () => {
    const { peer: p, pool } = await setup(() => ok);
    await ajpRequest(pool, { path: "/" });
    p.accepted[0]?.end();
    await new Promise((r) => setTimeout(r, 50));
    const r = await ajpRequest(pool, { path: "/" });
    expect(r.body.toString()).toBe("hello");
    expect(p.accepted.length).toBe(2);
  });

  it("a request head too large for one packet gets 431 without reaching the member", async () => {
    const { peer: p, pool } = await setup(() => ok);
    const r = await ajpRequest(pool, { path: "/", headers: ["cookie", "c".repeat(9000)] });
    expect(r.status).toBe(431);
    expect(r.started).toBe(false);
    expect(p.requests()).toBe(0);
    const after = await ajpRequest(pool, { path: "/" });
    expect([after.status, p.requests()]).toEqual([200, 1]);
  });

  it("a closed pool refuses with UND_ERR_CLOSED", async () => {
    const { pool } = await setup(() => ok);
    await pool.close();
    await expect(ajpRequest(pool, { path: "/" })).rejects.toMatchObject({ code: "UND_ERR_CLOSED" });
  });
});
