import { Agent, request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProxyServer, WorkerPool } from "../../src/dataplane/index.js";
import type { SnapshotSink } from "../../src/model/index.js";
import { endpointTable, member, nextSeq, route, routeTable, silentLogger, startUpstream, vhost, type Upstream } from "./helpers.js";

const B = "default/web:80";
const SNAPSHOTS = 50;
const CLIENTS = 8;

let upstreams: Upstream[] = [];

beforeAll(async () => {
  upstreams = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      startUpstream(`m${i}`, (req, res, name) => {
        req.resume();
        req.on("end", () => {
          res.writeHead(200, { "x-member": name, "content-length": "2" });
          res.end("ok");
        });
      }),
    ),
  );
});

afterAll(async () => {
  await Promise.all(upstreams.map((u) => u.close()));
});

/** Deterministic member subsets: 1..3 members out of 6, changing every snapshot. */
function subset(i: number): number[] {
  const n = 1 + (i % 3);
  const start = (i * 5) % 6;
  return Array.from({ length: n }, (_, k) => (start + k * 2) % 6);
}

interface Sink extends SnapshotSink {
  close(graceMs?: number): Promise<void>;
}

async function makeProxy(kind: "in-process" | "workers"): Promise<{ sink: Sink; port: number }> {
  if (kind === "in-process") {
    const p = new ProxyServer({ logger: silentLogger });
    const port = (await p.listen({ port: 0, host: "127.0.0.1" })).port;
    return { sink: p, port };
  }
  const pool = new WorkerPool({ workers: 2, port: 0, host: "127.0.0.1", logLevel: "silent", accessLog: false, logger: silentLogger });
  const port = await pool.start();
  return { sink: pool, port };
}

describe("swap under load", () => {
  it.each([{ name: "in-process ProxyServer", kind: "in-process" as const }, { name: "WorkerPool with 2 workers", kind: "workers" as const }])(
    "$name: 50 snapshots with changing members, zero failures, no request reaches a removed member",
    async ({ kind }) => {
      const { sink, port } = await makeProxy(kind);
      const sets = Array.from({ length: SNAPSHOTS }, (_, i) => new Set(subset(i)));
      const applyStartSeq: number[] = [];
      const applyDoneSeq: number[] = [];
      const snapshot = (i: number) => endpointTable({ [B]: [...(sets[i] ?? [])].map((k) => member(upstreams[k]?.port ?? 0)) });
      const routesFor = (i: number) => routeTable([vhost("example.com", [route("/", "Prefix", B, {}, `default/ing-${i % 7}`)])]);

      applyStartSeq.push(nextSeq());
      await sink.applyRoutes(routesFor(0), snapshot(0));
      applyDoneSeq.push(nextSeq());

      let stop = false;
      let completed = 0;
      let failures = 0;
      let wake: (() => void) | null = null;
      const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
      const one = (): Promise<void> =>
        new Promise((resolve) => {
          const seq = nextSeq();
          const req = httpRequest({ host: "127.0.0.1", port, path: `/r?seq=${seq}`, headers: { host: "example.com", "x-start-seq": String(seq) }, agent }, (res) => {
            res.resume();
            res.on("end", () => {
              if (res.statusCode !== 200) failures++;
              completed++;
              if (wake !== null) wake();
              resolve();
            });
          });
          req.on("error", () => {
            failures++;
            resolve();
          });
          req.end();
        });
      const clients = Array.from({ length: CLIENTS }, async () => {
        while (!stop) await one();
      });

      const waitCompleted = (n: number): Promise<void> =>
        new Promise((resolve) => {
          const target = completed + n;
          wake = () => {
            if (completed >= target) {
              wake = null;
              resolve();
            }
          };
        });

      for (let i = 1; i < SNAPSHOTS; i++) {
        await waitCompleted(CLIENTS * 2);
        applyStartSeq.push(nextSeq());
        if (i % 5 === 0) await sink.applyRoutes(routesFor(i), snapshot(i));
        else await sink.applyEndpoints(snapshot(i));
        applyDoneSeq.push(nextSeq());
      }
      await waitCompleted(CLIENTS * 2);
      stop = true;
      await Promise.all(clients);
      agent.destroy();

      expect(failures).toBe(0);
      expect(completed).toBeGreaterThan(SNAPSHOTS * CLIENTS);

      // Every arrival: the request started (client side) after apply `lo` resolved and arrived
      // before apply `hi+1` started, so its member must be in one of the snapshots lo..hi.
      let checked = 0;
      for (const [k, u] of upstreams.entries()) {
        for (const a of u.arrivals) {
          const start = Number(a.headers["x-start-seq"]);
          if (!Number.isFinite(start)) continue;
          let lo = 0;
          while (lo + 1 < applyDoneSeq.length && (applyDoneSeq[lo + 1] ?? Infinity) < start) lo++;
          let hi = lo;
          while (hi + 1 < applyStartSeq.length && (applyStartSeq[hi + 1] ?? Infinity) < a.seq) hi++;
          let allowed = false;
          for (let s = lo; s <= hi; s++) if (sets[s]?.has(k) === true) allowed = true;
          expect(allowed, `m${k} got a request started after snapshot ${lo} (members ${[...(sets[lo] ?? [])].join(",")})`).toBe(true);
          checked++;
        }
        u.arrivals.length = 0;
      }
      expect(checked).toBe(completed);
      await sink.close(2_000);
    },
  );
});
