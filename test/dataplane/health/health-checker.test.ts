import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer as createTcpServer, type AddressInfo } from "node:net";
import { pino, type Logger } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { FLAG_HC_FAIL, MEMBER_FLAGS, MEMBER_HC_STREAK, Scoreboard, SlotAllocator } from "../../../src/dataplane/balancer/index.js";
import { HealthChecker, ProxyServer, WorkerPool, type HealthResult } from "../../../src/dataplane/index.js";
import type { EndpointTable, HealthCheckConfig, Member, RouteTable } from "../../../src/model/index.js";
import { waitFor } from "../../support/wait.js";
import { endpointTable, member, route, routeTable, send, silentLogger, startUpstream, vhost, type Upstream } from "../helpers.js";

const B = "default/web:80";
const C = "default/api:8080";
const UA = "proxypass-ingress-hcheck";

// A check times out after min(interval, 5 s): 100 ms leaves a loaded test machine room for loopback
// round trips. Assertions wait for eventual states (a stray timeout only delays them).
const baseCheck: HealthCheckConfig = { uri: "/healthz", method: "GET", intervalMs: 100, passes: 2, fails: 3, expect: [[200, 399]] };

/** A route table whose balancers get `checks[id]` as their healthCheck (others keep null). */
function routesWith(checks: Record<string, HealthCheckConfig | null>): RouteTable {
  const ids = Object.keys(checks).sort();
  const rt = routeTable([vhost("example.com", ids.map((id, i) => route(`/${i}`, "Prefix", id)))]);
  return { ...rt, balancers: rt.balancers.map((b) => ({ ...b, healthCheck: checks[b.id] ?? null })) };
}

/** An upstream answering `state.status` to everything, recording arrivals. */
async function statusUpstream(name: string, status: number): Promise<{ up: Upstream; state: { status: number } }> {
  const state = { status };
  const up = await startUpstream(name, (req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(state.status, { "content-type": "text/plain" });
      res.end(req.method === "HEAD" ? undefined : "body");
    });
  });
  return { up, state };
}

function checksOf(up: Upstream): number {
  return up.arrivals.filter((a) => a.headers["user-agent"] === UA).length;
}

function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

