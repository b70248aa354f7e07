// Upstream faults through real sockets (issue #10): what the client sees when a member resets
// mid-body, hangs, disappears; that idle pooled connections to a removed member are closed, not
// reused; that a slow reader bounds what is read from the member; and that member churn leaves no
// pools, sockets or retiring members behind.
import { createServer as createHttpServer, request as httpRequest, type Server } from "node:http";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProxyServer } from "../../src/dataplane/index.js";
import type { BalancerSettings, FailoverConfig, Member, RouteOptions } from "../../src/model/index.js";
import { endpointTable, json, member, route, routeTable, send, silentLogger, startUpstream, vhost, type Upstream } from "./helpers.js";

const B = "default/web:80";

let proxy: ProxyServer;
let port: number;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  // A long upstream keep-alive, so a closed idle connection can only come from the member's removal.
  proxy = new ProxyServer({ logger: silentLogger, upstream: { keepAliveTimeoutMs: 60_000 } });
  port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await proxy.close(1_000);
});

const failover = (overrides: Partial<FailoverConfig> = {}): FailoverConfig => ({ maxAttempts: null, retryMs: 60_000, failOnStatus: [], failOnTimeout: false, ...overrides });

async function serve(members: Member[], settings: Partial<BalancerSettings> = {}, options: Partial<RouteOptions> = {}): Promise<void> {
  await proxy.applyRoutes(routeTable([vhost("example.com", [route("/", "Prefix", B, options)])], null, { [B]: settings }), endpointTable({ [B]: members }));
}

async function upstream(name: string, handler?: Parameters<typeof startUpstream>[1]): Promise<Upstream> {
  const u = await startUpstream(name, handler);
  cleanups.push(() => u.close());
  return u;
}

/** A raw TCP "member" that answers every connection with `onConnection`; counts connections. */
async function rawMember(onConnection: (socket: Socket) => void): Promise<{ port: number; connections: () => number; open: () => number }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    onConnection(socket);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as AddressInfo).port, connections: () => connections, open: () => sockets.size };
}

/** Sends one raw request and collects every byte until the proxy closes the connection (or `ms` passes). */
function rawExchange(request: string, ms = 10_000): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    const parts: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ data: Buffer.concat(parts), closed: false });
    }, ms);
    s.on("data", (d: Buffer) => parts.push(d));
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(parts), closed: true });
    });
    s.write(request);
  });
}

const GET = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

describe("reset mid-body: the client connection is aborted, never a truncated body presented as complete", () => {
  it.each([
    {
      name: "Content-Length 100000 declared, 1000 bytes sent, then reset: fewer bytes than declared and the connection closed",
      head: "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",
      chunk: "x".repeat(1000),
      chunked: false,
    },
    {
      name: "chunked, two chunks sent, then reset: no terminating zero-length chunk and the connection closed",
      head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
      chunk: "3e8\r\n" + "x".repeat(1000) + "\r\n3e8\r\n" + "y".repeat(1000) + "\r\n",
      chunked: true,
    },
  ])("$name", async ({ head, chunk, chunked }) => {
    const m = await rawMember((socket) => {
      socket.once("data", () => {
        socket.write(head + chunk, () => setTimeout(() => socket.resetAndDestroy(), 20));
      });
    });
    await serve([member(m.port)], { failover: failover({ maxAttempts: 0 }) });
    // Keep-alive request: only closing the connection tells the client the body is incomplete.
    const { data, closed } = await rawExchange(GET);
    expect(closed).toBe(true);
    const text = data.toString("latin1");
    expect(text.startsWith("HTTP/1.1 200 ")).toBe(true);
    const body = text.slice(text.indexOf("\r\n\r\n") + 4);
    if (chunked) {
      expect(text.toLowerCase()).toContain("transfer-encoding: chunked");
      expect(body).toContain("y".repeat(1000));
      expect(body.endsWith("0\r\n\r\n")).toBe(false);
    } else {
      expect(text.toLowerCase()).toContain("content-length: 100000");
      expect(body.length).toBeLessThan(100_000);
    }
    // node's client reports it as an error, not as a complete response.
    await expect(send(port)).rejects.toThrow();
  });
});

