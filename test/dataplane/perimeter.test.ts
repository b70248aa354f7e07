// The perimeter through real sockets: max-body-size (413 by Content-Length and mid-stream chunked),
// client-body-timeout (408), max-connections-per-worker, allow/deny CIDRs (IPv4, IPv6, IPv4-mapped),
// --trusted-proxies X-Forwarded-For picking, rate limits with a burst, limit-connections, and the
// same rules on WebSocket upgrades.
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ProxyServer } from "../../src/dataplane/index.js";
import { defaultServerSettings, type RouteOptions, type RouteTable, type ServerSettings } from "../../src/model/index.js";
import { echo, endpointTable, json, member, route, routeTable, send, silentLogger, startUpstream, vhost, type Upstream, type UpstreamHandler } from "./helpers.js";

const B = "default/web:80";
const proxies: ProxyServer[] = [];
const upstreams: Upstream[] = [];

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close(500)));
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

interface Setup {
  readonly proxy: ProxyServer;
  readonly port: number;
  readonly up: Upstream;
}

async function setup(options: Partial<RouteOptions>, opts: { handler?: UpstreamHandler; server?: Partial<ServerSettings>; trustedProxies?: string[]; host?: string } = {}): Promise<Setup> {
  const up = await startUpstream("web", opts.handler ?? echo);
  upstreams.push(up);
  const proxy = new ProxyServer({ logger: silentLogger, trustedProxies: opts.trustedProxies ?? [] });
  proxies.push(proxy);
  const port = (await proxy.listen({ port: 0, host: opts.host ?? "127.0.0.1" })).port;
  const table: RouteTable = { ...routeTable([vhost("example.com", [route("/", "Prefix", B, options)])]), server: { ...defaultServerSettings, ...opts.server } };
  await proxy.applyRoutes(table, endpointTable({ [B]: [member(up.port)] }));
  return { proxy, port, up };
}

/** Raw bytes on a fresh connection (to `host`); resolves with everything read until the proxy closes it. */
function raw(port: number, data: string | string[], host = "127.0.0.1", gapMs = 0): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let text = "";
    s.on("connect", () => {
      const parts = Array.isArray(data) ? data : [data];
      let i = 0;
      const next = (): void => {
        if (i < parts.length && !s.destroyed) s.write(parts[i++] as string);
        if (i < parts.length) setTimeout(next, gapMs);
      };
      next();
    });
    s.on("data", (d: Buffer) => (text += d.toString("latin1")));
    s.on("error", () => resolve(text));
    s.on("close", () => resolve(text));
  });
}

const H = "Host: example.com\r\n";

describe("max-body-size", () => {
  it("413 at once when Content-Length exceeds it; the connection closes; the member gets nothing", async () => {
    const { port, up } = await setup({ maxBodyBytes: 1024 });
    const text = await raw(port, `POST / HTTP/1.1\r\n${H}Content-Length: 1025\r\n\r\n${"a".repeat(100)}`);
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text.toLowerCase()).toContain("connection: close");
    expect(up.arrivals).toHaveLength(0);
  });

  it("a body at the limit passes (Content-Length and chunked)", async () => {
    const { port } = await setup({ maxBodyBytes: 1024 });
    expect(json(await send(port, { method: "POST", body: Buffer.alloc(1024, 1) })).bodyBytes).toBe(1024);
    expect(json(await send(port, { method: "POST", body: [Buffer.alloc(512, 1), Buffer.alloc(512, 2)], chunked: true })).bodyBytes).toBe(1024);
  });

  it("413 when a chunked body grows past it mid-stream: the upstream request is aborted, the connection closes", async () => {
    let aborted = false;
    let ended = false;
    const { port, up } = await setup({ maxBodyBytes: 1000 }, {
      handler: (req, res) => {
        req.on("data", () => {});
        req.on("end", () => {
          ended = true;
          res.end("ok");
        });
        req.on("aborted", () => (aborted = true));
        req.on("close", () => {
          if (!req.complete) aborted = true;
        });
      },
    });
    const chunk = (n: number): string => `${n.toString(16)}\r\n${"b".repeat(n)}\r\n`;
    const text = await raw(port, [`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${chunk(600)}`, chunk(600), chunk(600), "0\r\n\r\n"], "127.0.0.1", 50);
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    await expect.poll(() => aborted).toBe(true);
    expect(ended).toBe(false);
    expect(up.arrivals).toHaveLength(1);
  });
});

