// WebSocket tunnels (mod_proxy_wstunnel) through a real ProxyServer, with the `ws` package as client
// and as backend server, over loopback sockets.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { FLAG_ERROR, ProxyServer } from "../../src/dataplane/index.js";
import type { BalancerSettings, Member, RouteOptions } from "../../src/model/index.js";
import { waitFor } from "../support/wait.js";
import { endpointTable, member, route, routeTable, silentLogger, vhost } from "./helpers.js";

const B = "default/chat:80";
const sticky: Partial<BalancerSettings> = { sticky: { cookie: "ROUTEID", param: null, noFailover: false } };

interface Backend {
  readonly name: string;
  readonly port: number;
  /** Headers of every upgrade request that reached it. */
  readonly upgrades: IncomingHttpHeaders[];
  /** Server side of every accepted WebSocket, with the close code it saw (null while open). */
  readonly sockets: Array<{ ws: WebSocket; closeCode: number | null }>;
  member(overrides?: Partial<Member>): Member;
  close(): Promise<void>;
}

/** An HTTP server that answers plain requests with its name, 403s upgrades to /forbidden and echoes WebSocket messages (text prefixed with its name, binary as is). */
async function startBackend(name: string): Promise<Backend> {
  const upgrades: IncomingHttpHeaders[] = [];
  const sockets: Array<{ ws: WebSocket; closeCode: number | null }> = [];
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 << 20 });
  const server: Server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "text/plain", "x-member": name, "x-saw-upgrade": String(req.headers.upgrade ?? "") });
    res.end(name);
  });
  server.on("upgrade", (req, socket, head) => {
    upgrades.push(req.headers);
    if (req.url?.startsWith("/forbidden") === true) {
      socket.end("HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 13\r\nx-member: " + name + "\r\n\r\nnot for you!\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const entry = { ws, closeCode: null as number | null };
      sockets.push(entry);
      ws.on("message", (data: RawData, isBinary: boolean) => {
        if (isBinary) ws.send(data, { binary: true });
        else ws.send(`${name}:${String(data)}`);
      });
      ws.on("close", (code: number) => (entry.closeCode = code));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    port,
    upgrades,
    sockets,
    member: (overrides = {}) => member(port, true, "127.0.0.1", { route: name, ...overrides }),
    close: async () => {
      for (const s of sockets) s.ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let proxy: ProxyServer;
let port: number;
const backends: Backend[] = [];
const clients: WebSocket[] = [];

async function backend(name: string): Promise<Backend> {
  const b = await startBackend(name);
  backends.push(b);
  return b;
}

async function serve(members: Member[], options: Partial<RouteOptions> = {}, settings: Partial<BalancerSettings> = {}, target: ProxyServer = proxy): Promise<void> {
  await target.applyRoutes(routeTable([vhost("example.com", [route("/", "Prefix", B, options)])], null, { [B]: settings }), endpointTable({ [B]: members }));
}

/** Opens a WebSocket through the proxy (Host example.com unless told otherwise). */
function open(path = "/chat", headers: Record<string, string> = {}, to = port): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${to}${path}`, { headers: { host: "example.com", ...headers }, maxPayload: 4 << 20 });
    clients.push(ws);
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve, reject) => {
    const onClose = (): void => reject(new Error("closed before a message"));
    ws.once("message", (data: RawData, isBinary: boolean) => {
      ws.off("close", onClose);
      resolve({ data: Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer), binary: isBinary });
    });
    ws.once("close", onClose);
  });
}

async function roundTrip(ws: WebSocket, text: string): Promise<string> {
  const reply = nextMessage(ws);
  ws.send(text);
  return String((await reply).data);
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve({ code: 1006, reason: "" });
  return new Promise((resolve) => ws.once("close", (code: number, reason: Buffer) => resolve({ code, reason: String(reason) })));
}

/** A raw HTTP/1.1 exchange on a fresh connection: everything the proxy sends until it closes. */
function raw(text: string, to = port): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port: to }, () => s.write(text));
    let out = "";
    s.on("data", (c: Buffer) => (out += c.toString("latin1")));
    s.on("close", () => resolve(out));
    s.on("error", reject);
    s.setTimeout(5_000, () => s.destroy());
  });
}

const handshake = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

function busy(b: Backend, target: ProxyServer = proxy): number | undefined {
  return target.memberStats(B, `127.0.0.1:${b.port}`)?.busy;
}

beforeAll(async () => {
  proxy = new ProxyServer({ logger: silentLogger });
  port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await Promise.all(backends.splice(0).map((b) => b.close()));
  await waitFor(() => (proxy.openTunnels === 0 ? true : undefined), { what: "tunnels closed after the test" });
});

afterAll(async () => {
  await proxy.close(1_000);
});

describe("WebSocket tunnels", () => {
  it("echoes text both ways; the upgrade request carries X-Forwarded-*, the client's Host and the route's header rules", async () => {
    const b = await backend("b0");
    await serve([b.member()], { requestHeaders: [{ op: "set", name: "x-tenant", value: "blue" }] });
    const ws = await open("/chat?room=1", { "x-forwarded-for": "10.9.9.9" });
    expect(await roundTrip(ws, "hello")).toBe("b0:hello");
    expect(await roundTrip(ws, "again")).toBe("b0:again");
    expect(proxy.openTunnels).toBe(1);
    const h = b.upgrades[0];
    expect(h).toMatchObject({ host: "example.com", upgrade: "websocket", "x-forwarded-for": "10.9.9.9, 127.0.0.1", "x-forwarded-proto": "http", "x-forwarded-host": "example.com", "x-forwarded-port": String(port), "x-tenant": "blue" });
    expect(String(h?.connection).toLowerCase()).toBe("upgrade");
    expect(h?.["sec-websocket-key"]).toBeDefined();
  });

  it("binary frames and a 1 MiB message pass intact (backpressure both ways)", async () => {
    const b = await backend("b0");
    await serve([b.member()]);
    const ws = await open();
    const small = Buffer.from([0, 1, 2, 255, 254]);
    let reply = nextMessage(ws);
    ws.send(small, { binary: true });
    expect(await reply).toEqual({ data: small, binary: true });
    const big = randomBytes(1 << 20);
    reply = nextMessage(ws);
    ws.send(big, { binary: true });
    const got = await reply;
    expect(got.binary).toBe(true);
    expect(got.data.equals(big)).toBe(true);
    // Several large messages in flight at once.
    const replies: Buffer[] = [];
    const all = new Promise<void>((resolve) => {
      ws.on("message", (data: RawData) => {
        replies.push(Buffer.from(data as Buffer));
        if (replies.length === 4) resolve();
      });
    });
    for (let i = 0; i < 4; i++) ws.send(Buffer.alloc(1 << 20, i), { binary: true });
    await all;
    expect(replies.map((r) => [r.length, r[0]])).toEqual([0, 1, 2, 3].map((i) => [1 << 20, i]));
  });

  it("a member's non-101 answer is relayed as a normal response (status, headers, body), then the connection closes", async () => {
    const b = await backend("b0");
    await serve([b.member()]);
    const out = await raw(`GET /forbidden HTTP/1.1\r\nHost: example.com\r\n${handshake}\r\n`);
    expect(out).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(out).toMatch(/\r\nx-member: b0\r\n/);
    expect(out).toMatch(/\r\nconnection: close\r\n/);
    expect(out.endsWith("\r\n\r\nnot for you!\n")).toBe(true);
    await waitFor(() => (busy(b) === 0 ? true : undefined), { what: "member released" });
  });

  it("the sticky cookie picks the member; a new session gets the member's cookie on the 101", async () => {
    const [a, b] = [await backend("pod-a"), await backend("pod-b")];
    await serve([a.member(), b.member()], {}, sticky);
    for (let i = 0; i < 6; i++) {
      const ws = await open("/chat", { cookie: "x=1; ROUTEID=.pod-b" });
      expect(await roundTrip(ws, `m${i}`)).toBe(`pod-b:m${i}`);
      ws.close();
    }
    const setCookie = await new Promise<string | undefined>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { headers: { host: "example.com" } });
      clients.push(ws);
      ws.once("upgrade", (res) => resolve([res.headers["set-cookie"]].flat()[0]));
      ws.once("error", reject);
    });
    expect(setCookie).toMatch(/^ROUTEID=\.pod-[ab]; Path=\/; HttpOnly$/);
  });

  it("fails over to another member when the first refuses the connection, and puts the refusing one in error", async () => {
    const b = await backend("alive");
    const dead = await backend("dead");
    const deadPort = dead.port;
    await dead.close();
    backends.splice(backends.indexOf(dead), 1);
    await serve([member(deadPort, true, "127.0.0.1", { route: "dead" }), b.member()]);
    for (let i = 0; i < 4; i++) {
      const ws = await open();
      expect(await roundTrip(ws, "x")).toBe("alive:x");
      ws.close();
    }
    const deadMember = proxy.registry.get(B)?.members.get(`127.0.0.1:${deadPort}`);
    expect(deadMember?.busy).toBe(0);
    expect((deadMember?.flags ?? 0) & FLAG_ERROR).toBe(FLAG_ERROR);
  });

  it("a tunnel survives 100 snapshot swaps and the removal of its member, and keeps echoing", async () => {
    const [a, b] = [await backend("pod-a"), await backend("pod-b")];
    await serve([a.member()]);
    const ws = await open();
    expect(await roundTrip(ws, "before")).toBe("pod-a:before");
    for (let i = 0; i < 100; i++) {
      await serve([a.member()], { requestHeaders: [{ op: "set", name: "x-swap", value: String(i) }] });
      expect(await roundTrip(ws, `swap${i}`)).toBe(`pod-a:swap${i}`);
    }
    // The member is removed from the endpoints: new tunnels go to pod-b, the open one stays.
    await serve([b.member()]);
    expect(await roundTrip(ws, "after removal")).toBe("pod-a:after removal");
    const fresh = await open();
    expect(await roundTrip(fresh, "new")).toBe("pod-b:new");
    expect(await roundTrip(ws, "still")).toBe("pod-a:still");
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  it("ping frames reach the member and its pongs come back through the tunnel", async () => {
    const b = await backend("b0");
    await serve([b.member()]);
    const ws = await open();
    for (let i = 0; i < 3; i++) {
      const pong = new Promise<string>((resolve) => ws.once("pong", (data: Buffer) => resolve(data.toString())));
      ws.ping(Buffer.from(`p${i}`));
      expect(await pong).toBe(`p${i}`);
    }
    expect(await roundTrip(ws, "after pings")).toBe("b0:after pings");
  });

  it("the member closing closes the client (close code relayed)", async () => {
    const b = await backend("b0");
    await serve([b.member()]);
    const ws = await open();
    await roundTrip(ws, "hi");
    const done = closed(ws);
    b.sockets[0]?.ws.close(4001, "bye");
    expect(await done).toEqual({ code: 4001, reason: "bye" });
    await waitFor(() => (proxy.openTunnels === 0 ? true : undefined), { what: "tunnel closed" });
  });

  it("the client closing closes the member's side (close code relayed)", async () => {
    const b = await backend("b0");
    await serve([b.member()]);
    const ws = await open();
    await roundTrip(ws, "hi");
    ws.close(4000, "done");
    await waitFor(() => (b.sockets[0]?.closeCode === 4000 ? true : undefined), { what: "member saw the close" });
    await waitFor(() => (proxy.openTunnels === 0 ? true : undefined), { what: "tunnel closed" });
  });

  it("a client that vanishes (TCP reset) closes the member's side", async () => {
    const b = await backend("b0");
    await serve([b.member()]);
    const ws = await open();
    await roundTrip(ws, "hi");
    ws.terminate();
    await waitFor(() => (b.sockets[0]?.closeCode !== null && b.sockets[0]?.closeCode !== undefined ? true : undefined), { what: "member saw the close" });
  });

  it("websocket-idle-timeout closes an idle tunnel", async () => {
    const b = await backend("b0");
    await serve([b.member()], { websocketIdleMs: 200 });
    const ws = await open();
    const done = closed(ws);
    expect(await roundTrip(ws, "then silence")).toBe("b0:then silence");
    const { code } = await done;
    expect(code).toBe(1006); // cut at the TCP level, no close frame
    await waitFor(() => (b.sockets[0]?.closeCode !== null ? true : undefined), { what: "member side closed" });
    await waitFor(() => (proxy.openTunnels === 0 && busy(b) === 0 ? true : undefined), { what: "tunnel released" });
  });

  it("an absolute-form upgrade for a foreign host is refused (never an open proxy); for a served host it is routed", async () => {
    const b = await backend("b0");
    await serve([b.member()]);
    const foreign = await raw(`GET http://evil.test/chat HTTP/1.1\r\nHost: example.com\r\n${handshake}\r\n`);
    expect(foreign).toMatch(/^HTTP\/1\.1 404 /);
    const userinfo = await raw(`GET http://example.com@evil.test/ HTTP/1.1\r\nHost: example.com\r\n${handshake}\r\n`);
    expect(userinfo).toMatch(/^HTTP\/1\.1 400 /);
    expect(b.upgrades).toHaveLength(0);
    const served = await raw(`GET http://example.com/forbidden HTTP/1.1\r\nHost: evil.test\r\n${handshake}\r\n`);
    expect(served).toMatch(/^HTTP\/1\.1 403 /);
    expect(b.upgrades[0]?.host).toBe("example.com");
  });

  it("an upgrade with no route is 404; with no member 503", async () => {
    const b = await backend("b0");
    await serve([b.member()]);
    const unrouted = (): number => proxy.routeStats.unrouted.counters?.requests.reduce((a, n) => a + n, 0) ?? 0;
    const before = unrouted();
    expect(await raw(`GET /chat HTTP/1.1\r\nHost: other.test\r\n${handshake}\r\n`)).toMatch(/^HTTP\/1\.1 404 /);
    // Refused upgrades are requests too: counted (unrouted here), like any refused request.
    expect(unrouted()).toBe(before + 1);
    await serve([]);
    expect(await raw(`GET /chat HTTP/1.1\r\nHost: example.com\r\n${handshake}\r\n`)).toMatch(/^HTTP\/1\.1 503 /);
    expect(unrouted()).toBe(before + 1); // routed: the 503 counts on the route's own stats
  });

  it("an upgrade to another protocol (h2c) is served as a plain HTTP/1.1 request, Upgrade dropped", async () => {
    const b = await backend("b0");
    await serve([b.member()]);
    const out = await raw(`GET /plain HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1\.1 200 /);
    expect(out).toMatch(/\r\nx-saw-upgrade: \r\n/);
    expect(b.upgrades).toHaveLength(0);
  });

  it("the member's busy count covers the tunnel's life and returns to 0 when tunnels close", async () => {
    const b = await backend("b0");
    await serve([b.member()]);
    const sockets = [await open(), await open(), await open()];
    for (const ws of sockets) await roundTrip(ws, "x");
    expect(busy(b)).toBe(3);
    expect(proxy.openTunnels).toBe(3);
    sockets[0]?.close();
    sockets[1]?.terminate();
    b.sockets[2]?.ws.close();
    await waitFor(() => (busy(b) === 0 && proxy.openTunnels === 0 ? true : undefined), { what: "busy back to 0" });
  });
});

describe("shutdown", () => {
  it("close(grace) leaves open tunnels alone during the grace period, then destroys them", async () => {
    const b = await backend("b0");
    const own = new ProxyServer({ logger: silentLogger });
    const ownPort = (await own.listen({ port: 0, host: "127.0.0.1" })).port;
    await serve([b.member()], {}, {}, own);
    const ws = await open("/chat", {}, ownPort);
    expect(await roundTrip(ws, "hi")).toBe("b0:hi");
    const done = closed(ws);
    let shut = false;
    const closing = own.close(400).then(() => (shut = true));
    // During the grace period the tunnel still works.
    expect(await roundTrip(ws, "during grace")).toBe("b0:during grace");
    expect(shut).toBe(false);
    await closing;
    expect((await done).code).toBe(1006);
    await waitFor(() => (own.openTunnels === 0 ? true : undefined), { what: "tunnel counted closed" });
  });
});
