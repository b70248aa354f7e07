import { request as httpRequest } from "node:http";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ProxyServer } from "../../src/dataplane/index.js";
import { endpointTable, member, route, routeTable, send, startUpstream, vhost, type Upstream } from "./helpers.js";

const B = "default/web:80";
const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

class Lines extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    for (const line of chunk.toString().split("\n")) if (line !== "") this.lines.push(JSON.parse(line) as Record<string, unknown>);
    cb();
  }
}

async function setup(options: { logLevel?: string; accessLog?: boolean; hang?: boolean } = {}): Promise<{ proxy: ProxyServer; port: number; up: Upstream; lines: Lines; release: Array<() => void> }> {
  const lines = new Lines();
  const root = pino({ level: "trace" }, lines);
  const release: Array<() => void> = [];
  const up = await startUpstream("u", (req, res) => {
    req.resume();
    if (options.hang === true) release.push(() => res.end("late"));
    else res.end("ok");
  });
  const proxy = new ProxyServer({
    logger: root.child({ component: "proxy" }, { level: options.logLevel ?? "debug" }),
    accessLogger: options.accessLog === true ? root.child({ component: "access" }) : null,
  });
  const port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
  cleanup.push(() => up.close(), () => proxy.close(500));
  await proxy.applyRoutes(routeTable([vhost("example.com", [route("/", "Prefix", B, {}, "ns/ing")])]), endpointTable({ [B]: [member(up.port)] }));
  return { proxy, port, up, lines, release };
}

function pending(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path: "/slow", headers: { host: "example.com" }, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("access log", () => {
  it("writes one info line per request with the contract fields when enabled", async () => {
    const { port, up, lines } = await setup({ accessLog: true, logLevel: "info" });
    await send(port, { path: "/a?x=1" });
    await send(port, { path: "/b", headers: { host: "nothing.test" } });
    const access = lines.lines.filter((l) => l.component === "access");
    expect(access).toHaveLength(2);
    expect(access[0]).toMatchObject({ level: 30, method: "GET", host: "example.com", path: "/a?x=1", status: 200, bytes: 2, member: `127.0.0.1:${up.port}`, ingress: "ns/ing" });
    expect(typeof access[0]?.durationMs).toBe("number");
    expect(access[1]).toMatchObject({ status: 404, member: null, ingress: null });
  });

  it("logs nothing above debug on the request path when disabled, even for upstream errors", async () => {
    const { proxy, port, up, lines } = await setup({ accessLog: false, logLevel: "trace" });
    await send(port);
    await proxy.applyEndpoints(endpointTable({ [B]: [member(1)] })); // port 1: refused
    expect((await send(port)).status).toBe(502);
    expect(lines.lines.filter((l) => (l.level as number) > 20)).toEqual([]);
    expect(lines.lines.some((l) => l.msg === "upstream error" && l.code === "PPI_ERR_UPSTREAM_REFUSED")).toBe(true);
    expect(up.arrivals).toHaveLength(1);
  });
});

describe("lifecycle", () => {
  it("a removed member's in-flight request completes; its pool closes afterwards", async () => {
    const { proxy, port, up, release } = await setup({ hang: true });
    const inflight = pending(port);
    await expect.poll(() => up.arrivals.length).toBe(1);
    const other = await startUpstream("other");
    cleanup.push(() => other.close());
    await proxy.applyEndpoints(endpointTable({ [B]: [member(other.port)] }));
    expect(proxy.registry.retiringCount).toBe(1);
    expect((await send(port)).headers["x-member"]).toBe("other");
    for (const r of release) r();
    expect(await inflight).toBe(200);
    await proxy.registry.drained();
    expect(proxy.registry.retiringCount).toBe(0);
  });

  it("close(grace) stops accepting and lets in-flight requests finish within the grace", async () => {
    const { proxy, port, up, release } = await setup({ hang: true });
    const inflight = pending(port);
    await expect.poll(() => up.arrivals.length).toBe(1);
    const closing = proxy.close(5_000);
    await expect(send(port)).rejects.toThrow(); // no longer accepting
    for (const r of release) r();
    expect(await inflight).toBe(200);
    await closing;
  });

  it("close(grace) destroys what is still in flight after the grace", async () => {
    const { proxy, port, up } = await setup({ hang: true });
    const outcome = pending(port).then(
      () => "completed",
      () => "destroyed",
    );
    await expect.poll(() => up.arrivals.length).toBe(1);
    // The upstream never answers: close() returns only because the grace ends and it destroys.
    await proxy.close(200);
    expect(await outcome).toBe("destroyed");
  });
});
