// backend-protocol through real sockets: HTTPS members (SNI, encrypt-without-verify, verification
// with a CA, fail closed, pools replaced when the CA changes), HTTP/2 members over cleartext
// (H2C prior knowledge) and TLS (GRPCS, ALPN h2), trailers relayed to HTTP/1.1 clients.
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { createSecureServer, createServer as createH2Server, type Http2SecureServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import { Agent, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { ProxyServer } from "../../src/dataplane/index.js";
import type { BackendTlsConfig, BalancerSettings } from "../../src/model/index.js";
import { createTestPki, type TestPki } from "../support/backend-certs.js";
import { endpointTable, member, route, routeTable, send, silentLogger, vhost } from "./helpers.js";

const B = "default/secure:443";
const NAME = "secure.default.svc";

let pki: TestPki;
let proxy: ProxyServer;
let port: number;

interface Seen {
  sni: string | false | null;
  httpVersion: string;
  host: string | undefined;
  authority: string | undefined;
  te: string | undefined;
}

/** Answers JSON describing what it saw: SNI, HTTP version, Host/:authority, te. */
function describeRequest(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  const socket = req.socket as TLSSocket;
  const te = req.headers.te;
  const seen: Seen = { sni: socket.encrypted === true ? socket.servername : false, httpVersion: req.httpVersion, host: req.headers.host, authority: req.headers[":authority"] as string | undefined, te: typeof te === "string" ? te : undefined };
  req.resume();
  req.on("end", () => {
    (res as ServerResponse).writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(seen));
  });
}

let connections = 0;
let https: HttpsServer;
let h2c: Http2Server;
let h2tls: Http2SecureServer;

function listen(server: HttpsServer | Http2Server | Http2SecureServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

async function serve(protocol: BalancerSettings["protocol"], tls: BackendTlsConfig | null, memberPort: number): Promise<void> {
  await proxy.applyRoutes(routeTable([vhost("example.com", [route("/", "Prefix", B)])], null, { [B]: { protocol, tls } }), endpointTable({ [B]: [member(memberPort)] }));
}

const noVerify: BackendTlsConfig = { servername: NAME, verify: false, ca: null, failClosed: false };

beforeAll(async () => {
  pki = createTestPki([NAME]);
  https = createHttpsServer({ cert: pki.cert, key: pki.key }, describeRequest);
  https.on("secureConnection", () => connections++);
  h2c = createH2Server(describeRequest);
  h2tls = createSecureServer({ cert: pki.cert, key: pki.key, ALPNProtocols: ["h2"] }, describeRequest);
  await Promise.all([listen(https), listen(h2c), listen(h2tls)]);
  proxy = new ProxyServer({ logger: silentLogger });
  port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
});

afterAll(async () => {
  await proxy.close(1_000);
  for (const s of [https, h2c, h2tls]) {
    if ("closeAllConnections" in s) s.closeAllConnections();
    s.close();
  }
});

function portOf(server: HttpsServer | Http2Server | Http2SecureServer): number {
  return (server.address() as AddressInfo).port;
}

describe("backend-protocol HTTPS", () => {
  it.each<{ name: string; tls: BackendTlsConfig; status: number; sni?: string }>([
    { name: "without verification any certificate is accepted; SNI is the balancer's name, not the client's Host", tls: noVerify, status: 200, sni: NAME },
    { name: "verification with the signing CA passes", tls: { servername: NAME, verify: true, ca: "", failClosed: false }, status: 200, sni: NAME },
    { name: "verification with another CA fails: 502", tls: { servername: NAME, verify: true, ca: "other", failClosed: false }, status: 502 },
    { name: "verification with Node's bundled CAs fails for a private CA: 502", tls: { servername: NAME, verify: true, ca: null, failClosed: false }, status: 502 },
    { name: "a name the certificate does not hold fails verification: 502", tls: { servername: "other.default.svc", verify: true, ca: "", failClosed: false }, status: 502 },
    { name: "without verification a name mismatch is accepted (encrypt only)", tls: { servername: "other.default.svc", verify: false, ca: null, failClosed: false }, status: 200, sni: "other.default.svc" },
  ])("$name", async ({ tls, status, sni }) => {
    const ca = tls.ca === "" ? pki.ca : tls.ca === "other" ? pki.otherCa : tls.ca;
    await serve("https", { ...tls, ca }, portOf(https));
    const reply = await send(port, { headers: { host: "example.com" } });
    expect(reply.status).toBe(status);
    if (status === 200) {
      const seen = JSON.parse(reply.body.toString()) as Seen;
      expect(seen.sni).toBe(sni);
      expect(seen.host).toBe("example.com");
      expect(seen.httpVersion).toBe("1.1");
    }
  });

  it("fails closed (502) without connecting when the CA Secret is unusable", async () => {
    await serve("https", { servername: NAME, verify: true, ca: null, failClosed: true }, portOf(https));
    const before = connections;
    const reply = await send(port);
    expect(reply.status).toBe(502);
    expect(connections).toBe(before);
  });

  it("a CA change replaces the member's pools: a kept-alive verified connection is not reused", async () => {
    await serve("https", { servername: NAME, verify: true, ca: pki.ca, failClosed: false }, portOf(https));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await send(port, { agent })).status).toBe(200);
      const before = connections;
      expect((await send(port, { agent })).status).toBe(200);
      expect(connections).toBe(before); // the upstream connection was reused
      await serve("https", { servername: NAME, verify: true, ca: pki.otherCa, failClosed: false }, portOf(https));
      expect((await send(port, { agent })).status).toBe(502);
      await serve("https", { servername: NAME, verify: true, ca: pki.ca, failClosed: false }, portOf(https));
      expect((await send(port, { agent })).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it("a WebSocket upgrade to an HTTPS member goes over TLS with the balancer's SNI, verified", async () => {
    const wss = new WebSocketServer({ server: https });
    wss.on("connection", (socket, req) => {
      socket.send(`sni=${(req.socket as TLSSocket).servername}`);
      socket.on("message", (data: Buffer) => socket.send(data));
    });
    try {
      await serve("https", { servername: NAME, verify: true, ca: pki.ca, failClosed: false }, portOf(https));
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { host: "example.com" } });
      const messages: string[] = [];
      await new Promise<void>((resolve, reject) => {
        ws.on("message", (data: Buffer) => {
          messages.push(data.toString());
          if (messages.length === 1) ws.send("ping");
          else resolve();
        });
        ws.on("error", reject);
      });
      ws.close();
      expect(messages).toEqual([`sni=${NAME}`, "ping"]);
      await serve("https", { servername: NAME, verify: true, ca: pki.otherCa, failClosed: false }, portOf(https));
      const refused = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { host: "example.com" } });
      const status = await new Promise<number>((resolve) => refused.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)));
      expect(status).toBe(502);
    } finally {
      wss.close();
    }
  });

  it("plain HTTP to an HTTPS member is what HTTP (the default) does: the member refuses it", async () => {
    await serve("http", null, portOf(https));
    const reply = await send(port);
    expect(reply.status).toBeGreaterThanOrEqual(400);
  });
});