describe("client-body-timeout", () => {
  it("a body that stops arriving gets 408 and the connection closes; the upstream request is aborted", async () => {
    let complete = true;
    const { port } = await setup({}, {
      server: { clientBodyTimeoutMs: 300 },
      handler: (req, res) => {
        req.on("data", () => {});
        req.on("close", () => (complete = req.complete));
        req.on("end", () => res.end("ok"));
      },
    });
    const text = await raw(port, `POST / HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\n0123456789`);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(text.toLowerCase()).toContain("connection: close");
    await expect.poll(() => complete).toBe(false);
  });

  it("a body whose chunks keep coming within the timeout passes", async () => {
    const { port } = await setup({}, { server: { clientBodyTimeoutMs: 1_000 } });
    const text = await raw(port, [`POST / HTTP/1.1\r\n${H}Connection: close\r\nContent-Length: 6\r\n\r\nab`, "cd", "ef"], "127.0.0.1", 100);
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toContain('"bodyBytes":6');
  });
});

describe("max-connections-per-worker", () => {
  it("over the cap a new connection is closed at once and counted; below it again, connections are served", async () => {
    const { proxy, port } = await setup({}, { server: { maxConnectionsPerWorker: 2 } });
    const held: Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const s = connect({ host: "127.0.0.1", port });
      s.on("error", () => {});
      await new Promise<void>((r) => s.once("connect", () => r()));
      // One keep-alive request each, answered: the connection is surely open on the proxy.
      s.write(`GET / HTTP/1.1\r\n${H}\r\n`);
      await new Promise<void>((r) => s.once("data", () => r()));
      held.push(s);
    }
    const refused = await raw(port, `GET / HTTP/1.1\r\n${H}\r\n`);
    expect(refused).toBe("");
    expect(proxy.droppedConnections).toBe(1);
    for (const s of held) s.destroy();
    await expect.poll(async () => (await send(port).catch(() => ({ status: 0 }))).status).toBe(200);
  });
});

describe("allow-cidrs / deny-cidrs", () => {
  it.each([
    { name: "allow list without the client: 403", options: { allowCidrs: ["10.0.0.0/8"] }, status: 403 },
    { name: "allow list with the client: 200", options: { allowCidrs: ["127.0.0.0/8"] }, status: 200 },
    { name: "deny list with the client: 403", options: { denyCidrs: ["127.0.0.1/32"] }, status: 403 },
    { name: "deny wins over allow", options: { allowCidrs: ["127.0.0.0/8"], denyCidrs: ["127.0.0.1/32"] }, status: 403 },
    { name: "deny list without the client: 200", options: { denyCidrs: ["10.0.0.0/8", "::1/128"] }, status: 200 },
  ])("IPv4: $name", async ({ options, status }) => {
    const { port, up } = await setup(options);
    const reply = await send(port);
    expect(reply.status).toBe(status);
    expect(up.arrivals).toHaveLength(status === 200 ? 1 : 0);
  });

  it("IPv6 peers: ::1 is matched by IPv6 CIDRs", async () => {
    const { port } = await setup({ allowCidrs: ["::1/128"] }, { host: "::1" });
    const ok = await raw(port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, "::1");
    expect(ok).toMatch(/^HTTP\/1\.1 200 /);
    const denied = await setup({ denyCidrs: ["::/0"] }, { host: "::1" });
    expect(await raw(denied.port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, "::1")).toMatch(/^HTTP\/1\.1 403 /);
  });

  it("a dual-stack listener sees IPv4 peers as ::ffff:127.0.0.1; IPv4 CIDRs still match them", async () => {
    const { port } = await setup({ allowCidrs: ["127.0.0.0/8"] }, { host: "::" });
    expect(await raw(port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, "127.0.0.1")).toMatch(/^HTTP\/1\.1 200 /);
    const denied = await setup({ denyCidrs: ["127.0.0.1"] }, { host: "::" });
    expect(await raw(denied.port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, "127.0.0.1")).toMatch(/^HTTP\/1\.1 403 /);
  });
});

