import { existsSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkerPool } from "../../src/dataplane/index.js";
import { endpointTable, member, route, routeTable, send, silentLogger, startUpstream, vhost, type Upstream } from "./helpers.js";

const B = "default/web:80";
const DIST_WORKER = new URL("../../dist/src/dataplane/worker.js", import.meta.url);

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

async function workersSeen(port: number, n: number): Promise<Map<string, string[]>> {
  const seen = new Map<string, string[]>();
  for (let i = 0; i < n; i++) {
    const reply = await send(port);
    expect(reply.status).toBe(200);
    const w = String(reply.headers["x-proxypass-worker"]);
    const list = seen.get(w) ?? [];
    list.push(String(reply.headers["x-member"]));
    seen.set(w, list);
  }
  return seen;
}

describe("WorkerPool (2 workers, reusePort, shared scoreboard)", () => {
  let pool: WorkerPool;
  let port: number;

  beforeAll(async () => {
    pool = new WorkerPool({ workers: 2, port: 0, host: "127.0.0.1", logLevel: "silent", accessLog: false, logger: silentLogger, exposeWorkerId: true });
    port = await pool.start();
  });

  afterAll(async () => {
    await pool.close(2_000);
  });

  it("both workers serve, and both switch to each applied snapshot", async () => {
    await pool.applyRoutes(routeTable([vhost("example.com", [route("/", "Prefix", B)])]), endpointTable({ [B]: [member(a.port)] }));
    let seen = await workersSeen(port, 60);
    expect([...seen.keys()].sort()).toEqual(["0", "1"]);
    for (const members of seen.values()) expect(new Set(members)).toEqual(new Set(["a"]));

    await pool.applyEndpoints(endpointTable({ [B]: [member(b.port)] }));
    seen = await workersSeen(port, 60);
    expect([...seen.keys()].sort()).toEqual(["0", "1"]);
    for (const members of seen.values()) expect(new Set(members)).toEqual(new Set(["b"]));
  });

  it("round robin and counters are shared: members alternate across workers, elected counts add up", async () => {
    await pool.applyRoutes(routeTable([vhost("example.com", [route("/", "Prefix", B)])]), endpointTable({ [B]: [member(a.port), member(b.port)] }));
    const before = (pool.memberStats(B, `127.0.0.1:${a.port}`)?.elected ?? 0) + (pool.memberStats(B, `127.0.0.1:${b.port}`)?.elected ?? 0);
    const order: Array<{ worker: string; member: string }> = [];
    for (let i = 0; i < 40; i++) {
      const reply = await send(port);
      order.push({ worker: String(reply.headers["x-proxypass-worker"]), member: String(reply.headers["x-member"]) });
    }
    expect(new Set(order.map((o) => o.worker))).toEqual(new Set(["0", "1"]));
    // One global cursor: consecutive requests alternate members whichever worker serves them.
    for (let i = 1; i < order.length; i++) expect(order[i]?.member).not.toBe(order[i - 1]?.member);
    const after = (pool.memberStats(B, `127.0.0.1:${a.port}`)?.elected ?? 0) + (pool.memberStats(B, `127.0.0.1:${b.port}`)?.elected ?? 0);
    expect(after - before).toBe(40);
  });

  it("in-flight (busy) counts from every worker are visible in the shared scoreboard", async () => {
    await pool.applyEndpoints(endpointTable({ [B]: [member(hang.port)] }));
    const key = `127.0.0.1:${hang.port}`;
    const pending: Array<Promise<string>> = [];
    for (let i = 0; i < 6; i++) {
      pending.push(
        new Promise((resolve, reject) => {
          const req = httpRequest({ host: "127.0.0.1", port, path: "/", headers: { host: "example.com" }, agent: false }, (res) => {
            res.resume();
            res.on("end", () => resolve(String(res.headers["x-proxypass-worker"])));
          });
          req.on("error", reject);
          req.end();
        }),
      );
    }
    await expect.poll(() => pool.memberStats(B, key)?.busy, { timeout: 5_000 }).toBe(6);
    // Busy counts from election; release only once all six requests reached the member.
    await expect.poll(() => releaseHang.length, { timeout: 10_000 }).toBe(6);
    for (const r of releaseHang.splice(0)) r();
    const workers = await Promise.all(pending);
    expect(new Set(workers).size).toBeGreaterThanOrEqual(1);
    await expect.poll(() => pool.memberStats(B, key)?.busy).toBe(0);
  });

  it("requests in flight on crashed workers do not stay busy in the scoreboard (their ledger is settled)", async () => {
    await pool.applyEndpoints(endpointTable({ [B]: [member(hang.port)] }));
    const key = `127.0.0.1:${hang.port}`;
    const failed: Array<Promise<void>> = [];
    for (let i = 0; i < 4; i++) {
      failed.push(
        new Promise((resolve) => {
          const req = httpRequest({ host: "127.0.0.1", port, path: "/", headers: { host: "example.com" }, agent: false }, (res) => {
            res.resume();
            res.on("end", () => resolve());
            res.on("error", () => resolve());
          });
          req.on("error", () => resolve());
          req.end();
        }),
      );
    }
    await expect.poll(() => pool.memberStats(B, key)?.busy, { timeout: 5_000 }).toBe(4);
    const respawns = pool.respawns;
    await Promise.all([pool.killWorker(0), pool.killWorker(1)]);
    await Promise.all(failed);
    // Both workers died holding the 4 requests: nobody will ever release them, the primary does.
    await expect.poll(() => pool.memberStats(B, key)?.busy, { timeout: 5_000 }).toBe(0);
    await expect.poll(() => pool.respawns, { timeout: 10_000 }).toBe(respawns + 2);
    await expect.poll(() => pool.threadIds().every((id) => id > 0), { timeout: 10_000 }).toBe(true);
    for (const r of releaseHang.splice(0)) r();
  });

  it("a crashed worker is respawned with the current snapshot while the other keeps serving", async () => {
    await pool.applyRoutes(routeTable([vhost("example.com", [route("/", "Prefix", B)])]), endpointTable({ [B]: [member(b.port)] }));
    const before = pool.threadIds();
    const respawns = pool.respawns;
    await pool.killWorker(0);
    // The surviving worker keeps serving while worker 0 restarts.
    for (let i = 0; i < 10; i++) expect((await send(port)).status).toBe(200);
    await expect.poll(() => pool.respawns, { timeout: 10_000 }).toBe(respawns + 1);
    await expect.poll(() => (pool.threadIds()[0] ?? -1) > 0, { timeout: 10_000 }).toBe(true);
    expect(pool.threadIds()[0]).not.toBe(before[0]);
    expect(pool.threadIds()[1]).toBe(before[1]);
    const seen = await workersSeen(port, 60);
    expect([...seen.keys()].sort()).toEqual(["0", "1"]);
    for (const members of seen.values()) expect(new Set(members)).toEqual(new Set(["b"]));
    // Applies still resolve once both (including the respawned one) run them.
    await pool.applyEndpoints(endpointTable({ [B]: [member(a.port)] }));
    const again = await workersSeen(port, 40);
    for (const members of again.values()) expect(new Set(members)).toEqual(new Set(["a"]));
  });
});