/** Which member served a proxied GET of `path` (bounded: a hung request fails the test with a message). */
async function servedBy(port: number, path: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`proxied GET ${path} got no response in 5 s`)), 5_000)));
  try {
    return String((await Promise.race([send(port, { path }), hung])).headers["x-member"]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A HealthChecker on its own scoreboard, fed like a standalone primary: assign slots, then update. */
class Harness {
  readonly board = Scoreboard.create({ members: 256, balancers: 64 });
  readonly allocator = new SlotAllocator(this.board);
  readonly checker: HealthChecker;
  routes: RouteTable = routesWith({});

  constructor(logger: Logger = silentLogger) {
    this.checker = new HealthChecker({ scoreboard: this.board, logger });
  }

  apply(routes: RouteTable, endpoints: EndpointTable): void {
    this.routes = routes;
    const slots = this.allocator.assign(endpoints);
    this.allocator.release(slots.generation);
    this.checker.update(routes, endpoints, slots);
  }

  slot(balancer: string, m: Member): number {
    const slot = this.allocator.memberSlot(balancer, m.key);
    if (slot === undefined) throw new Error(`no slot for ${m.key}`);
    return slot;
  }

  failed(slot: number): boolean {
    return (this.board.memberField(slot, MEMBER_FLAGS) & FLAG_HC_FAIL) !== 0;
  }

  result(balancer: string, m: Member): HealthResult | undefined {
    for (const r of this.checker.results()) if (r.balancer === balancer && r.member === m.key) return r;
    return undefined;
  }

  /** Resolves with the member's result once `pred` holds. */
  until(balancer: string, m: Member, pred: (r: HealthResult) => boolean, what: string): Promise<HealthResult> {
    return waitFor(
      () => {
        const r = this.result(balancer, m);
        return r !== undefined && pred(r) ? r : undefined;
      },
      { what },
    );
  }
}

const cleanups: Array<() => unknown> = [];

function track<T>(value: T, close: (v: T) => unknown): T {
  cleanups.push(() => close(value));
  return value;
}

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("HealthChecker: state machine", () => {
  it("a member answering 500 gets C after `fails` checks, and loses it after `passes` checks once it answers 200 (transitions logged once each)", async () => {
    const { up, state } = await statusUpstream("a", 500);
    track(up, (u) => u.close());
    const { logger, lines } = capturingLogger();
    const h = track(new Harness(logger), (x) => x.checker.close());
    const m = member(up.port);
    h.apply(routesWith({ [B]: baseCheck }), endpointTable({ [B]: [m] }));
    const slot = h.slot(B, m);

    const failed = await h.until(B, m, (r) => !r.healthy && r.lastStatus === 500, "C set");
    expect(h.failed(slot)).toBe(true);
    expect(failed.checks).toBeGreaterThanOrEqual(baseCheck.fails);
    expect(failed.streak).toBeLessThanOrEqual(-baseCheck.fails);
    expect(failed.lastStatus).toBe(500);
    expect(failed.lastError).toBe("status 500 not expected");
    expect(h.board.memberField(slot, MEMBER_HC_STREAK)).toBeLessThanOrEqual(-baseCheck.fails);

    state.status = 200;
    const healthy = await h.until(B, m, (r) => r.healthy && r.lastStatus === 200, "C cleared");
    expect(h.failed(slot)).toBe(false);
    expect(healthy.streak).toBeGreaterThanOrEqual(baseCheck.passes);
    expect(healthy.lastStatus).toBe(200);
    expect(healthy.lastError).toBeNull();
    expect(healthy.lastCheckedAt).not.toBeNull();

    // More passing checks log nothing more.
    await h.until(B, m, (r) => r.streak >= baseCheck.passes + 3, "more passes");
    const transitions = lines.filter((l) => l.level === 30).map((l) => ({ msg: l.msg, balancer: l.balancer, member: l.member }));
    expect(transitions).toEqual([
      { msg: "member failed its health check", balancer: B, member: m.key },
      { msg: "member passed its health check again", balancer: B, member: m.key },
    ]);
  });

  it.each([
    { name: "404 passes with expect [[404, 404]]", status: 404, expect: [[404, 404]] as const, healthy: true },
    { name: "200 fails with expect [[404, 404]]", status: 200, expect: [[404, 404]] as const, healthy: false },
    { name: "302 passes with expect [[200, 399]]", status: 302, expect: [[200, 399]] as const, healthy: true },
    { name: "204 passes in the second of two ranges", status: 204, expect: [[100, 101], [204, 204]] as const, healthy: true },
    { name: "503 fails with expect [[200, 399]]", status: 503, expect: [[200, 399]] as const, healthy: false },
  ])("expect ranges: $name", async ({ status, expect: ranges, healthy }) => {
    const { up } = await statusUpstream("a", status);
    track(up, (u) => u.close());
    const h = track(new Harness(), (x) => x.checker.close());
    const m = member(up.port);
    h.apply(routesWith({ [B]: { ...baseCheck, fails: 1, passes: 1, expect: ranges } }), endpointTable({ [B]: [m] }));
    const r = await h.until(B, m, (x) => x.checks >= 3 && x.lastStatus === status && x.healthy === healthy, `healthy: ${healthy}`);
    expect(h.failed(h.slot(B, m))).toBe(!healthy);
    expect(r.lastError).toBe(healthy ? null : `status ${status} not expected`);
  });

  it.each([
    { name: "GET", method: "GET" as const },
    { name: "HEAD", method: "HEAD" as const },
    { name: "OPTIONS", method: "OPTIONS" as const },
  ])("$name check: the upstream sees the method, uri, the balancer's Host, the User-Agent and Connection: close", async ({ method }) => {
    const { up } = await statusUpstream("a", 200);
    track(up, (u) => u.close());
    const h = track(new Harness(), (x) => x.checker.close());
    const m = member(up.port);
    const routes = routesWith({ [C]: { ...baseCheck, method, uri: "/status?full=1" } });
    h.apply(routes, endpointTable({ [C]: [m] }));
    await h.until(C, m, (r) => r.streak >= 2, "two passes");
    const a = up.arrivals[0];
    expect(a).toBeDefined();
    expect({ method: a?.method, url: a?.url, host: a?.headers.host, ua: a?.headers["user-agent"], connection: a?.headers.connection }).toEqual({
      method,
      url: "/status?full=1",
      host: routes.balancers[0]?.hostHeader,
      ua: UA,
      connection: "close",
    });
    expect(routes.balancers[0]?.hostHeader).toBe("api.default.svc:8080");
    expect(h.result(C, m)?.healthy).toBe(true);
  });

  it("a large body is read up to the cap and the check still passes", async () => {
    const up = track(
      await startUpstream("big", (req, res) => {
        req.resume();
        res.writeHead(200, { "content-type": "application/octet-stream" });
        res.end(Buffer.alloc(1024 * 1024, 120));
      }),
      (u) => u.close(),
    );
    const h = track(new Harness(), (x) => x.checker.close());
    const m = member(up.port);
    h.apply(routesWith({ [B]: { ...baseCheck, fails: 1 } }), endpointTable({ [B]: [m] }));
    const r = await h.until(B, m, (x) => x.streak >= 3, "three passes");
    expect(r.healthy).toBe(true);
    expect(r.lastStatus).toBe(200);
  });
});

describe("HealthChecker: TCP and timeouts", () => {
  it("TCP check passes against a listening port and fails against a closed one", async () => {
    const server = createTcpServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    track(server, (s) => new Promise((r) => s.close(r)));
    const open = member((server.address() as AddressInfo).port);
    const probe = createTcpServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const closed = member((probe.address() as AddressInfo).port);
    await new Promise((r) => probe.close(r));

    const h = track(new Harness(), (x) => x.checker.close());
    h.apply(routesWith({ [B]: { ...baseCheck, method: "TCP", fails: 2 } }), endpointTable({ [B]: [open, closed] }));
    const bad = await h.until(B, closed, (r) => !r.healthy, "closed port gets C");
    expect(bad.lastError).toBe("ECONNREFUSED");
    expect(bad.lastStatus).toBeNull();
    expect(h.failed(h.slot(B, closed))).toBe(true);
    const good = await h.until(B, open, (r) => r.streak >= 3, "three passes of the open port");
    expect(good.healthy).toBe(true);
    expect(good.lastError).toBeNull();
    expect(h.failed(h.slot(B, open))).toBe(false);
  });

  it("a check that gets no answer within min(interval, 5 s) is a failure", async () => {
    const held: Array<() => void> = [];
    const up = track(
      await startUpstream("hang", (_req, res) => {
        held.push(() => res.end());
      }),
      async (u) => {
        for (const r of held) r();
        await u.close();
      },
    );
    const h = track(new Harness(), (x) => x.checker.close());
    const m = member(up.port);
    h.apply(routesWith({ [B]: { ...baseCheck, intervalMs: 100, fails: 2 } }), endpointTable({ [B]: [m] }));
    const r = await h.until(B, m, (x) => !x.healthy, "C after timeouts");
    expect(r.lastError).toBe("timeout");
    expect(r.lastStatus).toBeNull();
    expect(h.failed(h.slot(B, m))).toBe(true);
  });
});

describe("HealthChecker: updates", () => {
  it("nothing is checked when healthCheck is null", async () => {
    const { up } = await statusUpstream("a", 200);
    track(up, (u) => u.close());
    const h = track(new Harness(), (x) => x.checker.close());
    h.apply(routesWith({ [B]: null }), endpointTable({ [B]: [member(up.port)] }));
    expect(h.checker.size).toBe(0);
    expect([...h.checker.results()]).toEqual([]);
    await sleep(300);
    expect(up.arrivals).toEqual([]);
  });

  it("5,000 balancers / 50,000 members without health checks: nothing is scheduled", () => {
    const board = Scoreboard.create({ members: 65_536, balancers: 8_192 });
    const allocator = new SlotAllocator(board);
    const checker = track(new HealthChecker({ scoreboard: board, logger: silentLogger }), (c) => c.close());
    const ids = Array.from({ length: 5_000 }, (_, i) => `ns/svc-${String(i).padStart(4, "0")}:80`);
    const routes = routesWith(Object.fromEntries(ids.map((id) => [id, null])));
    const endpoints: EndpointTable = {
      version: "big",
      balancers: ids.map((balancer, i) => ({ balancer, members: Array.from({ length: 10 }, (_, j) => member(10_000 + j, true, `10.${i >> 8}.${i & 255}.1`)) })),
    };
    const slots = allocator.assign(endpoints);
    checker.update(routes, endpoints, slots);
    checker.update(routes, endpoints, slots);
    expect(checker.size).toBe(0);
  });

  it("a removed member's checks stop (the upstream sees no more) and its C is cleared", async () => {
    const a = await statusUpstream("a", 200);
    const b = await statusUpstream("b", 500);
    track(a.up, (u) => u.close());
    track(b.up, (u) => u.close());
    const h = track(new Harness(), (x) => x.checker.close());
    const ma = member(a.up.port);
    const mb = member(b.up.port);
    const routes = routesWith({ [B]: { ...baseCheck, fails: 1 } });
    h.apply(routes, endpointTable({ [B]: [ma, mb] }));
    const slotB = h.slot(B, mb);
    await h.until(B, mb, (r) => !r.healthy, "b gets C");
    expect(h.failed(slotB)).toBe(true);

    h.apply(routes, endpointTable({ [B]: [ma] }));
    expect(h.failed(slotB)).toBe(false);
    expect(h.board.memberField(slotB, MEMBER_HC_STREAK)).toBe(0);
    expect(h.result(B, mb)).toBeUndefined();
    const seen = checksOf(b.up);
    const aBefore = checksOf(a.up);
    // a keeps being checked while b gets nothing more (at most the one check already on the wire).
    await waitFor(() => (checksOf(a.up) >= aBefore + 10 ? true : undefined), { what: "ten more checks of a" });
    expect(checksOf(b.up)).toBeLessThanOrEqual(seen + 1);
  });

  it("a balancer that loses its healthCheck stops checking its members and clears their C", async () => {
    const { up } = await statusUpstream("a", 500);
    track(up, (u) => u.close());
    const h = track(new Harness(), (x) => x.checker.close());
    const m = member(up.port);
    h.apply(routesWith({ [B]: { ...baseCheck, fails: 1 } }), endpointTable({ [B]: [m] }));
    const slot = h.slot(B, m);
    await h.until(B, m, (r) => !r.healthy, "C set");

    h.apply(routesWith({ [B]: null }), endpointTable({ [B]: [m] }));
    expect(h.slot(B, m)).toBe(slot);
    expect(h.failed(slot)).toBe(false);
    expect(h.board.memberField(slot, MEMBER_HC_STREAK)).toBe(0);
    expect(h.checker.size).toBe(0);
    const seen = checksOf(up);
    await sleep(500);
    expect(checksOf(up)).toBeLessThanOrEqual(seen + 1);
  });

  it("a config change (interval) restarts the member's checks with the new settings", async () => {
    const { up } = await statusUpstream("a", 200);
    track(up, (u) => u.close());
    const h = track(new Harness(), (x) => x.checker.close());
    const m = member(up.port);
    const endpoints = endpointTable({ [B]: [m] });
    // Interval of a minute: one check within the first second, then none for ~54 s.
    h.apply(routesWith({ [B]: { ...baseCheck, intervalMs: 60_000 } }), endpoints);
    await waitFor(() => (checksOf(up) >= 1 ? true : undefined), { what: "first check" });

    h.apply(routesWith({ [B]: { ...baseCheck, intervalMs: 50 } }), endpoints);
    await waitFor(() => (checksOf(up) >= 6 ? true : undefined), { what: "checks at the new interval" });
    expect(h.result(B, m)?.healthy).toBe(true);
  });

  it("state (C, streak, check count) survives an update that does not change the member", async () => {
    const a = await statusUpstream("a", 500);
    const b = await statusUpstream("b", 200);
    track(a.up, (u) => u.close());
    track(b.up, (u) => u.close());
    const h = track(new Harness(), (x) => x.checker.close());
    const ma = member(a.up.port);
    const mb = member(b.up.port);
    const check = { ...baseCheck, fails: 2, passes: 1_000 };
    h.apply(routesWith({ [B]: check }), endpointTable({ [B]: [ma] }));
    const before = await h.until(B, ma, (r) => !r.healthy && r.checks >= 4, "C set");

    // New route table object with the same settings by value, a new endpoint table with one more member.
    h.apply(routesWith({ [B]: { ...check, expect: [[200, 399]] } }), endpointTable({ [B]: [ma, mb] }));
    const after = h.result(B, ma);
    expect(after?.healthy).toBe(false);
    expect(after?.checks).toBeGreaterThanOrEqual(before.checks);
    expect(after?.streak).toBeLessThanOrEqual(before.streak);
    expect(h.failed(h.slot(B, ma))).toBe(true);
    // Checks go on from where they were; the new member starts healthy and is checked.
    a.state.status = 200;
    const again = await h.until(B, ma, (r) => r.streak >= 3, "passes after the update");
    expect(again.healthy).toBe(false); // passes: 1000
    await h.until(B, mb, (r) => r.checks >= 2 && r.healthy, "new member checked");
  });

  it("a config change keeps C: a failed member stays out until it passes checks of the new kind", async () => {
    const { up } = await statusUpstream("a", 404);
    track(up, (u) => u.close());
    const h = track(new Harness(), (x) => x.checker.close());
    const m = member(up.port);
    h.apply(routesWith({ [B]: { ...baseCheck, fails: 1, passes: 2 } }), endpointTable({ [B]: [m] }));
    await h.until(B, m, (r) => !r.healthy, "C set");
    h.apply(routesWith({ [B]: { ...baseCheck, fails: 1, passes: 2, expect: [[404, 404]] } }), endpointTable({ [B]: [m] }));
    expect(h.result(B, m)?.healthy).toBe(false);
    await h.until(B, m, (r) => r.healthy, "cleared by checks of the new kind");
  });

  it("close() stops every check", async () => {
    const { up } = await statusUpstream("a", 200);
    track(up, (u) => u.close());
    const h = new Harness();
    const m = member(up.port);
    h.apply(routesWith({ [B]: baseCheck }), endpointTable({ [B]: [m] }));
    await h.until(B, m, (r) => r.checks >= 2, "two checks");
    h.checker.close();
    const seen = checksOf(up);
    await sleep(400);
    expect(checksOf(up)).toBeLessThanOrEqual(seen + 1);
    expect(h.checker.size).toBe(0);
  });
});

describe("HealthChecker wiring", () => {
  it("a standalone ProxyServer checks its members (routes, endpoints and deltas); a worker-mode one checks nothing", async () => {
    const a = await statusUpstream("a", 500);
    const b = await statusUpstream("b", 200);
    track(a.up, (u) => u.close());
    track(b.up, (u) => u.close());
    const ma = member(a.up.port);
    const mb = member(b.up.port);
    const routes = routesWith({ [B]: { ...baseCheck, fails: 1 } });

    const standalone = track(new ProxyServer({ logger: silentLogger }), (s) => s.close(100));
    const checker = standalone.healthChecker;
    expect(checker).not.toBeNull();
    await standalone.applyRoutes(routes, endpointTable({ [B]: [ma] }));
    await waitFor(() => ([...(checker?.results() ?? [])].some((r) => r.member === ma.key && !r.healthy) ? true : undefined), { what: "a gets C" });
    const memberA = standalone.registry.get(B)?.members.get(ma.key);
    expect(memberA).toBeDefined();

    await standalone.applyEndpointDelta({ version: "d1", balancers: [{ balancer: B, members: [mb] }] });
    await waitFor(() => (checksOf(b.up) >= 2 ? true : undefined), { what: "b checked after the delta" });
    expect([...(checker?.results() ?? [])].map((r) => r.member)).toEqual([mb.key]);

    await standalone.applyEndpoints(endpointTable({ [B]: [ma, mb] }));
    expect([...(checker?.results() ?? [])].map((r) => r.member).sort()).toEqual([ma.key, mb.key].sort());

    const worker = track(new ProxyServer({ logger: silentLogger, scoreboard: Scoreboard.create({ members: 64, balancers: 16 }) }), (s) => s.close(100));
    expect(worker.healthChecker).toBeNull();
    const c = await statusUpstream("c", 200);
    track(c.up, (u) => u.close());
    const wb = Scoreboard.create({ members: 64, balancers: 16 });
    const endpoints = endpointTable({ [B]: [member(c.up.port)] });
    worker.applyAssignedRoutes(routes, endpoints, new SlotAllocator(wb).assign(endpoints));
    await sleep(300);
    expect(c.up.arrivals).toEqual([]);
  });

  it("a member with C gets no proxied requests until it passes again", async () => {
    const health = { a: 500 };
    const handler = (name: "a" | "b") => (req: IncomingMessage, res: ServerResponse): void => {
      req.resume();
      req.on("end", () => {
        res.writeHead(req.url === "/healthz" && name === "a" ? health.a : 200, { "x-member": name });
        res.end(name);
      });
    };
    const a = track(await startUpstream("a", handler("a")), (u) => u.close());
    const b = track(await startUpstream("b", handler("b")), (u) => u.close());
    const server = track(new ProxyServer({ logger: silentLogger }), (s) => s.close(100));
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const ma = member(a.port);
    await server.applyRoutes(routesWith({ [B]: { ...baseCheck, fails: 1, passes: 1 } }), endpointTable({ [B]: [ma, member(b.port)] }));
    const checker = server.healthChecker;
    const resultA = (): HealthResult | undefined => [...(checker?.results() ?? [])].find((r) => r.member === ma.key);
    await waitFor(() => (resultA()?.healthy === false ? true : undefined), { what: "a gets C" });
    const served: string[] = [];
    for (let i = 0; i < 10; i++) served.push(await servedBy(port, "/0"));
    expect(new Set(served)).toEqual(new Set(["b"]));

    health.a = 200;
    await waitFor(() => (resultA()?.healthy === true ? true : undefined), { what: "a passes again" });
    await waitFor(async () => ((await servedBy(port, "/0")) === "a" ? true : undefined), { what: "a serves again" });
  });

  describe("WorkerPool (2 workers)", () => {
    it("the primary alone checks each member (one checker, not one per worker), and its C is in the scoreboard every worker maps", async () => {
      const { up, state } = await statusUpstream("a", 200);
      track(up, (u) => u.close());
      const pool = new WorkerPool({ workers: 2, port: 0, host: "127.0.0.1", logLevel: "silent", accessLog: false, logger: silentLogger });
      track(pool, (p) => p.close(2_000));
      await pool.start();
      const m = member(up.port);
      await pool.applyRoutes(routesWith({ [B]: { ...baseCheck, fails: 2, passes: 1 } }), endpointTable({ [B]: [m] }));

      const result = (): HealthResult | undefined => [...pool.healthChecker.results()].find((r) => r.member === m.key);
      await waitFor(() => ((result()?.checks ?? 0) >= 10 ? true : undefined), { what: "ten checks" });
      // Every check the upstream saw was made by the primary's checker: at most its count (plus the
      // one on the wire; fewer if one timed out before it arrived), where a checker per worker
      // would triple it.
      const done = result()?.checks ?? 0;
      const seen = checksOf(up);
      expect(seen).toBeGreaterThan(done / 2);
      expect(seen).toBeLessThanOrEqual(done + 1);

      state.status = 500;
      await waitFor(() => (result()?.healthy === false ? true : undefined), { what: "C set by the primary" });
      // The words the workers map: a second view of the same SharedArrayBuffer, as a worker builds it.
      const mapped = new Scoreboard(pool.scoreboard.buffer);
      const slots = [...Array(mapped.memberCapacity).keys()].filter((s) => s > 0 && (mapped.memberField(s, MEMBER_FLAGS) & FLAG_HC_FAIL) !== 0);
      expect(slots).toHaveLength(1);
      expect(mapped.memberField(slots[0] ?? 0, MEMBER_HC_STREAK)).toBeLessThanOrEqual(-2);

      // Endpoint updates go through the checker too: the member removed, its C is cleared.
      await pool.applyEndpoints(endpointTable({ [B]: [] }));
      expect(mapped.memberField(slots[0] ?? 0, MEMBER_FLAGS) & FLAG_HC_FAIL).toBe(0);
      expect(pool.healthChecker.size).toBe(0);
    });
  });
});
