// Balancing end to end, as a user runs it: the compiled controller (`--workers 2`, so every
// request may land on either worker and shared state must be shared), manifest files with
// `proxypass.io/*` balancer annotations, real loopback backends, HTTP through real sockets.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { startController, type RunningController } from "../support/controller.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { startUpstream, type Upstream } from "../support/upstream.js";
import { waitFor } from "../support/wait.js";

/** A fresh connection per request: the kernel spreads them over both workers. */
const noReuse = new Agent({ pipelining: 0 });

interface Reply {
  readonly status: number;
  readonly upstream: string;
  readonly setCookie: string | null;
}

let ctl: RunningController;
let dir: string;
const ups = new Map<string, Upstream>();
/** Health endpoint status per upstream name (mutable by tests). */
const health = new Map<string, number>();

async function get(host: string, headers: Record<string, string> = {}, path = "/"): Promise<Reply> {
  const res = await request(`http://127.0.0.1:${ctl.httpPort}${path}`, { headers: { host, ...headers }, dispatcher: noReuse });
  await res.body.text();
  const cookie = res.headers["set-cookie"];
  return { status: res.statusCode, upstream: String(res.headers["x-upstream"] ?? ""), setCookie: typeof cookie === "string" ? cookie : Array.isArray(cookie) ? (cookie[0] ?? null) : null };
}

function up(name: string): Upstream {
  const u = ups.get(name);
  if (u === undefined) throw new Error(`no upstream ${name}`);
  return u;
}

function member(name: string): { ip: string; port: number; pod: string } {
  return { ip: up(name).host, port: up(name).port, pod: name };
}

async function writeCluster(primaryMembers: string[]): Promise<void> {
  await writeFile(
    join(dir, "services.yaml"),
    [
      serviceYaml("shop", "web", 80),
      endpointSlicesYaml("shop", "web", ["web-0", "web-1", "web-2"].map(member)),
      serviceYaml("shop", "primary", 80),
      primaryMembers.length === 0
        ? `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: primary-empty\n  namespace: shop\n  labels: { kubernetes.io/service-name: primary }\naddressType: IPv4\nports: [{ name: http, port: 1 }]\nendpoints: []\n`
        : endpointSlicesYaml("shop", "primary", primaryMembers.map(member)),
      serviceYaml("shop", "backup", 80),
      endpointSlicesYaml("shop", "backup", ["backup-0"].map(member)),
      serviceYaml("shop", "checked", 80),
      endpointSlicesYaml("shop", "checked", ["chk-0", "chk-1"].map(member)),
      serviceYaml("shop", "stable", 80),
      endpointSlicesYaml("shop", "stable", ["stable-0"].map(member)),
      serviceYaml("shop", "next", 80),
      endpointSlicesYaml("shop", "next", ["next-0"].map(member)),
    ].join("---\n"),
  );
}

beforeAll(async () => {
  const names = ["web-0", "web-1", "web-2", "primary-0", "backup-0", "chk-0", "chk-1", "stable-0", "next-0"];
  let i = 0;
  for (const name of names) {
    health.set(name, 200);
    const u = await startUpstream(name, {
      host: `127.0.0.${10 + i++}`,
      handler: (req, res) => {
        req.resume();
        const status = req.url === "/healthz" ? (health.get(name) ?? 200) : 200;
        res.writeHead(status, { "x-upstream": name, "content-type": "text/plain" });
        res.end(name);
      },
    });
    ups.set(name, u);
  }
  dir = await mkdtemp(join(tmpdir(), "ppi-balancing-"));
  await writeCluster(["primary-0"]);
  await writeFile(
    join(dir, "ingresses.yaml"),
    [
      ingressYaml("shop", "sticky", [{ host: "sticky.test", path: "/", service: "web", port: 80 }], { "proxypass.io/sticky-session": "ROUTEID" }),
      ingressYaml("shop", "standby", [{ host: "standby.test", path: "/", service: "primary", port: 80 }], { "proxypass.io/hot-standby": "backup:80" }),
      ingressYaml("shop", "checked", [{ host: "checked.test", path: "/", service: "checked", port: 80 }], {
        "proxypass.io/health-check-uri": "/healthz",
        "proxypass.io/health-check-interval": "0.1",
      }),
      ingressYaml("shop", "stable", [{ host: "canary.test", path: "/", service: "stable", port: 80 }]),
      ingressYaml("shop", "next", [{ host: "canary.test", path: "/", service: "next", port: 80 }], {
        "proxypass.io/canary": "true",
        "proxypass.io/canary-weight": "25",
        "proxypass.io/canary-by-header": "X-Canary",
      }),
    ].join("---\n"),
  );
  ctl = await startController(["--manifests", dir, "--workers", "2"]);
  await waitFor(async () => ((await get("sticky.test").catch(() => null))?.status === 200 ? true : undefined), { timeoutMs: 20_000, what: "controller serving" });
}, 40_000);

