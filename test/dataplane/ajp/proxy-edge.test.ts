// backend-protocol AJP through a real ProxyServer, the cases proxy-tomcat.test.ts does not cover:
// HTTPS clients on the proxy's own TLS listener (HTTP/1.1 and h2) reach Tomcat as secure requests
// with the ssl_* attributes; the secret required by Tomcat when none is configured; ajp-packet-size
// 65536 against a Tomcat with packetSize="65536" (and 431 at 8192); ajp-ping against Tomcat and
// against a member that never answers CPong (fail over, no forward request sent to it); HTTP-method
// health checks over AJP; and, from a scripted AJP peer (Tomcat never sends such bytes: the peer is
// written from the AJP/1.3 spec, test/dataplane/ajp/peer.ts), malformed and truncated packets -> 502
// with the connection dropped, never reused.
import { randomBytes } from "node:crypto";
import { connect as connectH2, constants as h2 } from "node:http2";
import { request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProxyServer } from "../../../src/dataplane/index.js";
import { cipherKeyBits } from "../../../src/dataplane/ajp/index.js";
import type { AjpBackendConfig, BalancerSettings, Member } from "../../../src/model/index.js";
import { startTomcat, type Tomcat } from "../../support/tomcat.js";
import { waitFor } from "../../support/wait.js";
import { endpointTable, member, route, routeTable, send, silentLogger, vhost } from "../helpers.js";
import { lines } from "./collect.js";
import { ab, bodyChunk, endResponse, int, peer, sendHeaders, str, type Peer } from "./peer.js";

const SECRET = "edge-s3cret";
const ajp = (overrides: Partial<AjpBackendConfig> = {}): AjpBackendConfig => ({ secret: SECRET, packetSize: 65536, pingMs: 0, failClosed: false, ...overrides });

/** What each scripted peer answers to a forward request. */
const scripts: Readonly<Record<string, (n: number, socket: Socket) => Buffer | null>> = {
  // "AB" replaced by "XY": not an AJP container packet.
  magic: () => Buffer.concat([Buffer.from("XY"), sendHeaders(200, []).subarray(2)]),
  // SEND_HEADERS says 3 headers, the packet holds none.
  count: () => ab(Buffer.concat([Buffer.from([4]), int(200), str("OK"), int(3)])),
  // A packet type a container never sends to the proxy (a forward request).
  type: () => ab(Buffer.from([2, 0])),
  // A length beyond the packet size (65535 > 8192).
  length: () => Buffer.from([0x41, 0x42, 0xff, 0xff, 4]),
  // Half a SEND_HEADERS packet, then the connection ends.
  truncated: (_n, socket) => {
    const whole = sendHeaders(200, [["x-a", "1"]]);
    socket.end(whole.subarray(0, 9));
    return null;
  },
  // Response splitting attempt in a header value.
  crlf: () => Buffer.concat([sendHeaders(200, [["x-a", "1\r\nx-injected: 2"]]), bodyChunk("x"), endResponse(true)]),
  // A well-formed response followed by stray bytes: answered, but that connection is not reused.
  stray: () => Buffer.concat([sendHeaders(200, [[0xa001, "text/plain"]]), bodyChunk("hello"), endResponse(true), bodyChunk("stray")]),
};

let tomcat: Tomcat;
let proxy: ProxyServer;
let port: number;
let tlsPort: number;
const peers = new Map<string, Peer>();
let silent: Peer;

const tc = (): Member[] => [member(tomcat.port, true, "127.0.0.1", { route: tomcat.jvmRoute })];
const ids = { big: "default/big:8009", small: "default/small:8009", none: "default/none:8009", ping: "default/ping:8009", pingDead: "default/ping-dead:8009", hc: "default/hc:8009", hcWrong: "default/hc-wrong:8009" };
const peerId = (name: string): string => `default/peer-${name}:8009`;