describe("a member that accepts and never answers", () => {
  it("a single member: 504 once `timeout` has passed", async () => {
    const m = await rawMember(() => {});
    await serve([member(m.port)], {}, { timeouts: { connectMs: 5_000, readMs: 300 } });
    const r = await send(port);
    expect(r.status).toBe(504);
    expect(r.body.toString()).toBe("Gateway Timeout\n");
  });

  it("POST (not retried once sent): 504 after `timeout`", async () => {
    const hung = await rawMember((s) => s.resume());
    const live = await upstream("live");
    const [first] = [hung.port, live.port].sort((a, b) => `127.0.0.1:${a}`.localeCompare(`127.0.0.1:${b}`));
    await serve(
      [member(hung.port), member(live.port)],
      { failover: failover({ failOnTimeout: true }), lbmethod: "byrequests" },
      { timeouts: { connectMs: 5_000, readMs: 300 } },
    );
    // byrequests elects the first member in key order first: make sure the POST goes to the hung one.
    if (first !== hung.port) expect((await send(port)).status).toBe(200);
    const r = await send(port, { method: "POST", body: "x" });
    expect(r.status).toBe(504);
  });

  it("with fail-on-timeout, GETs are retried elsewhere (200) and, once it is in error, it gets no new request", async () => {
    const hung = await rawMember((s) => s.resume());
    const live = await upstream("live");
    await serve([member(hung.port), member(live.port)], { failover: failover({ failOnTimeout: true }) }, { timeouts: { connectMs: 5_000, readMs: 300 } });
    const first = await Promise.all(Array.from({ length: 4 }, () => send(port)));
    expect(first.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const connections = hung.connections();
    expect(connections).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 10; i++) {
      const r = await send(port);
      expect(r.status).toBe(200);
      expect(json(r).member).toBe("live");
    }
    expect(hung.connections()).toBe(connections);
  });
});

