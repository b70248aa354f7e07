// Endpoint deltas (applyEndpointDelta): only the named balancers change, the others keep their
// runtime members untouched, removed members drain, and the pool sends only the delta to workers
// while keeping the merged table for respawned workers.
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProxyServer, Scoreboard, SlotAllocator, WorkerPool } from "../../src/dataplane/index.js";
import type { EndpointDelta, Member } from "../../src/model/index.js";
import { endpointTable, member, route, routeTable, send, silentLogger, startUpstream, vhost, type Upstream } from "./helpers.js";

const B1 = "default/one:80";
const B2 = "default/two:80";
const routes = () => routeTable([vhost("one.test", [route("/", "Prefix", B1)]), vhost("two.test", [route("/", "Prefix", B2)])]);
const delta = (version: string, entries: Record<string, Member[]>): EndpointDelta => ({
  version,
  balancers: Object.keys(entries)
    .sort()
    .map((balancer) => ({ balancer, members: entries[balancer] ?? [] })),
});

let a: Upstream;
let b: Upstream;
let hang: Upstream;
const releaseHang: Array<() => void> = [];

beforeAll(async () => {
  a = await startUpstream("a");
  b = await startUpstream("b");
  hang = await startUpstream("hang", (_req, res) => {
    releaseHang.push(() => res.end("late"));
  });
});

afterAll(async () => {
  for (const r of releaseHang) r();
  await Promise.all([a.close(), b.close(), hang.close()]);
});

