// Server settings (RouteTable.server) applied to a running ProxyServer through real sockets: Node
// reads headersTimeout, requestTimeout, keepAliveTimeout and maxRequestsPerSocket at runtime, so a
// route apply changes them without a restart; the access log and log levels switch at once; the
// upstream keep-alive applies to pools created afterwards.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Agent } from "node:http";
import { connect, type Socket } from "node:net";
import { Writable } from "node:stream";
import { pino } from "pino";
import { ProxyServer } from "../../src/dataplane/index.js";
import { defaultServerSettings, type RouteTable, type ServerSettings } from "../../src/model/index.js";
import { createLoggerFactory } from "../../src/util/index.js";
import { endpointTable, member, route, routeTable, send, silentLogger, startUpstream, vhost, type Upstream } from "./helpers.js";

const ID = "default/web:80";

/** Lines written to an in-process pino destination. */
class Capture extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const line of chunk.toString("utf8").split("\n")) if (line !== "") this.lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  }
}

function withServer(table: RouteTable, server: Partial<ServerSettings>): RouteTable {
  return { ...table, version: `${table.version}+${JSON.stringify(server)}`, server: { ...defaultServerSettings, ...server } };
}

/** Opens a raw connection; resolves with it once connected. */
function rawConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Everything the server sends until it closes the connection, and how long that took (ms). */
function untilClosed(socket: Socket): Promise<{ text: string; ms: number }> {
  const start = performance.now();
  let text = "";
  socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
  return new Promise((resolve) => socket.once("close", () => resolve({ text, ms: performance.now() - start })));
}

