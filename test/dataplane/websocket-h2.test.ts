// WebSockets over HTTP/2 (RFC 8441 extended CONNECT) through a real ProxyServer: a node:http2
// client on the plain port (h2c prior knowledge) and the TLS port (ALPN h2) speaks WebSocket
// frames (the `ws` package's Sender/Receiver over the HTTP/2 stream) to a `ws` echo server reached
// with an HTTP/1.1 Upgrade. Routing, auth, header rules, open-tunnel counters, close, idle timeout,
// snapshot swaps and member removal; non-101 answers relayed; plain CONNECT still 405.
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { connect as h2connect, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders as H2Headers } from "node:http2";
import type { AddressInfo } from "node:net";
import type { Duplex, Writable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as wsModule from "ws";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { ProxyServer } from "../../src/dataplane/index.js";
import type { AuthConfig, Member, RouteOptions } from "../../src/model/index.js";
import { waitFor } from "../support/wait.js";
import { endpointTable, member, route, routeTable, silentLogger, vhost } from "./helpers.js";

// ws's frame codec (exported at runtime, absent from @types/ws).
interface WsSender {
  send(data: Buffer | string, options: { binary: boolean; compress: boolean; fin: boolean; mask: boolean; rsv1: boolean }, cb?: (err?: Error) => void): void;
  close(code: number, data: string, mask: boolean, cb?: (err?: Error) => void): void;
  ping(data: Buffer, mask: boolean, cb?: (err?: Error) => void): void;
}
type WsReceiver = Writable & { on(event: "message", l: (data: Buffer, isBinary: boolean) => void): WsReceiver; on(event: "conclude", l: (code: number, reason: Buffer) => void): WsReceiver; on(event: "pong", l: (data: Buffer) => void): WsReceiver };
const { Sender, Receiver } = wsModule as unknown as {
  Sender: new (socket: Duplex, extensions?: object, generateMask?: unknown) => WsSender;
  Receiver: new (options: { isServer: boolean; maxPayload: number; binaryType?: string }) => WsReceiver;
};

const HOST = "chat.example.com";
const B = "default/chat:80";

interface Backend {
  readonly port: number;
  readonly upgrades: IncomingHttpHeaders[];
  readonly sockets: Array<{ ws: WebSocket; closeCode: number | null; closed: boolean }>;
  member(): Member;
  close(): Promise<void>;
}

/** A `ws` echo server (text prefixed with `name:`, binary as is); /forbidden upgrades get 403. */
async function startBackend(name: string): Promise<Backend> {
  const upgrades: IncomingHttpHeaders[] = [];
  const sockets: Array<{ ws: WebSocket; closeCode: number | null; closed: boolean }> = [];
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 << 20 });
  const server: Server = createServer((req, res) => {
    req.resume();
    res.end(name);
  });
  server.on("upgrade", (req, socket, head) => {
    upgrades.push(req.headers);
    if (req.url?.startsWith("/forbidden") === true) {
      socket.end("HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 12\r\nx-member: " + name + "\r\n\r\nnot for you\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const entry = { ws, closeCode: null as number | null, closed: false };
      sockets.push(entry);
      ws.on("message", (data: RawData, isBinary: boolean) => {
        if (isBinary) ws.send(data, { binary: true });
        else ws.send(`${name}:${String(data)}`);
      });
      ws.on("close", (code: number) => {
        entry.closeCode = code;
        entry.closed = true;
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    upgrades,
    sockets,
    member: () => member(port, true, "127.0.0.1", { route: name }),
    close: async () => {
      for (const s of sockets) s.ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A WebSocket client over one HTTP/2 stream. */
class H2WebSocket {
  readonly stream: ClientHttp2Stream;
  readonly status: number;
  readonly headers: H2Headers;
  readonly #sender: WsSender;
  readonly #messages: Array<{ data: Buffer; binary: boolean }> = [];
  readonly #waiters: Array<() => void> = [];
  closeCode: number | null = null;
  #closing = false;
  ended = false;
  closed = false;

  constructor(stream: ClientHttp2Stream, headers: H2Headers) {
    this.stream = stream;
    this.headers = headers;
    this.status = Number(headers[":status"]);
    this.#sender = new Sender(stream);
    const receiver = new Receiver({ isServer: false, maxPayload: 8 << 20, binaryType: "nodebuffer" });
    receiver.on("message", (data: Buffer, binary: boolean) => {
      this.#messages.push({ data, binary });
      this.#wake();
    });
    receiver.on("conclude", (code: number) => {
      this.closeCode = code;
      // The peer's close frame is answered with one (RFC 6455 §5.5.1) unless we sent ours first.
      if (!this.#closing) {
        this.#closing = true;
        this.#sender.close(code, "", true);
      }
      this.#wake();
    });
    // Frames only on a tunnel; another status carries an ordinary body.
    if (this.status === 200) stream.pipe(receiver);
    stream.on("end", () => {
      this.ended = true;
      this.#wake();
    });
    stream.on("close", () => {
      this.closed = true;
      this.#wake();
    });
    stream.on("error", () => {});
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  async #until(check: () => boolean): Promise<void> {
    while (!check()) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  send(data: string | Buffer): void {
    this.#sender.send(data, { binary: typeof data !== "string", compress: false, fin: true, mask: true, rsv1: false });
  }

  async next(): Promise<{ data: Buffer; binary: boolean }> {
    await this.#until(() => this.#messages.length > 0 || this.closed);
    const m = this.#messages.shift();
    if (m === undefined) throw new Error("stream closed before a message");
    return m;
  }

  /** Sends a close frame, waits for the member's close frame and the stream's end. */
  async close(code = 1000): Promise<void> {
    this.#closing = true;
    this.#sender.close(code, "", true);
    await this.#until(() => this.closeCode !== null && (this.ended || this.closed));
    this.stream.end();
  }

  untilClosed(): Promise<void> {
    return this.#until(() => this.closed);
  }
}

let proxy: ProxyServer;
let plainPort: number;
let tlsPort: number;
let a: Backend;
let bBackend: Backend;
const sessions: ClientHttp2Session[] = [];

/** amy:secret */
const auth: AuthConfig = { basic: { realm: "Chat", htpasswd: [{ user: "amy", hash: `{SHA}${createHash("sha1").update("secret").digest("base64")}` }] }, external: null };
const base: Partial<RouteOptions> = { requestHeaders: [{ op: "set", name: "x-tenant", value: "blue" }], responseHeaders: [{ op: "set", name: "x-edge", value: "ppi" }] };

async function serve(members: Member[], options: Partial<RouteOptions> = {}): Promise<void> {
  await proxy.applyRoutes(
    routeTable([vhost(HOST, [route("/private", "Prefix", B, { ...base, ...options, auth }), route("/", "Prefix", B, { ...base, ...options })])]),
    endpointTable({ [B]: members }),
  );
}

function openSession(tls: boolean): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = tls ? h2connect(`https://127.0.0.1:${tlsPort}`, { rejectUnauthorized: false, servername: HOST }) : h2connect(`http://127.0.0.1:${plainPort}`);
    sessions.push(session);
    session.once("error", reject);
    // Extended CONNECT needs the server's SETTINGS (SETTINGS_ENABLE_CONNECT_PROTOCOL) first.
    session.once("remoteSettings", () => resolve(session));
  });
}

/** An extended CONNECT for a WebSocket at `path`; resolves once the response head arrived. */
function connectWs(session: ClientHttp2Session, path: string, extra: Record<string, string> = {}): Promise<H2WebSocket> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "CONNECT", ":protocol": "websocket", ":path": path, ":authority": HOST, "sec-websocket-version": "13", ...extra });
    stream.once("response", (h) => resolve(new H2WebSocket(stream, h)));
    stream.once("error", reject);
  });
}