afterAll(async () => {
  ctl?.child.kill("SIGTERM");
  await ctl?.exited;
  await noReuse.close();
  for (const u of ups.values()) await u.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("balancing through the controller binary (2 workers)", () => {
  it("sticky-session: the first response sets ROUTEID=.<pod>; later requests on new connections stay on that pod", async () => {
    const first = await get("sticky.test");
    expect(first.setCookie).toBe(`ROUTEID=.${first.upstream}; Path=/; HttpOnly`);
    for (let i = 0; i < 20; i++) {
      const r = await get("sticky.test", { cookie: `other=1; ROUTEID=.${first.upstream}` });
      expect(r.upstream).toBe(first.upstream);
      expect(r.setCookie).toBeNull();
    }
    // A session id before the "." (Tomcat's jvmRoute form) is fine: the route is what follows it.
    expect((await get("sticky.test", { cookie: `ROUTEID=abc123.web-2` })).upstream).toBe("web-2");
  });

  it("without a cookie, byrequests spreads requests evenly over the pods, shared by both workers", async () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const r = await get("sticky.test");
      counts.set(r.upstream, (counts.get(r.upstream) ?? 0) + 1);
    }
    expect([...counts.values()].sort()).toEqual([10, 10, 10]);
  });

  it("hot-standby: the backup serves while the primary has no endpoint, and gives the traffic back", async () => {
    expect((await get("standby.test")).upstream).toBe("primary-0");
    await writeCluster([]);
    await waitFor(async () => ((await get("standby.test")).upstream === "backup-0" ? true : undefined), { timeoutMs: 10_000, what: "standby takes over" });
    await writeCluster(["primary-0"]);
    await waitFor(async () => ((await get("standby.test")).upstream === "primary-0" ? true : undefined), { timeoutMs: 10_000, what: "primary back" });
    for (let i = 0; i < 5; i++) expect((await get("standby.test")).upstream).toBe("primary-0");
  });

  it("health checks: a member whose /healthz fails gets no traffic, and rejoins once it passes", async () => {
    health.set("chk-1", 500);
    await waitFor(
      async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 6; i++) seen.add((await get("checked.test")).upstream);
        return seen.size === 1 && seen.has("chk-0") ? true : undefined;
      },
      { timeoutMs: 10_000, what: "chk-1 out" },
    );
    health.set("chk-1", 200);
    await waitFor(
      async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 6; i++) seen.add((await get("checked.test")).upstream);
        return seen.has("chk-1") ? true : undefined;
      },
      { timeoutMs: 10_000, what: "chk-1 back" },
    );
    // The checks run once per member in the primary, not once per worker: both workers share them.
    const checks = up("chk-0").arrivals.filter((a) => a.url === "/healthz");
    expect(checks.length).toBeGreaterThan(0);
    expect(checks.every((a) => a.headers["user-agent"] === "proxypass-ingress-hcheck")).toBe(true);
  });

  it("canary: weight 25 sends exactly a quarter of 400 requests to the canary; the header overrides it", async () => {
    let canary = 0;
    for (let i = 0; i < 400; i++) if ((await get("canary.test")).upstream === "next-0") canary++;
    expect(canary).toBe(100);
    for (let i = 0; i < 5; i++) expect((await get("canary.test", { "x-canary": "always" })).upstream).toBe("next-0");
    for (let i = 0; i < 5; i++) expect((await get("canary.test", { "x-canary": "never" })).upstream).toBe("stable-0");
  });
});