describe("--trusted-proxies", () => {
  it.each([
    { name: "untrusted peer: X-Forwarded-For is ignored for the client address", trusted: [], xff: "10.9.9.9", deny: ["10.9.9.9/32"], status: 200, upstreamXff: "10.9.9.9, 127.0.0.1" },
    { name: "trusted peer: the right-most untrusted entry is the client", trusted: ["127.0.0.0/8", "10.0.0.0/8"], xff: "203.0.113.7, 198.51.100.1, 10.0.0.2", deny: ["198.51.100.1/32"], status: 403, upstreamXff: null },
    { name: "trusted peer: a client left of the right-most untrusted entry is not believed", trusted: ["127.0.0.0/8"], xff: "198.51.100.1, 203.0.113.7", deny: ["198.51.100.1/32"], status: 200, upstreamXff: "198.51.100.1, 203.0.113.7, 127.0.0.1" },
    { name: "trusted peer: an IPv6 client in X-Forwarded-For meets IPv6 CIDRs", trusted: ["127.0.0.1"], xff: "2001:db8::5", deny: ["2001:db8::/32"], status: 403, upstreamXff: null },
    { name: "configured but untrusted peer: the forged chain is dropped upstream", trusted: ["10.0.0.0/8"], xff: "198.51.100.1", deny: ["198.51.100.1/32"], status: 200, upstreamXff: "127.0.0.1" },
    { name: "all entries trusted: the left-most is the client", trusted: ["127.0.0.0/8", "10.0.0.0/8"], xff: "10.1.1.1, 10.2.2.2", deny: ["10.1.1.1/32"], status: 403, upstreamXff: null },
  ])("$name", async ({ trusted, xff, deny, status, upstreamXff }) => {
    const { port } = await setup({ denyCidrs: deny }, { trustedProxies: trusted });
    const reply = await send(port, { headers: { "x-forwarded-for": xff } });
    expect(reply.status).toBe(status);
    if (upstreamXff !== null) expect(json(reply).headers["x-forwarded-for"]).toBe(upstreamXff);
  });
});

describe("limit-rps / limit-burst", () => {
  it("the bucket holds limit-rps + limit-burst; over it 429 with Retry-After; another client has its own bucket", async () => {
    const { port } = await setup({ rateLimit: { rps: 1, burst: 9 } }, { trustedProxies: ["127.0.0.1"] });
    const started = performance.now();
    const replies = await Promise.all(Array.from({ length: 11 }, () => send(port, { headers: { "x-forwarded-for": "198.51.100.1" } })));
    const elapsedS = (performance.now() - started) / 1000;
    const ok = replies.filter((r) => r.status === 200).length;
    const limited = replies.filter((r) => r.status === 429);
    expect(ok + limited.length).toBe(11);
    // 10 tokens at once, plus one per second that passed (a loaded machine may take that long).
    expect(ok).toBeGreaterThanOrEqual(10);
    expect(ok).toBeLessThanOrEqual(10 + Math.floor(elapsedS));
    if (elapsedS < 1) expect(limited).toHaveLength(1);
    for (const r of limited) {
      expect(r.headers["retry-after"]).toBe("1");
      expect(r.body.toString()).toBe("Too Many Requests\n");
    }
    expect((await send(port, { headers: { "x-forwarded-for": "198.51.100.2" } })).status).toBe(200);
  });
});