describe("WorkerPool worker entry", () => {
  it("runs from compiled dist/ (npm test builds it first)", async () => {
    expect(existsSync(DIST_WORKER), `${DIST_WORKER.pathname} missing: run npm run build`).toBe(true);
    const pool = new WorkerPool({ workers: 1, port: 0, host: "127.0.0.1", logLevel: "silent", accessLog: false, logger: silentLogger, exposeWorkerId: true, entry: DIST_WORKER });
    const port = await pool.start();
    await pool.applyRoutes(routeTable([vhost("example.com", [route("/", "Prefix", B)])]), endpointTable({ [B]: [member(a.port)] }));
    const reply = await send(port);
    expect(reply.status).toBe(200);
    expect(reply.headers["x-member"]).toBe("a");
    await pool.close(1_000);
  });
});

describe("WorkerPool shutdown", () => {
  it("close() returns as soon as the workers are idle, not after the whole grace period", async () => {
    const pool = new WorkerPool({ workers: 2, port: 0, host: "127.0.0.1", logLevel: "silent", accessLog: false, logger: silentLogger });
    const port = await pool.start();
    await pool.applyRoutes(routeTable([vhost("example.com", [route("/", "Prefix", B)])]), endpointTable({ [B]: [member(a.port)] }));
    expect((await send(port)).status).toBe(200);
    // A ten-minute grace: the test's own timeout fails this if close waits for the grace.
    await pool.close(600_000);
    expect(pool.threadIds()).toEqual([-1, -1]);
  });
});