function openTunnelsMetric(): number {
  let n = 0;
  for (const s of proxy.routeStats.all()) n += s.tunnels;
  return n;
}

beforeAll(async () => {
  a = await startBackend("a");
  bBackend = await startBackend("b");
  proxy = new ProxyServer({ logger: silentLogger });
  plainPort = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
  tlsPort = (await proxy.listenTls({ port: 0, host: "127.0.0.1" })).port;
}, 30_000);

afterEach(async () => {
  for (const s of sessions.splice(0)) s.destroy();
  await waitFor(() => (proxy.openTunnels === 0 ? true : undefined), { what: "tunnels closed after the test" });
});

afterAll(async () => {
  await proxy.close(1_000);
  await a.close();
  await bBackend.close();
});

describe.each([
  { listener: "plain port (h2c)", tls: false, proto: "http" },
  { listener: "TLS port (ALPN h2)", tls: true, proto: "https" },
])("WebSocket over HTTP/2, $listener", ({ tls, proto }) => {
  it("advertises SETTINGS_ENABLE_CONNECT_PROTOCOL; 200, echo both ways, the member saw an HTTP/1.1 upgrade with a key and the route's header rules", async () => {
    await serve([a.member()]);
    const session = await openSession(tls);
    expect(session.remoteSettings.enableConnectProtocol).toBe(true);
    const before = a.upgrades.length;
    const ws = await connectWs(session, "/room?x=1", { "sec-websocket-protocol": "chat" });
    expect(ws.status).toBe(200);
    expect(ws.headers["sec-websocket-accept"]).toBeUndefined();
    expect(ws.headers.upgrade).toBeUndefined();
    expect(ws.headers["x-edge"]).toBe("ppi");
    expect(ws.headers["sec-websocket-protocol"]).toBe("chat"); // the member's choice comes back
    ws.send("hello");
    expect((await ws.next()).data.toString()).toBe("a:hello");
    ws.send("again");
    expect((await ws.next()).data.toString()).toBe("a:again");
    const seen = a.upgrades[before] as IncomingHttpHeaders;
    expect(a.upgrades.length).toBe(before + 1);
    expect(seen.upgrade).toBe("websocket");
    expect(Buffer.from(String(seen["sec-websocket-key"]), "base64").length).toBe(16);
    expect(seen["sec-websocket-version"]).toBe("13");
    expect(seen["sec-websocket-protocol"]).toBe("chat");
    expect(seen.host).toBe(HOST);
    expect(seen["x-forwarded-proto"]).toBe(proto);
    expect(seen["x-tenant"]).toBe("blue");
    // Counted like an HTTP/1.1 tunnel.
    expect(proxy.openTunnels).toBe(1);
    expect(openTunnelsMetric()).toBe(1);
    await ws.close(1000);
    await waitFor(() => (proxy.openTunnels === 0 && openTunnelsMetric() === 0 ? true : undefined), { what: "tunnel closed" });
    await waitFor(() => (a.sockets.at(-1)?.closeCode === 1000 ? true : undefined), { what: "member saw close 1000" });
  });

  it("a 1 MiB binary message both ways (flow control and backpressure)", async () => {
    await serve([a.member()]);
    const session = await openSession(tls);
    const ws = await connectWs(session, "/big");
    const payload = Buffer.alloc(1 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    ws.send(payload);
    const m = await ws.next();
    expect(m.binary).toBe(true);
    expect(m.data.equals(payload)).toBe(true);
    await ws.close();
  });
});

describe("WebSocket over HTTP/2: refusals and relays", () => {
  it("a member's non-101 answer is relayed as the stream's response", async () => {
    await serve([a.member()]);
    const session = await openSession(false);
    const ws = await connectWs(session, "/forbidden");
    expect(ws.status).toBe(403);
    expect(ws.headers["x-member"]).toBe("a");
    const body = await new Promise<string>((resolve) => {
      const parts: Buffer[] = [];
      ws.stream.on("data", (c: Buffer) => parts.push(c));
      ws.stream.on("end", () => resolve(Buffer.concat(parts).toString()));
      ws.stream.resume();
    });
    expect(body).toBe("not for you\n");
    expect(proxy.openTunnels).toBe(0);
    // The client never ended its side: the proxy closes the stream after the response (NO_ERROR).
    await ws.untilClosed();
    expect(ws.stream.rstCode ?? 0).toBe(0);
  });

  it("auth applies: 401 without credentials (member never asked), tunnel with them", async () => {
    await serve([a.member()]);
    const session = await openSession(false);
    const before = a.upgrades.length;
    const refused = await connectWs(session, "/private/room");
    expect(refused.status).toBe(401);
    expect(String(refused.headers["www-authenticate"])).toContain("Basic");
    expect(a.upgrades.length).toBe(before);
    refused.stream.resume();
    await refused.untilClosed();
    const ok = await connectWs(session, "/private/room", { authorization: `Basic ${Buffer.from("amy:secret").toString("base64")}` });
    expect(ok.status).toBe(200);
    ok.send("in");
    expect((await ok.next()).data.toString()).toBe("a:in");
    await ok.close();
  });

  it("no route: 404; no member: 503", async () => {
    await serve([]);
    const session = await openSession(false);
    const none = await connectWs(session, "/room");
    expect(none.status).toBe(503);
    const stream = session.request({ ":method": "CONNECT", ":protocol": "websocket", ":path": "/", ":authority": "other.example.com", "sec-websocket-version": "13" });
    const head = await new Promise<H2Headers>((resolve, reject) => {
      stream.once("response", resolve);
      stream.once("error", reject);
    });
    expect(head[":status"]).toBe(404);
    stream.close();
  });

  it("plain CONNECT (no :protocol) keeps its 405 on both listeners; another :protocol is 501", async () => {
    await serve([a.member()]);
    for (const tls of [false, true]) {
      const session = await openSession(tls);
      const plain = session.request({ ":method": "CONNECT", ":authority": "chat.example.com:443" });
      const head = await new Promise<H2Headers>((resolve, reject) => {
        plain.once("response", resolve);
        plain.once("error", reject);
      });
      expect(head[":status"]).toBe(405);
      plain.close();
      const s2 = session.request({ ":method": "CONNECT", ":protocol": "webtransport", ":path": "/", ":authority": HOST });
      const h2 = await new Promise<H2Headers>((resolve, reject) => {
        s2.once("response", resolve);
        s2.once("error", reject);
      });
      expect(h2[":status"]).toBe(501);
      s2.close();
    }
  });
});

describe("WebSocket over HTTP/2: tunnel life", () => {
  it("websocket-idle-timeout closes an idle tunnel (stream and member socket)", async () => {
    await serve([a.member()], { websocketIdleMs: 300 });
    const session = await openSession(false);
    const ws = await connectWs(session, "/idle");
    ws.send("x");
    await ws.next();
    const entry = a.sockets.at(-1);
    await ws.untilClosed();
    await waitFor(() => (entry?.closed === true ? true : undefined), { what: "member socket closed" });
    expect(proxy.openTunnels).toBe(0);
  });

  it("the member's close ends the stream", async () => {
    await serve([a.member()]);
    const session = await openSession(false);
    const ws = await connectWs(session, "/bye");
    ws.send("x");
    await ws.next();
    a.sockets.at(-1)?.ws.close(4001, "bye");
    await ws.untilClosed();
    expect(ws.closeCode).toBe(4001);
    // Ended cleanly: END_STREAM, then at most a NO_ERROR reset (never INTERNAL_ERROR).
    expect(ws.ended).toBe(true);
    expect(ws.stream.rstCode ?? 0).toBe(0);
  });

  it("survives 50 snapshot swaps and the removal of its member", async () => {
    await serve([a.member()]);
    const session = await openSession(true);
    const ws = await connectWs(session, "/swap");
    for (let i = 0; i < 50; i++) {
      await serve([a.member(), bBackend.member()], { requestHeaders: [{ op: "set", name: "x-swap", value: String(i) }] });
      if (i % 10 === 0) {
        ws.send(`m${i}`);
        expect((await ws.next()).data.toString()).toBe(`a:m${i}`);
      }
    }
    // The member leaves the endpoints: the open tunnel stays, new ones go to b.
    await serve([bBackend.member()]);
    ws.send("still");
    expect((await ws.next()).data.toString()).toBe("a:still");
    const fresh = await connectWs(session, "/swap");
    fresh.send("new");
    expect((await fresh.next()).data.toString()).toBe("b:new");
    expect(proxy.openTunnels).toBe(2);
    await fresh.close();
    await ws.close();
  });
});