describe("limit-connections", () => {
  it("a second concurrent request of the same client gets 429; once the first ends, it is served", async () => {
    let release: (() => void) | null = null;
    const { port } = await setup({ limitConnections: 1 }, {
      handler: (req, res) => {
        req.resume();
        if (req.url === "/slow") release = () => res.end("slow");
        else res.end("fast");
      },
    });
    const slow = new Promise<number>((resolve, reject) => {
      const r = httpRequest({ host: "127.0.0.1", port, path: "/slow", headers: { host: "example.com" }, agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      r.on("error", reject);
      r.end();
    });
    await expect.poll(() => release !== null).toBe(true);
    const second = await send(port, { path: "/fast" });
    expect(second.status).toBe(429);
    expect(second.headers["retry-after"]).toBe("1");
    (release as unknown as () => void)();
    expect(await slow).toBe(200);
    expect((await send(port, { path: "/fast" })).status).toBe(200);
  });
});

describe("WebSocket upgrades", () => {
  const handshake = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

  it("deny-cidrs refuses the upgrade with 403; the member never sees it", async () => {
    const { port, up } = await setup({ denyCidrs: ["127.0.0.0/8"] });
    const text = await raw(port, `GET /chat HTTP/1.1\r\n${H}${handshake}\r\n`);
    expect(text).toMatch(/^HTTP\/1\.1 403 /);
    expect(up.arrivals).toHaveLength(0);
  });

  it("limit-rps applies to upgrades (429 with Retry-After once the bucket is empty)", async () => {
    const { port } = await setup({ rateLimit: { rps: 1, burst: 0 } });
    const first = await raw(port, `GET /chat HTTP/1.1\r\n${H}${handshake}\r\n`);
    const second = await raw(port, `GET /chat HTTP/1.1\r\n${H}${handshake}\r\n`);
    // The echo member answers the handshake with a plain 200 (relayed); the second is refused unless a second passed.
    expect(first).toMatch(/^HTTP\/1\.1 200 /);
    expect(second).toMatch(/^HTTP\/1\.1 (429|200) /);
    if (second.startsWith("HTTP/1.1 429")) expect(second.toLowerCase()).toContain("retry-after: 1");
  });
});

describe("CONNECT tunnels (allow-connect)", () => {
  const connectHead = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";

  /** A CONNECT on a fresh socket; resolves with the first bytes answered (the socket is kept in `held`). */
  function openConnect(port: number, held: Socket[]): Promise<string> {
    return new Promise((resolve) => {
      const s = connect({ host: "127.0.0.1", port });
      held.push(s);
      let text = "";
      s.on("error", () => resolve(text));
      s.on("close", () => resolve(text));
      s.on("data", (d: Buffer) => {
        text += d.toString("latin1");
        if (text.includes("\r\n\r\n")) resolve(text);
      });
      s.on("connect", () => s.write(connectHead));
    });
  }

  it("deny-cidrs refuses a denied client's CONNECT with 403, before the port check; no tunnel opens", async () => {
    const { proxy, port } = await setup({ connectPorts: [443], denyCidrs: ["127.0.0.0/8"] });
    const text = await raw(port, connectHead);
    expect(text).toMatch(/^HTTP\/1\.1 403 /);
    expect(text).not.toContain("Connection Established");
    expect(proxy.openConnectTunnels).toBe(0);
    // A port the Ingress does not list: still 403 by the CIDR rule (the list is not revealed).
    expect(await raw(port, "CONNECT example.com:22 HTTP/1.1\r\nHost: example.com:22\r\n\r\n")).toMatch(/^HTTP\/1\.1 403 /);
  });

  it("allow-cidrs admits a listed client's CONNECT (200 Connection Established) and refuses an unlisted one", async () => {
    const held: Socket[] = [];
    try {
      const ok = await setup({ connectPorts: [443], allowCidrs: ["127.0.0.0/8"] });
      expect(await openConnect(ok.port, held)).toMatch(/^HTTP\/1\.1 200 Connection Established\r\n/);
      const refused = await setup({ connectPorts: [443], allowCidrs: ["10.0.0.0/8"] });
      expect(await raw(refused.port, connectHead)).toMatch(/^HTTP\/1\.1 403 /);
    } finally {
      for (const s of held) s.destroy();
    }
  });

  it("X-Forwarded-For from a trusted proxy names the CONNECT client for deny-cidrs", async () => {
    const { port } = await setup({ connectPorts: [443], denyCidrs: ["198.51.100.1/32"] }, { trustedProxies: ["127.0.0.1"] });
    expect(await raw(port, `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nX-Forwarded-For: 198.51.100.1\r\n\r\n`)).toMatch(/^HTTP\/1\.1 403 /);
  });

  it("limit-connections: an open tunnel holds its slot (a second CONNECT gets 429), released when it closes", async () => {
    const held: Socket[] = [];
    try {
      const { proxy, port } = await setup({ connectPorts: [443], limitConnections: 1 });
      expect(await openConnect(port, held)).toMatch(/^HTTP\/1\.1 200 /);
      const second = await raw(port, connectHead);
      expect(second).toMatch(/^HTTP\/1\.1 429 /);
      expect(second.toLowerCase()).toContain("retry-after: 1");
      for (const s of held.splice(0)) s.destroy();
      await expect.poll(() => proxy.openConnectTunnels, { timeout: 10_000 }).toBe(0);
      expect(await openConnect(port, held)).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      for (const s of held) s.destroy();
    }
  });

  it("limit-rps applies to CONNECT (429 with Retry-After once the bucket is empty)", async () => {
    const held: Socket[] = [];
    try {
      const { port } = await setup({ connectPorts: [443], rateLimit: { rps: 1, burst: 0 } });
      const started = performance.now();
      expect(await openConnect(port, held)).toMatch(/^HTTP\/1\.1 200 /);
      const second = await raw(port, connectHead);
      if (performance.now() - started < 1000) expect(second).toMatch(/^HTTP\/1\.1 429 /);
      else expect(second).toMatch(/^HTTP\/1\.1 (429|200) /);
    } finally {
      for (const s of held) s.destroy();
    }
  });
});

describe("order on the request path", () => {
  const auth = { basic: { realm: "r", htpasswd: [] }, external: null };

  it("deny-cidrs answers 403 before basic auth would answer 401; an allowed client meets the 401", async () => {
    const denied = await setup({ denyCidrs: ["127.0.0.0/8"], auth });
    expect((await send(denied.port)).status).toBe(403);
    const allowed = await setup({ denyCidrs: ["10.0.0.0/8"], auth });
    expect((await send(allowed.port)).status).toBe(401);
  });

  it("max-body-size comes after authentication: an unauthenticated oversized body gets 401, not 413", async () => {
    const { port, up } = await setup({ maxBodyBytes: 4, auth });
    const text = await raw(port, `POST / HTTP/1.1\r\n${H}Content-Length: 10\r\nConnection: close\r\n\r\n0123456789`);
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    expect(up.arrivals).toHaveLength(0);
  });
});