beforeAll(async () => {
  tomcat = await startTomcat({ jvmRoute: "edge-0", secret: SECRET, packetSize: 65536 });
  for (const name of Object.keys(scripts)) peers.set(name, await peer(scripts[name] as (n: number, socket: Socket) => Buffer | null));
  silent = await peer(() => null);
  // Client heads up to 64 KiB (--max-header-size), so the AJP packet size is the limit under test.
  proxy = new ProxyServer({ logger: silentLogger, maxHeaderSize: 65_536 });
  port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
  tlsPort = (await proxy.listenTls({ port: 0, host: "127.0.0.1" })).port;
  const hc = { uri: "/echo.jsp", method: "GET" as const, intervalMs: 500, passes: 1, fails: 1, expect: [[200, 299]] as Array<[number, number]> };
  const settings: Record<string, Partial<BalancerSettings>> = {
    [ids.big]: { protocol: "ajp", ajp: ajp() },
    [ids.small]: { protocol: "ajp", ajp: ajp({ packetSize: 8192 }) },
    [ids.none]: { protocol: "ajp", ajp: ajp({ secret: null }) },
    [ids.ping]: { protocol: "ajp", ajp: ajp({ pingMs: 2_000 }) },
    [ids.pingDead]: { protocol: "ajp", ajp: ajp({ pingMs: 300 }) },
    [ids.hc]: { protocol: "ajp", ajp: ajp(), healthCheck: hc },
    [ids.hcWrong]: { protocol: "ajp", ajp: ajp({ secret: "wrong" }), healthCheck: hc },
  };
  const endpoints: Record<string, Member[]> = {
    [ids.big]: tc(),
    [ids.small]: tc(),
    [ids.none]: tc(),
    [ids.ping]: tc(),
    [ids.pingDead]: [member(silent.port, true, "127.0.0.1", { route: "silent" }), ...tc()],
    [ids.hc]: tc(),
    [ids.hcWrong]: tc(),
  };
  const hosts = Object.values(ids).map((id) => vhost(`${id.slice("default/".length, -":8009".length)}.example`, [route("/", "Prefix", id)]));
  for (const name of peers.keys()) {
    settings[peerId(name)] = { protocol: "ajp", ajp: ajp({ secret: null, packetSize: 8192 }) };
    endpoints[peerId(name)] = [member(peers.get(name)?.port ?? 0)];
    hosts.push(vhost(`peer-${name}.example`, [route("/", "Prefix", peerId(name))]));
  }
  await proxy.applyRoutes(routeTable(hosts, null, settings), endpointTable(endpoints));
}, 180_000);

afterAll(async () => {
  await proxy?.close(100);
  for (const p of peers.values()) await p.close();
  await silent?.close();
  await tomcat?.stop();
});

function httpsGet(path: string, host: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port: tlsPort, path, servername: host, headers: { host }, rejectUnauthorized: false, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

function h2Get(path: string, host: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const session = connectH2(`https://127.0.0.1:${tlsPort}`, { servername: host, rejectUnauthorized: false });
    session.on("error", reject);
    const stream = session.request({ [h2.HTTP2_HEADER_PATH]: path, [h2.HTTP2_HEADER_AUTHORITY]: host });
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on("response", (headers) => (status = Number(headers[h2.HTTP2_HEADER_STATUS])));
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      session.close();
      resolve({ status, body: Buffer.concat(chunks) });
    });
    stream.on("error", reject);
    stream.end();
  });
}

function expectSecure(l: Map<string, string[]>): void {
  expect(l.get("secure")).toEqual(["true"]);
  expect(l.get("scheme")).toEqual(["https"]);
  // Tomcat takes the server port from the Host header; without a port, https's 443.
  expect(l.get("serverPort")).toEqual(["443"]);
  const cipher = l.get("attr.jakarta.servlet.request.cipher_suite")?.[0] ?? "null";
  expect(cipher).not.toBe("null");
  expect(l.get("attr.jakarta.servlet.request.key_size")).toEqual([String(cipherKeyBits(cipher) ?? 0)]);
  expect(l.get("a.org.apache.tomcat.util.net.secure_protocol_version")?.[0]).toMatch(/^TLSv1\.[23]$/);
  // No client certificate was presented (the listener does not ask for one).
  expect(l.get("attr.jakarta.servlet.request.X509Certificate")).toEqual(["null"]);
  expect(l.get("h.x-forwarded-proto")).toEqual(["https"]);
}

describe("AJP: HTTPS clients on the proxy's TLS listener", () => {
  it("HTTP/1.1 over TLS: Tomcat sees a secure https request with cipher, key size and protocol", async () => {
    const r = await httpsGet("/echo.jsp?tls=1", "big.example");
    expect(r.status).toBe(200);
    const l = lines(r.body);
    expectSecure(l);
    expect(l.get("query")).toEqual(["tls=1"]);
  }, 60_000);

  it("HTTP/2 over TLS (ALPN h2): the same facts", async () => {
    const r = await h2Get("/echo.jsp?h2=1", "big.example");
    expect(r.status).toBe(200);
    expectSecure(lines(r.body));
  }, 60_000);

  it("the same route on the plain listener is not secure", async () => {
    const l = lines((await send(port, { path: "/echo.jsp", headers: { host: "big.example" } })).body);
    expect(l.get("secure")).toEqual(["false"]);
    expect(l.get("scheme")).toEqual(["http"]);
  }, 60_000);
});