function pending(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path: "/slow", headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("ProxyServer.applyEndpointDelta", () => {
  let proxy: ProxyServer;
  let port: number;

  beforeAll(async () => {
    proxy = new ProxyServer({ logger: silentLogger, accessLogger: null });
    port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
  });
  afterAll(async () => {
    await proxy.close(500);
  });

  it("replaces the named balancer's members only; the others keep their runtime members", async () => {
    await proxy.applyRoutes(routes(), endpointTable({ [B1]: [member(a.port)], [B2]: [member(b.port)] }));
    const untouched = proxy.registry.get(B2)?.members.get(`127.0.0.1:${b.port}`);
    expect(untouched).toBeDefined();
    await proxy.applyEndpointDelta(delta("d1", { [B1]: [member(b.port)] }));
    expect(proxy.endpointsVersion).toBe("d1");
    expect((await send(port, { headers: { host: "one.test" } })).headers["x-member"]).toBe("b");
    expect((await send(port, { headers: { host: "two.test" } })).headers["x-member"]).toBe("b");
    expect(proxy.registry.get(B2)?.members.get(`127.0.0.1:${b.port}`)).toBe(untouched);
    expect([...(proxy.registry.get(B1)?.members.keys() ?? [])]).toEqual([`127.0.0.1:${b.port}`]);
  });

  it("a balancer emptied by a delta answers 503; a delta for a balancer not in the route table is ignored", async () => {
    await proxy.applyRoutes(routes(), endpointTable({ [B1]: [member(a.port)], [B2]: [member(b.port)] }));
    await proxy.applyEndpointDelta(delta("d2", { [B1]: [], "default/other:80": [member(a.port)] }));
    expect((await send(port, { headers: { host: "one.test" } })).status).toBe(503);
    expect((await send(port, { headers: { host: "two.test" } })).status).toBe(200);
    expect(proxy.registry.get("default/other:80")).toBeUndefined();
  });

  it("a member removed by a delta drains: its in-flight request completes", async () => {
    await proxy.applyRoutes(routes(), endpointTable({ [B1]: [member(hang.port)], [B2]: [member(b.port)] }));
    const inFlight = pending(port, "one.test");
    await expect.poll(() => releaseHang.length).toBe(1);
    await proxy.applyEndpointDelta(delta("d3", { [B1]: [member(a.port)] }));
    expect(proxy.registry.retiringCount).toBe(1);
    expect((await send(port, { headers: { host: "one.test" } })).headers["x-member"]).toBe("a");
    for (const r of releaseHang.splice(0)) r();
    expect(await inFlight).toBe(200);
    await proxy.registry.drained();
    expect(proxy.registry.retiringCount).toBe(0);
  });
});

describe("SlotAllocator.assignDelta", () => {
  it("keeps slots of kept members and of other balancers; quarantines only removed members", () => {
    const allocator = new SlotAllocator(Scoreboard.create({ members: 64, balancers: 16 }));
    const m1 = member(1001);
    const m2 = member(1002);
    const m3 = member(1003);
    const full = allocator.assign(endpointTable({ [B1]: [m1, m2], [B2]: [m3] }));
    const slotOf = (balancer: string, m: Member) => allocator.memberSlot(balancer, m.key);
    const before = { m1: slotOf(B1, m1), m3: slotOf(B2, m3), b2: allocator.balancerSlot(B2) };
    const d = allocator.assignDelta(delta("d", { [B1]: [m1, member(1004)] }));
    expect(d.generation).toBe(full.generation + 1);
    expect(d.members[0]?.[0]).toBe(before.m1);
    expect(slotOf(B1, m2)).toBeUndefined();
    expect(slotOf(B2, m3)).toBe(before.m3);
    expect(allocator.balancerSlot(B2)).toBe(before.b2);
    expect(allocator.stats().quarantined).toBe(1);
    allocator.release(d.generation);
    expect(allocator.stats().quarantined).toBe(0);
  });
});

describe("WorkerPool.applyEndpointDelta (2 workers)", () => {
  let pool: WorkerPool;
  let port: number;

  beforeAll(async () => {
    pool = new WorkerPool({ workers: 2, port: 0, host: "127.0.0.1", logLevel: "silent", accessLog: false, logger: silentLogger, exposeWorkerId: true });
    port = await pool.start();
  });
  afterAll(async () => {
    await pool.close(2_000);
  });

  async function membersSeen(host: string, n: number): Promise<Map<string, Set<string>>> {
    const seen = new Map<string, Set<string>>();
    for (let i = 0; i < n; i++) {
      const reply = await send(port, { headers: { host } });
      const w = String(reply.headers["x-proxypass-worker"]);
      seen.set(w, (seen.get(w) ?? new Set()).add(reply.status === 200 ? String(reply.headers["x-member"]) : String(reply.status)));
    }
    return seen;
  }

  it("resolves once every worker runs the delta; untouched balancers keep serving", async () => {
    await pool.applyRoutes(routes(), endpointTable({ [B1]: [member(a.port)], [B2]: [member(b.port)] }));
    await pool.applyEndpointDelta(delta("d1", { [B1]: [member(b.port)] }));
    const one = await membersSeen("one.test", 40);
    expect([...one.keys()].sort()).toEqual(["0", "1"]);
    for (const members of one.values()) expect(members).toEqual(new Set(["b"]));
    for (const members of (await membersSeen("two.test", 20)).values()) expect(members).toEqual(new Set(["b"]));
    expect(pool.memberStats(B1, `127.0.0.1:${a.port}`)).toBeNull();
  });

  it("a worker respawned after deltas starts with the merged table", async () => {
    await pool.applyRoutes(routes(), endpointTable({ [B1]: [member(a.port)], [B2]: [member(a.port)] }));
    await pool.applyEndpointDelta(delta("d2", { [B2]: [member(b.port)] }));
    await pool.applyEndpointDelta(delta("d3", { [B1]: [member(b.port)] }));
    const respawns = pool.respawns;
    await pool.killWorker(0);
    await expect.poll(() => pool.respawns, { timeout: 10_000 }).toBe(respawns + 1);
    await expect.poll(() => (pool.threadIds()[0] ?? -1) > 0, { timeout: 10_000 }).toBe(true);
    for (const host of ["one.test", "two.test"]) {
      const seen = await membersSeen(host, 40);
      expect([...seen.keys()].sort()).toEqual(["0", "1"]);
      for (const members of seen.values()) expect(members).toEqual(new Set(["b"]));
    }
  });
});