describe("backend-protocol H2C and GRPCS: HTTP/2 to the members", () => {
  it("H2C speaks HTTP/2 with prior knowledge on cleartext; Host becomes :authority", async () => {
    await serve("h2c", null, portOf(h2c));
    const reply = await send(port, { headers: { host: "example.com" } });
    expect(reply.status).toBe(200);
    const seen = JSON.parse(reply.body.toString()) as Seen;
    expect(seen).toMatchObject({ httpVersion: "2.0", sni: false, authority: "example.com" });
    expect(seen.te).toBeUndefined();
  });

  it("GRPC adds te: trailers (gRPC members require it)", async () => {
    await serve("grpc", null, portOf(h2c));
    const seen = JSON.parse((await send(port)).body.toString()) as Seen;
    expect(seen).toMatchObject({ httpVersion: "2.0", te: "trailers" });
  });

  it("GRPCS speaks HTTP/2 over TLS (ALPN h2) with the balancer's SNI, verified", async () => {
    await serve("grpcs", { servername: NAME, verify: true, ca: pki.ca, failClosed: false }, portOf(h2tls));
    const reply = await send(port);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body.toString())).toMatchObject({ httpVersion: "2.0", sni: NAME, te: "trailers" });
  });

  it("HTTP/1.1 to an HTTP/2-only member fails (502): the protocol switch is what makes H2C work", async () => {
    await serve("http", null, portOf(h2c));
    expect((await send(port)).status).toBe(502);
  });
});
