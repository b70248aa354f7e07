// CONNECT tunnels (allow-connect) through a real ProxyServer with raw sockets: only to the named
// host's own "/" backend, only on listed ports; raw TCP after 200; refusals for everything else.
import { createServer, connect, type Server, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProxyServer } from "../../src/dataplane/index.js";
import type { Member, RouteOptions } from "../../src/model/index.js";
import { waitFor } from "../support/wait.js";
import { endpointTable, member, route, routeTable, silentLogger, vhost } from "./helpers.js";

const APP = "default/app:443";
const WILD = "default/wild:443";
const CATCH = "default/catch:443";
const OTHER = "default/other:443";
const DEF = "default/def:443";

interface Echo {
  readonly name: string;
  readonly port: number;
  readonly sockets: Socket[];
  member(): Member;
  close(): Promise<void>;
}

/** A TCP server that greets with its name and echoes every byte. */
async function echoServer(name: string): Promise<Echo> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => {
    sockets.push(s);
    s.on("error", () => {});
    s.write(`${name}>`);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    name,
    port,
    sockets,
    member: () => member(port, true, "127.0.0.1", { route: name }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let proxy: ProxyServer;
let port: number;
let a: Echo;
let b: Echo;
let other: Echo;
const open: Socket[] = [];

beforeAll(async () => {
  proxy = new ProxyServer({ logger: silentLogger });
  port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
  a = await echoServer("a");
  b = await echoServer("b");
  other = await echoServer("other");
});

afterAll(async () => {
  for (const s of open) s.destroy();
  await proxy.close(100);
  await Promise.all([a.close(), b.close(), other.close()]);
});

afterEach(() => {
  for (const s of open.splice(0)) s.destroy();
});

async function serve(appMembers: Member[], appOptions: Partial<RouteOptions> = { connectPorts: [443, 8443] }): Promise<void> {
  const allow: Partial<RouteOptions> = { connectPorts: [443] };
  await proxy.applyRoutes(
    routeTable(
      [
        vhost("app.example", [route("/api", "Prefix", OTHER, allow), route("/", "Prefix", APP, appOptions)]),
        vhost("*.wild.example", [route("/", "Prefix", WILD, { connectPorts: [8443] })]),
        vhost("api-only.example", [route("/api", "Prefix", OTHER, allow)]),
        vhost("plain.example", [route("/", "Prefix", OTHER)]),
        vhost("", [route("/", "Prefix", CATCH, allow)]),
      ],
      route("/", "Prefix", DEF, allow, "default/def"),
    ),
    endpointTable({ [APP]: appMembers, [WILD]: [b.member()], [OTHER]: [other.member()], [CATCH]: [other.member()], [DEF]: [other.member()] }),
  );
}

/** Sends `head` (+ `extra` in the same write) and resolves with the socket once the proxy's answer head is in. */
function connectThrough(target: string, extra = ""): Promise<{ socket: Socket; head: string; rest: () => string }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port }, () => s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n${extra}`));
    open.push(s);
    let buf = "";
    let head: string | null = null;
    s.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      if (head === null) {
        const end = buf.indexOf("\r\n\r\n");
        if (end === -1) return;
        head = buf.slice(0, end + 4);
        buf = buf.slice(end + 4);
        resolve({ socket: s, head, rest: () => buf });
      }
    });
    s.on("error", reject);
    s.on("close", () => {
      if (head === null) resolve({ socket: s, head: buf, rest: () => "" });
    });
  });
}

async function readUntil(rest: () => string, text: string): Promise<string> {
  return waitFor(() => (rest().includes(text) ? rest() : undefined), { timeoutMs: 10_000, what: `tunnel bytes ${JSON.stringify(text)}` });
}

function closedSocket(s: Socket): Promise<void> {
  return s.destroyed ? Promise.resolve() : new Promise((r) => s.once("close", () => r()));
}

describe("CONNECT tunnels", () => {
  it("a listed port on the Ingress's own host: 200, then raw TCP both ways to a member of its / backend", async () => {
    await serve([a.member()]);
    const t = await connectThrough("app.example:443", "early");
    expect(t.head).toBe("HTTP/1.1 200 Connection Established\r\n\r\n");
    // Bytes sent with the CONNECT head reach the member first.
    expect(await readUntil(t.rest, "a>early")).toBe("a>early");
    t.socket.write(Buffer.from("\x00binary\xff", "latin1"));
    await readUntil(t.rest, "\x00binary\xff");
    expect(proxy.openConnectTunnels).toBe(1);
    t.socket.end();
    await closedSocket(t.socket);
    await waitFor(() => (proxy.openConnectTunnels === 0 ? true : undefined), { what: "tunnel closed" });
    const m = proxy.registry.get(APP)?.members.get(a.member().key);
    expect(m?.sent).toBeGreaterThanOrEqual("early".length + 8);
    expect(m?.read).toBeGreaterThanOrEqual("a>early".length + 8);
  });

  it.each([
    { name: "a port not in the list -> 403", target: "app.example:22", status: 403 },
    { name: "a second listed port works on the same host", target: "app.example:8443", status: 200 },
    { name: "a host whose Ingress has no allow-connect -> 405", target: "plain.example:443", status: 405 },
    { name: "a host served only by a catch-all rule (no host) -> 405 even with allow-connect there", target: "evil.example:443", status: 405 },
    { name: "a host with no / route: the cluster default backend never counts -> 405", target: "api-only.example:443", status: 405 },
    { name: "a member's own address is not a host of the Ingress -> 405 (never an open proxy)", target: "127.0.0.1:443", status: 405 },
    { name: "a wildcard host of the Ingress, its own port list", target: "x.wild.example:8443", status: 200 },
    { name: "a wildcard host on a port not in its list -> 403", target: "x.wild.example:443", status: 403 },
    { name: "two labels under a one-label wildcard -> 405", target: "a.b.wild.example:8443", status: 405 },
    { name: "no port -> 400", target: "app.example", status: 400 },
    { name: "port 0 -> 400", target: "app.example:0", status: 400 },
    { name: "a path instead of an authority -> 400", target: "/app.example:443", status: 400 },
    { name: "upper case and a trailing dot are the same host", target: "APP.Example.:443", status: 200 },
  ])("$name", async ({ target, status }) => {
    await serve([a.member()]);
    const t = await connectThrough(target);
    expect(t.head.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
    if (status !== 200) await closedSocket(t.socket);
  });

  it("the tunnel goes to the route's member, never to the port the client named", async () => {
    await serve([a.member()]);
    const t = await connectThrough(`app.example:443`);
    expect(await readUntil(t.rest, ">")).toBe("a>");
    expect(other.sockets.length).toBe(0);
  });

  it("balancing: tunnels are spread over the members", async () => {
    await serve([a.member(), b.member()]);
    const greetings = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const t = await connectThrough("app.example:443");
      greetings.add(await readUntil(t.rest, ">"));
      t.socket.destroy();
    }
    expect([...greetings].sort()).toEqual(["a>", "b>"]);
  });

  it("a member that refuses: failover to the next; none left -> 502", async () => {
    const dead = await echoServer("dead");
    const deadMember = dead.member();
    await dead.close();
    await serve([deadMember, a.member()]);
    for (let i = 0; i < 2; i++) {
      const t = await connectThrough("app.example:443");
      expect(t.head).toBe("HTTP/1.1 200 Connection Established\r\n\r\n");
      expect(await readUntil(t.rest, ">")).toBe("a>");
      t.socket.destroy();
    }
    await serve([deadMember]);
    const refused = await connectThrough("app.example:443");
    expect(refused.head.startsWith("HTTP/1.1 502 ") || refused.head.startsWith("HTTP/1.1 503 ")).toBe(true);
  });

  it("an idle tunnel is closed after the route's idle timeout", async () => {
    await serve([a.member()], { connectPorts: [443], websocketIdleMs: 300 });
    const t = await connectThrough("app.example:443");
    await readUntil(t.rest, "a>");
    await closedSocket(t.socket);
    await waitFor(() => (proxy.openConnectTunnels === 0 ? true : undefined), { what: "tunnel closed" });
  });

  it("the member closing ends the client side after its last bytes", async () => {
    await serve([a.member()]);
    const t = await connectThrough("app.example:443");
    await readUntil(t.rest, "a>");
    await waitFor(() => (a.sockets.length > 0 ? true : undefined));
    a.sockets[a.sockets.length - 1]?.end("bye");
    await closedSocket(t.socket);
    expect(t.rest()).toContain("bye");
  });
});