describe("member removal", () => {
  it("idle keep-alive connections to a removed member are closed at once, not kept for reuse", async () => {
    const gone = await upstream("gone");
    const stays = await upstream("stays");
    gone.server.keepAliveTimeout = 60_000;
    let open = 0;
    gone.server.on("connection", (s: Socket) => {
      open++;
      s.on("close", () => open--);
    });
    await serve([member(gone.port), member(stays.port)]);
    for (let i = 0; i < 4; i++) expect((await send(port)).status).toBe(200);
    expect(gone.arrivals.length).toBeGreaterThanOrEqual(1);
    expect(open).toBeGreaterThanOrEqual(1); // the proxy pools it (upstream keep-alive 60 s)
    await proxy.applyEndpoints(endpointTable({ [B]: [member(stays.port)] }));
    await expect.poll(() => open, { timeout: 5_000 }).toBe(0);
    await proxy.registry.drained();
    const arrivals = gone.arrivals.length;
    for (let i = 0; i < 4; i++) expect(json(await send(port)).member).toBe("stays");
    expect(gone.arrivals.length).toBe(arrivals);
  });

  it("a connection refused because the pod is gone is retried on another member, for POST too", async () => {
    const live = await upstream("live");
    const gone = await upstream("gone");
    const gonePort = gone.port;
    await gone.close();
    await serve([member(gonePort), member(live.port)]);
    for (const method of ["GET", "POST", "PATCH"]) {
      for (let i = 0; i < 3; i++) {
        const r = await send(port, { method, body: method === "GET" ? undefined : "payload" });
        expect(r.status).toBe(200);
      }
    }
  });

  it("a member closing its idle keep-alive connection (pod shutting down) costs no request", async () => {
    // The member closes each connection right after its response, without saying Connection: close.
    const m = await rawMember((socket) => {
      socket.on("data", () => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    });
    await serve([member(m.port)]);
    for (let i = 0; i < 20; i++) expect((await send(port, { method: i % 2 === 0 ? "GET" : "POST", body: i % 2 === 0 ? undefined : "x" })).status).toBe(200);
  });

  it("100 rounds of member replacement leave no retiring member, no open upstream socket, no stale member and no health-check state", async () => {
    const servers: Server[] = [];
    let open = 0;
    const startMember = async (): Promise<number> => {
      const s = createHttpServer((req, res) => {
        req.resume();
        res.end("ok");
      });
      s.keepAliveTimeout = 60_000;
      s.on("connection", (c: Socket) => {
        open++;
        c.on("close", () => open--);
      });
      await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
      servers.push(s);
      return (s.address() as AddressInfo).port;
    };
    cleanups.push(async () => {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    });
    const ports = await Promise.all(Array.from({ length: 6 }, startMember));
    // Active health checks on: each member has a check timer and state that must go with it.
    const checked: Partial<BalancerSettings> = { healthCheck: { uri: "/healthz", method: "GET", intervalMs: 60_000, passes: 1, fails: 1, expect: [[200, 399]] } };
    await serve([member(ports[0] as number), member(ports[1] as number)], checked);
    for (let round = 0; round < 100; round++) {
      const a = ports[round % 6] as number;
      const b = ports[(round + 1) % 6] as number;
      const c = ports[(round + 3) % 6] as number;
      await proxy.applyEndpoints(endpointTable({ [B]: [member(a), member(b), member(c, round % 2 === 0)] }));
      expect((await send(port)).status).toBe(200);
      expect(proxy.healthChecker?.size).toBe(new Set([a, b, c]).size);
    }
    await proxy.applyEndpoints(endpointTable({ [B]: [member(ports[0] as number)] }));
    await proxy.registry.drained();
    expect(proxy.registry.retiringCount).toBe(0);
    expect([...(proxy.registry.get(B)?.members.keys() ?? [])]).toEqual([`127.0.0.1:${ports[0]}`]);
    // Only the remaining member may still hold pooled connections.
    await expect.poll(() => open, { timeout: 5_000 }).toBeLessThanOrEqual(2);
    expect(proxy.balancers()?.[0]?.members.map((m) => m.key)).toEqual([`127.0.0.1:${ports[0]}`]);
    expect([...(proxy.healthChecker?.results() ?? [])].map((r) => r.member)).toEqual([`127.0.0.1:${ports[0]}`]);
  });
});

describe("slow-reading client", () => {
  it("backpressure bounds what is read from the member: a client that reads nothing holds a bounded amount, not the whole 64 MiB", async () => {
    const size = 64 << 20;
    let written = 0;
    let ended = false;
    const u = await upstream("big", (_req, res) => {
      res.writeHead(200, { "content-length": String(size) });
      const chunk = Buffer.alloc(1 << 16, 1);
      const pump = (): void => {
        while (written < size) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
        ended = true;
        res.end();
      };
      pump();
    });
    await serve([member(u.port)]);
    const client = httpRequest({ host: "127.0.0.1", port, path: "/", headers: { host: "example.com" }, agent: false });
    client.on("error", () => {});
    const res = await new Promise<import("node:http").IncomingMessage>((resolve) => {
      client.on("response", resolve);
      client.end();
    });
    res.pause();
    // Let the pipeline fill up: the member writes until every buffer on the way is full.
    let last = -1;
    await expect
      .poll(
        () => {
          const stable = written === last;
          last = written;
          return stable && written > 0;
        },
        { timeout: 15_000, interval: 300 },
      )
      .toBe(true);
    expect(ended).toBe(false);
    // Kernel socket buffers on loopback (both hops) plus the proxy's high-water marks: a few MiB at most.
    expect(written).toBeLessThan(24 << 20);
    client.destroy();
  });
});