describe("AJP: secret, packet size, ping, health checks against Tomcat", () => {
  it("Tomcat requires the secret: a balancer without ajp-secret is refused (403)", async () => {
    expect((await send(port, { path: "/echo.jsp", headers: { host: "none.example" } })).status).toBe(403);
    expect((await send(port, { path: "/echo.jsp", headers: { host: "big.example" } })).status).toBe(200);
  }, 60_000);

  it("ajp-packet-size 65536: a 40 KB request head and 64 KiB body packets pass; at 8192 the same head is 431", async () => {
    const big = "v".repeat(40_000);
    const r = await send(port, { path: "/echo.jsp", headers: { host: "big.example", "x-big": big } });
    expect(r.status).toBe(200);
    expect(lines(r.body).get("h.x-big")).toEqual([big]);
    const body = randomBytes(300_000);
    const post = lines((await send(port, { method: "POST", path: "/echo.jsp", headers: { host: "big.example" }, body })).body);
    expect(post.get("bodyLength")).toEqual([String(body.length)]);
    const bigResponse = await send(port, { path: "/big.jsp?n=1000000", headers: { host: "big.example" } });
    expect(bigResponse.body.length).toBe(1_000_000);
    expect(bigResponse.body.subarray(0, 10).toString()).toBe("0123456789");
    expect((await send(port, { path: "/echo.jsp", headers: { host: "small.example", "x-big": big } })).status).toBe(431);
  }, 60_000);

  it("ajp-ping: CPing before each request; Tomcat answers and the request goes through", async () => {
    for (let i = 0; i < 3; i++) expect((await send(port, { path: "/echo.jsp", headers: { host: "ping.example" } })).status).toBe(200);
  }, 60_000);

  it("ajp-ping: a member that never answers CPong gets no forward request; requests fail over to Tomcat", async () => {
    for (let i = 0; i < 4; i++) {
      const r = await send(port, { method: "POST", path: "/echo.jsp", headers: { host: "ping-dead.example" }, body: "payload" });
      expect(r.status).toBe(200);
      expect(lines(r.body).get("jvmRoute")).toEqual([tomcat.jvmRoute]);
    }
    expect(silent.pings()).toBeGreaterThan(0);
    expect(silent.requests()).toBe(0);
  }, 60_000);

  it("an HTTP-method health check is an AJP request: Tomcat passes; with a wrong secret (403) it fails", async () => {
    const result = (id: string) => [...(proxy.healthChecker?.results() ?? [])].find((r) => r.balancer === id && r.checks > 0);
    await waitFor(() => (result(ids.hc)?.healthy === true ? true : undefined), { timeoutMs: 20_000, what: "the AJP GET check passes" });
    expect(result(ids.hc)?.lastStatus).toBe(200);
    await waitFor(() => (result(ids.hcWrong)?.healthy === false ? true : undefined), { timeoutMs: 20_000, what: "the wrong-secret check fails" });
    expect(result(ids.hcWrong)?.lastStatus).toBe(403);
  }, 60_000);
});

describe("AJP: malformed and truncated packets from a member (scripted peer)", () => {
  it.each(["magic", "count", "type", "length", "truncated", "crlf"])("%s: 502, and the next request opens a new connection", async (name) => {
    const p = peers.get(name) as Peer;
    const host = `peer-${name}.example`;
    const first = await send(port, { path: "/x", headers: { host } });
    expect(first.status).toBe(502);
    expect(first.headers["x-injected"]).toBeUndefined();
    const accepted = p.accepted.length;
    expect(accepted).toBeGreaterThan(0);
    await waitFor(() => (p.accepted.every((s) => s.destroyed || s.readableEnded) ? true : undefined), { timeoutMs: 10_000, what: "the proxy dropped the connection" });
    expect((await send(port, { path: "/x", headers: { host } })).status).toBe(502);
    expect(p.accepted.length).toBe(accepted + 1);
  }, 60_000);

  it("stray bytes after END_RESPONSE: the response is served, the connection is not reused", async () => {
    const p = peers.get("stray") as Peer;
    const r1 = await send(port, { path: "/x", headers: { host: "peer-stray.example" } });
    expect(r1.status).toBe(200);
    expect(r1.body.toString()).toBe("hello");
    const r2 = await send(port, { path: "/x", headers: { host: "peer-stray.example" } });
    expect(r2.body.toString()).toBe("hello");
    expect(p.accepted.length).toBe(2);
  }, 60_000);
});