describe("ProxyServer server settings", () => {
  let upstream: Upstream;
  let proxy: ProxyServer;
  let port: number;
  let access: Capture;
  let table: RouteTable;

  beforeEach(async () => {
    upstream = await startUpstream("web");
    access = new Capture();
    proxy = new ProxyServer({ logger: silentLogger, accessLogger: pino({ level: "info" }, access), timeoutCheckIntervalMs: 50 });
    port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
    table = routeTable([vhost("example.com", [route("/", "Prefix", ID)])]);
  });

  afterEach(async () => {
    await proxy.close(0);
    await upstream.close();
  });

  const apply = (server: Partial<ServerSettings>): Promise<void> => proxy.applyRoutes(withServer(table, server), endpointTable({ [ID]: [member(upstream.port)] }));

  it("applies every setting of the route table to the running server", async () => {
    await apply({ clientHeaderTimeoutMs: 1500, clientRequestTimeoutMs: null, keepAliveTimeoutMs: 700, maxRequestsPerConnection: 3, upstreamKeepAliveTimeoutMs: 900 });
    expect(proxy.serverSettings).toMatchObject({ clientHeaderTimeoutMs: 1500, clientRequestTimeoutMs: null, keepAliveTimeoutMs: 700, maxRequestsPerConnection: 3, upstreamKeepAliveTimeoutMs: 900 });
    expect((await send(port)).status).toBe(200);
  });

  it("keep-alive-timeout: a lower value closes idle client connections sooner (from their next response)", async () => {
    await apply({});
    const socket = await rawConnect(port);
    const closed = untilClosed(socket);
    await apply({ keepAliveTimeoutMs: 100 });
    socket.write("GET / HTTP/1.1\r\nhost: example.com\r\n\r\n");
    const { text, ms } = await closed;
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    // 100 ms plus Node's 1 s keepAliveTimeoutBuffer; the default would be 5 s + 1 s.
    expect(ms).toBeLessThan(3_000);
  });

  it("client-header-timeout: a client slow to send its headers gets 408 and the connection closes", async () => {
    await apply({ clientHeaderTimeoutMs: 200 });
    const socket = await rawConnect(port);
    const closed = untilClosed(socket);
    socket.write("GET / HTTP/1.1\r\nhost: example.com\r\nx-slow: ");
    const { text, ms } = await closed;
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(ms).toBeLessThan(3_000);
    expect(upstream.arrivals).toHaveLength(0);
  });

  it("client-request-timeout: a client slow to send its body gets 408; disabled, the same request completes", async () => {
    await apply({ clientHeaderTimeoutMs: 200, clientRequestTimeoutMs: 300 });
    const slow = await rawConnect(port);
    const closed = untilClosed(slow);
    slow.write("POST / HTTP/1.1\r\nhost: example.com\r\ncontent-length: 4\r\n\r\nab");
    const { text } = await closed;
    expect(text).toMatch(/408/);

    await apply({ clientHeaderTimeoutMs: 200, clientRequestTimeoutMs: null });
    const patient = await rawConnect(port);
    const done = untilClosed(patient);
    patient.write("POST / HTTP/1.1\r\nhost: example.com\r\nconnection: close\r\ncontent-length: 4\r\n\r\nab");
    // Past the old request timeout: nothing expires it any more.
    await new Promise((r) => setTimeout(r, 500));
    patient.write("cd");
    expect((await done).text).toMatch(/^HTTP\/1\.1 200 /);
  });

  it("max-requests-per-connection: the last allowed response says connection: close", async () => {
    await apply({ maxRequestsPerConnection: 2 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await send(port, { agent });
      const second = await send(port, { agent });
      expect(first.headers.connection).toBe("keep-alive");
      expect(second.headers.connection).toBe("close");
    } finally {
      agent.destroy();
    }
  });

  it("upstream-keep-alive-timeout: pools created after the change close idle upstream connections after it", async () => {
    // No Keep-Alive hint from the upstream, so undici uses our timeout.
    upstream.server.keepAliveTimeout = 0;
    await apply({ upstreamKeepAliveTimeoutMs: 150 });
    let closedAt = 0;
    upstream.server.once("connection", (s: Socket) => s.once("close", () => (closedAt = performance.now())));
    expect((await send(port)).status).toBe(200);
    const sent = performance.now();
    await expect.poll(() => closedAt, { timeout: 3_000, interval: 20 }).toBeGreaterThan(0);
    expect(closedAt - sent).toBeLessThan(2_000);
  });

  it("access-log: off stops access lines at once, unset goes back to the flag (on)", async () => {
    await apply({});
    await send(port);
    expect(access.lines.filter((l) => l["msg"] === "request")).toHaveLength(1);
    await apply({ accessLog: false });
    await send(port);
    await send(port, { path: "/nowhere", headers: { host: "unknown.test" } });
    expect(access.lines.filter((l) => l["msg"] === "request")).toHaveLength(1);
    await apply({ accessLog: null });
    await send(port);
    expect(access.lines.filter((l) => l["msg"] === "request")).toHaveLength(2);
  });

  it("access-log: true turns it on when --access-log was false", async () => {
    const lines = new Capture();
    const off = new ProxyServer({ logger: silentLogger, accessLogger: pino({ level: "info" }, lines), accessLog: false });
    try {
      const offPort = (await off.listen({ port: 0, host: "127.0.0.1" })).port;
      const endpoints = endpointTable({ [ID]: [member(upstream.port)] });
      await off.applyRoutes(withServer(table, {}), endpoints);
      await send(offPort);
      expect(lines.lines).toHaveLength(0);
      await off.applyRoutes(withServer(table, { accessLog: true }), endpoints);
      await send(offPort);
      expect(lines.lines.map((l) => l["status"])).toEqual([200]);
    } finally {
      await off.close(0);
    }
  });
});

describe("ProxyServer log levels", () => {
  it("log-level sets the levels of the data plane's loggers; unset goes back to the flag's", async () => {
    const out = new Capture();
    const loggers = createLoggerFactory("info", out);
    const proxyLog = loggers("proxy");
    const server = new ProxyServer({ logger: proxyLog, logLevels: loggers });
    try {
      const table = routeTable([]);
      const endpoints = endpointTable({});
      await server.applyRoutes(withServer(table, { logLevel: "warn,proxy=debug" }), endpoints);
      expect(proxyLog.level).toBe("debug");
      expect(loggers("access").level).toBe("warn");
      expect(out.lines.some((l) => l["component"] === "proxy" && l["msg"] === "routes applied")).toBe(true);
      await server.applyRoutes(withServer(table, {}), endpoints);
      expect(proxyLog.level).toBe("info");
      expect(loggers.levels).toBe("info");
    } finally {
      await server.close(0);
    }
  });
});
