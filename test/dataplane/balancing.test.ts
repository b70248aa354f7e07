// httpd balancing semantics on the request path, through real sockets: sticky sessions
// (stickysession=, nofailover=), failover (maxattempts, retry, failonstatus), hot standbys,
// member removal under load, and canary splits. Upstreams are real loopback node:http servers;
// waits poll until a deadline, nothing asserts on time.
import { createHash } from "node:crypto";
import { Agent } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FLAG_DISABLED, FLAG_ERROR, MEMBER_ERROR_UNTIL, MEMBER_FLAGS, ProxyServer, type BalancerMember } from "../../src/dataplane/index.js";
import type { BalancerSettings, CanaryConfig, FailoverConfig, Member, RouteOptions, StickyConfig } from "../../src/model/index.js";
import { startUpstream as startUpstreamOn } from "../support/upstream.js";
import { canary as canaryConfig, echo, endpointTable, json, member, route, routeTable, send, silentLogger, startUpstream, vhost, type Reply, type Upstream, type UpstreamHandler } from "./helpers.js";

const B = "default/web:80";

let proxy: ProxyServer;
let port: number;
const upstreams: Upstream[] = [];
const agents: Agent[] = [];

async function upstream(name: string, handler: UpstreamHandler = echo): Promise<Upstream> {
  const u = await startUpstream(name, handler);
  upstreams.push(u);
  return u;
}

/** An upstream on a given port (a member coming back). */
async function upstreamAt(name: string, at: number): Promise<Upstream> {
  const u = await startUpstreamOn(name, { port: at, handler: echo });
  upstreams.push(u);
  return u;
}

/** Two upstreams in the balancer's member order (sorted by key: httpd's config order, first wins ties). */
async function ordered(handler: UpstreamHandler = echo): Promise<[Upstream, Upstream]> {
  const a = await upstream("a", handler);
  const b = await upstream("b", handler);
  const sorted = [a, b].sort((x, y) => `127.0.0.1:${x.port}`.localeCompare(`127.0.0.1:${y.port}`));
  return [sorted[0] as Upstream, sorted[1] as Upstream];
}

/** A port nothing listens on (connections are refused). */
async function deadPort(): Promise<number> {
  const u = await startUpstream("dead");
  await u.close();
  return u.port;
}

function keepAlive(): Agent {
  const a = new Agent({ keepAlive: true, maxSockets: 1 });
  agents.push(a);
  return a;
}

const sticky = (overrides: Partial<StickyConfig> = {}): StickyConfig => ({ cookie: "ROUTEID", param: null, noFailover: false, ...overrides });
const failover = (overrides: Partial<FailoverConfig> = {}): FailoverConfig => ({ maxAttempts: null, retryMs: 60_000, failOnStatus: [], failOnTimeout: false, ...overrides });

async function serve(members: Member[], settings: Partial<BalancerSettings> = {}, options: Partial<RouteOptions> = {}): Promise<void> {
  await proxy.applyRoutes(routeTable([vhost("example.com", [route("/", "Prefix", B, options)])], null, { [B]: settings }), endpointTable({ [B]: members }));
}

function runtime(p: number, balancer = B): BalancerMember {
  const m = proxy.registry.get(balancer)?.members.get(`127.0.0.1:${p}`);
  if (m === undefined) throw new Error(`no member ${p} in ${balancer}`);
  return m;
}

function setFlag(p: number, flag: number, on: boolean, balancer = B): void {
  const m = runtime(p, balancer);
  if (on) Atomics.or(m.words, m.base + MEMBER_FLAGS, flag);
  else Atomics.and(m.words, m.base + MEMBER_FLAGS, ~flag);
}

const cookieOf = (r: Reply): string | undefined => r.headers["set-cookie"]?.[0];
const routeCookie = (p: number): string => `ROUTEID=.pod-${p}; Path=/; HttpOnly`;

beforeAll(async () => {
  proxy = new ProxyServer({ logger: silentLogger });
  port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
});

afterEach(async () => {
  for (const a of agents.splice(0)) a.destroy();
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

afterAll(async () => {
  await proxy.close(1_000);
});

describe("sticky sessions", () => {
  it("sets ROUTEID=.<route> on the first response, honours it on the next requests, and does not set it again", async () => {
    const [a, b] = await ordered();
    await serve([member(a.port), member(b.port)], { sticky: sticky() });
    const first = await send(port);
    const chosen = json(first).member;
    const chosenPort = chosen === a.name ? a.port : b.port;
    expect(cookieOf(first)).toBe(routeCookie(chosenPort));
    for (let i = 0; i < 6; i++) {
      const r = await send(port, { headers: { cookie: `other=1; ROUTEID=.pod-${chosenPort}` } });
      expect(json(r).member).toBe(chosen);
      expect(r.headers["set-cookie"]).toBeUndefined();
    }
  });

  it("several Cookie lines are one list; a route no member has starts a new session", async () => {
    const [a, b] = await ordered();
    await serve([member(a.port), member(b.port)], { sticky: sticky() });
    for (let i = 0; i < 3; i++) {
      const r = await send(port, { headers: { cookie: ["x=1", `ROUTEID=abc.pod-${b.port}`] } });
      expect(json(r).member).toBe(b.name);
      expect(r.headers["set-cookie"]).toBeUndefined();
    }
    const gone = await send(port, { headers: { cookie: "ROUTEID=.pod-gone" } });
    expect(gone.status).toBe(200);
    const p = json(gone).member === a.name ? a.port : b.port;
    expect(cookieOf(gone)).toBe(routeCookie(p));
  });

  it.each([
    { name: "path parameter ;jsessionid=x.route", path: (p: number) => `/app;jsessionid=x.pod-${p}` },
    { name: "query parameter ?jsessionid=x.route", path: (p: number) => `/app?jsessionid=x.pod-${p}` },
    { name: "parameter wins over the cookie", path: (p: number) => `/app?a=1&jsessionid=x.pod-${p}`, cookie: true },
  ])("COOKIE|param: $name", async ({ path, cookie }) => {
    const [a, b] = await ordered();
    await serve([member(a.port), member(b.port)], { sticky: { cookie: "JSESSIONID", param: "jsessionid", noFailover: false } });
    for (let i = 0; i < 4; i++) {
      const r = await send(port, { path: path(b.port), headers: cookie === true ? { cookie: `JSESSIONID=x.pod-${a.port}` } : {} });
      expect(json(r).member).toBe(b.name);
      expect(r.headers["set-cookie"]).toBeUndefined();
    }
  });

  it("nofailover: 503 when the session's member is disabled", async () => {
    const [a, b] = await ordered();
    await serve([member(a.port), member(b.port)], { sticky: sticky({ noFailover: true }) });
    setFlag(a.port, FLAG_DISABLED, true);
    const r = await send(port, { headers: { cookie: `ROUTEID=.pod-${a.port}` } });
    expect(r.status).toBe(503);
    expect(r.body.toString()).toBe("Service Unavailable\n");
    expect(a.arrivals).toHaveLength(0);
    expect(b.arrivals).toHaveLength(0);
    // A request without a session is balanced as usual.
    expect(json(await send(port)).member).toBe(b.name);
  });

  it("without nofailover the session moves to a usable member and gets its cookie", async () => {
    const [a, b] = await ordered();
    await serve([member(a.port), member(b.port)], { sticky: sticky() });
    setFlag(a.port, FLAG_DISABLED, true);
    const r = await send(port, { headers: { cookie: `ROUTEID=.pod-${a.port}` } });
    expect(json(r).member).toBe(b.name);
    expect(cookieOf(r)).toBe(routeCookie(b.port));
  });

  it("a connect failure of the session's member moves the session (new cookie)", async () => {
    const live = await upstream("live");
    const dead = await deadPort();
    await serve([member(dead), member(live.port)], { sticky: sticky() });
    const r = await send(port, { headers: { cookie: `ROUTEID=.pod-${dead}` } });
    expect(r.status).toBe(200);
    expect(json(r).member).toBe("live");
    expect(cookieOf(r)).toBe(routeCookie(live.port));
  });

  it("scaling 2 -> 3 members moves no session", async () => {
    const [a, b] = await ordered();
    await serve([member(a.port), member(b.port)], { sticky: sticky() });
    const sessions: Array<{ cookie: string; member: string }> = [];
    for (let i = 0; i < 20; i++) {
      const r = await send(port);
      const set = cookieOf(r);
      expect(set).toBeDefined();
      sessions.push({ cookie: (set ?? "").split(";")[0] ?? "", member: json(r).member });
    }
    const c = await upstream("c");
    await proxy.applyEndpoints(endpointTable({ [B]: [member(a.port), member(b.port), member(c.port)] }));
    for (const s of sessions) {
      const r = await send(port, { headers: { cookie: s.cookie } });
      expect(json(r).member).toBe(s.member);
      expect(r.headers["set-cookie"]).toBeUndefined();
    }
    // New sessions do reach the new member.
    const fresh = new Set<string>();
    for (let i = 0; i < 6; i++) fresh.add(json(await send(port)).member);
    expect(fresh.has("c")).toBe(true);
  });
});

describe("failover", () => {
  it("a refused member goes into error, every GET succeeds, and it gets no request during retry", async () => {
    const live = await upstream("live");
    const dead = await deadPort();
    await serve([member(dead), member(live.port)], { failover: failover({ retryMs: 60_000 }) });
    for (let i = 0; i < 20; i++) {
      const r = await send(port);
      expect(r.status).toBe(200);
      expect(json(r).member).toBe("live");
    }
    expect(runtime(dead).flags & FLAG_ERROR).toBe(FLAG_ERROR);
    expect(runtime(dead).elected).toBe(1); // the one attempt that failed over
    expect(live.arrivals).toHaveLength(20);
    await expect.poll(() => runtime(dead).busy).toBe(0);
  });

  it("after retry a failed member gets one trial, and rejoins once it accepts again", async () => {
    const live = await upstream("live");
    const dead = await deadPort();
    await serve([member(dead), member(live.port)], { failover: failover({ retryMs: 200 }) });
    expect((await send(port)).status).toBe(200);
    expect((await send(port)).status).toBe(200);
    const m = runtime(dead);
    expect(m.flags & FLAG_ERROR).toBe(FLAG_ERROR);
    const tried = m.elected;
    // Wait until the retry window is over (poll the window's end on the scoreboard).
    await expect.poll(() => ((Date.now() | 0) - Atomics.load(m.words, m.base + MEMBER_ERROR_UNTIL)) | 0, { timeout: 5_000 }).toBeGreaterThanOrEqual(0);
    // The trial fails (still refused): failed over, in error again.
    expect((await send(port)).status).toBe(200);
    expect(m.elected).toBe(tried + 1);
    expect(m.flags & FLAG_ERROR).toBe(FLAG_ERROR);
    // The member comes back on its port: a later trial succeeds and clears the error.
    const back = await upstreamAt("back", dead);
    await expect
      .poll(
        async () => {
          const r = await send(port);
          expect(r.status).toBe(200);
          return json(r).member;
        },
        { timeout: 10_000, interval: 20 },
      )
      .toBe("back");
    expect(m.flags & FLAG_ERROR).toBe(0);
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add(json(await send(port)).member);
    expect(seen).toEqual(new Set(["back", "live"]));
    expect(back.arrivals.length).toBeGreaterThanOrEqual(1);
  });

  it.each([
    { name: "POST with content-length", chunked: false },
    { name: "POST chunked", chunked: true },
  ])("$name fails over on connect refusal with its body intact", async ({ chunked }) => {
    const hashing: UpstreamHandler = (req, res, name) => {
      const h = createHash("sha256");
      let n = 0;
      req.on("data", (c: Buffer) => {
        h.update(c);
        n += c.length;
      });
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ member: name, bytes: n, sha: h.digest("hex") }));
      });
    };
    const live = await upstream("live", hashing);
    const dead = await deadPort();
    await serve([member(dead), member(live.port)]);
    const body = Buffer.alloc(256 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const sha = createHash("sha256").update(body).digest("hex");
    for (let i = 0; i < 2; i++) {
      const r = await send(port, { method: "POST", body: chunked ? [body.subarray(0, 1000), body.subarray(1000)] : body, chunked });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body.toString())).toEqual({ member: "live", bytes: body.length, sha });
    }
    expect(runtime(dead).elected).toBe(1); // one of the two went to the refused member first
    expect(live.arrivals).toHaveLength(2);
  });

  it.each([
    { name: "POST (not idempotent) is not retried after the member received it: 502", method: "POST", body: "payload", status: 502, resetArrivals: 1, otherArrivals: 0 },
    { name: "PUT whose body was already streamed is not retried: 502", method: "PUT", body: "payload", status: 502, resetArrivals: 1, otherArrivals: 0 },
    { name: "GET (idempotent, no body) is retried on the other member", method: "GET", body: undefined, status: 200, resetArrivals: 1, otherArrivals: 1 },
  ])("$name", async ({ method, body, status, resetArrivals, otherArrivals }) => {
    let resetPort = 0;
    const handler: UpstreamHandler = (req, res, name) => {
      if (req.socket.localPort === resetPort) {
        req.resume();
        req.on("end", () => req.socket.destroy());
      } else echo(req, res, name);
    };
    const [first, second] = await ordered(handler);
    resetPort = first.port; // byrequests: the first member in order takes the first request
    await serve([member(first.port), member(second.port)]);
    const r = await send(port, { method, body });
    expect(r.status).toBe(status);
    expect(first.arrivals).toHaveLength(resetArrivals);
    expect(second.arrivals).toHaveLength(otherArrivals);
    expect(runtime(first.port).flags & FLAG_ERROR).toBe(0); // a reset is not a connect failure
    await expect.poll(() => runtime(first.port).busy + runtime(second.port).busy).toBe(0);
  });

  it("failOnStatus: the 503 is relayed, the member goes into error, later requests go to the other member", async () => {
    let failPort = 0;
    const handler: UpstreamHandler = (req, res, name) => {
      if (req.socket.localPort === failPort) {
        req.resume();
        res.writeHead(503, { "content-type": "text/plain", "x-member": name });
        res.end("upstream busy");
      } else echo(req, res, name);
    };
    const [first, second] = await ordered(handler);
    failPort = first.port;
    await serve([member(first.port), member(second.port)], { failover: failover({ failOnStatus: [503] }) });
    const r = await send(port);
    expect(r.status).toBe(503);
    expect(r.body.toString()).toBe("upstream busy");
    expect(runtime(first.port).flags & FLAG_ERROR).toBe(FLAG_ERROR);
    for (let i = 0; i < 5; i++) expect(json(await send(port)).member).toBe(second.name);
    expect(first.arrivals).toHaveLength(1);
  });

  it("a status not in failOnStatus relays and leaves the member usable", async () => {
    let failPort = 0;
    const handler: UpstreamHandler = (req, res, name) => {
      if (req.socket.localPort === failPort) {
        req.resume();
        res.writeHead(500);
        res.end("boom");
      } else echo(req, res, name);
    };
    const [first, second] = await ordered(handler);
    failPort = first.port;
    await serve([member(first.port), member(second.port)], { failover: failover({ failOnStatus: [503] }) });
    expect((await send(port)).status).toBe(500);
    expect(runtime(first.port).flags & FLAG_ERROR).toBe(0);
    expect(json(await send(port)).member).toBe(second.name);
    expect((await send(port)).status).toBe(500);
  });

  it.each([
    { name: "failOnTimeout: a read timeout puts the member in error and the GET is retried on the other member", failOnTimeout: true, method: "GET", status: 200, error: FLAG_ERROR, other: 1 },
    { name: "without failOnTimeout the GET is retried but the member stays usable", failOnTimeout: false, method: "GET", status: 200, error: 0, other: 1 },
    { name: "a POST that timed out is not retried: 504", failOnTimeout: true, method: "POST", status: 504, error: FLAG_ERROR, other: 0 },
  ])("$name", async ({ failOnTimeout, method, status, error, other }) => {
    let slowPort = 0;
    const handler: UpstreamHandler = (req, res, name) => {
      if (req.socket.localPort === slowPort) req.resume(); // never answers
      else echo(req, res, name);
    };
    const [first, second] = await ordered(handler);
    slowPort = first.port;
    await serve([member(first.port), member(second.port)], { failover: failover({ failOnTimeout }) }, { timeouts: { connectMs: 1_000, readMs: 150 } });
    const r = await send(port, { method, body: method === "POST" ? "x" : undefined });
    expect(r.status).toBe(status);
    expect(runtime(first.port).flags & FLAG_ERROR).toBe(error);
    expect(first.arrivals).toHaveLength(1);
    expect(second.arrivals).toHaveLength(other);
  });

  it("maxAttempts 0: no retry, the refused attempt answers 502", async () => {
    const live = await upstream("live");
    const dead = await deadPort();
    await serve([member(dead), member(live.port)], { failover: failover({ maxAttempts: 0 }) });
    const statuses = [(await send(port)).status, (await send(port)).status].sort();
    expect(statuses).toEqual([200, 502]);
    expect(runtime(dead).flags & FLAG_ERROR).toBe(FLAG_ERROR);
    expect(live.arrivals).toHaveLength(1);
  });

  it("no member left: the last attempt's error (502), every member in error", async () => {
    const d1 = await deadPort();
    const d2 = await deadPort();
    await serve([member(d1), member(d2)]);
    const r = await send(port);
    expect(r.status).toBe(502);
    expect(runtime(d1).flags & FLAG_ERROR).toBe(FLAG_ERROR);
    expect(runtime(d2).flags & FLAG_ERROR).toBe(FLAG_ERROR);
  });

  it("counts traffic per exchange: Content-Length sent, body bytes read", async () => {
    const u = await upstream("u", (req, res) => {
      req.resume();
      req.on("end", () => res.end(Buffer.alloc(1234)));
    });
    await serve([member(u.port)]);
    await send(port, { method: "POST", body: Buffer.alloc(777) });
    await expect.poll(() => runtime(u.port).read).toBe(1234);
    expect(runtime(u.port).sent).toBe(777);
  });
});

describe("hot standby", () => {
  it("standbys take over when the primaries are refused or disabled, and give back when a primary is usable", async () => {
    const p2 = await upstream("p2");
    const s = await upstream("standby");
    const p1 = await deadPort();
    await serve([member(p1), member(p2.port), member(s.port, true, "127.0.0.1", { standby: true })]);
    for (let i = 0; i < 4; i++) expect(json(await send(port)).member).toBe("p2");
    expect(s.arrivals).toHaveLength(0);
    setFlag(p2.port, FLAG_DISABLED, true);
    // p1 refused (in error already or now), p2 disabled: the standby answers.
    for (let i = 0; i < 4; i++) {
      const r = await send(port);
      expect(r.status).toBe(200);
      expect(json(r).member).toBe("standby");
    }
    setFlag(p2.port, FLAG_DISABLED, false);
    for (let i = 0; i < 4; i++) expect(json(await send(port)).member).toBe("p2");
    expect(s.arrivals).toHaveLength(4);
  });
});

describe("hot standby failover", () => {
  it("one refused primary and a standby: the very first request fails over to the standby (maxattempts counts standbys, as httpd counts every worker)", async () => {
    const s = await upstream("standby");
    const p = await deadPort();
    await serve([member(p), member(s.port, true, "127.0.0.1", { standby: true })]);
    const r = await send(port);
    expect(r.status).toBe(200);
    expect(json(r).member).toBe("standby");
  });
});

describe("under load", () => {
  it("removing a member under keep-alive load fails no request", async () => {
    const a = await upstream("a");
    const b = await upstream("b");
    const c = await upstream("c");
    await serve([member(a.port), member(b.port), member(c.port)]);
    const total = 300;
    const clients = 4;
    let done = 0;
    let removed: Promise<void> | null = null;
    const statuses: number[] = [];
    const client = async (): Promise<void> => {
      const agent = keepAlive();
      for (let i = 0; i < total / clients; i++) {
        const r = await send(port, { agent, path: `/x${i}` });
        statuses.push(r.status);
        if (++done === total / 3 && removed === null) {
          removed = proxy.applyEndpoints(endpointTable({ [B]: [member(a.port), member(c.port)] }));
        }
      }
    };
    await Promise.all(Array.from({ length: clients }, client));
    await removed;
    expect(statuses).toHaveLength(total);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const afterRemoval = b.arrivals.length;
    expect((await send(port)).status).toBe(200);
    expect(b.arrivals.length).toBe(afterRemoval);
    await proxy.registry.drained();
  });
});

describe("canary", () => {
  let canaryId = 0;
  const nextCanary = (): string => `default/web-canary${++canaryId}:80`;

  async function serveCanary(c: (id: string) => CanaryConfig, settings: Partial<BalancerSettings> = {}): Promise<{ primary: Upstream; canary: Upstream; id: string }> {
    const primary = await upstream("primary");
    const canary = await upstream("canary");
    const id = nextCanary();
    await proxy.applyRoutes(
      routeTable([vhost("example.com", [route("/", "Prefix", B, {}, "default/ing", c(id))])], null, { [B]: settings, [id]: settings }),
      endpointTable({ [B]: [member(primary.port)], [id]: [member(canary.port)] }),
    );
    return { primary, canary, id };
  }

  it("weight 20 over 1,000 requests sends exactly 200 to the canary", async () => {
    const { canary } = await serveCanary((id) => canaryConfig(id, 20));
    const agent = keepAlive();
    let toCanary = 0;
    for (let i = 0; i < 1000; i++) if (json(await send(port, { agent })).member === "canary") toCanary++;
    expect(toCanary).toBe(200);
    expect(canary.arrivals).toHaveLength(200);
  });

  it.each<{ name: string; weight: number; headers: Record<string, string>; want: string }>([
    { name: "header always -> canary (weight 0)", weight: 0, headers: { "x-canary": "always" }, want: "canary" },
    { name: "header never -> primary (weight 100)", weight: 100, headers: { "x-canary": "never" }, want: "primary" },
    { name: "other header value: the weight decides", weight: 100, headers: { "x-canary": "maybe" }, want: "canary" },
    { name: "cookie always -> canary (weight 0)", weight: 0, headers: { cookie: "a=1; canary=always" }, want: "canary" },
    { name: "cookie never -> primary (weight 100)", weight: 100, headers: { cookie: "canary=never" }, want: "primary" },
    { name: "header wins over cookie", weight: 50, headers: { "x-canary": "never", cookie: "canary=always" }, want: "primary" },
  ])("$name", async ({ weight, headers, want }) => {
    await serveCanary((id) => canaryConfig(id, weight, { byHeader: "x-canary", byCookie: "canary" }));
    for (let i = 0; i < 5; i++) expect(json(await send(port, { headers })).member).toBe(want);
  });

  it("a sticky session stays on its side", async () => {
    const { primary, canary } = await serveCanary((id) => canaryConfig(id, 50), { sticky: sticky() });
    const sessions: Array<{ cookie: string; member: string }> = [];
    for (let i = 0; i < 10; i++) {
      const r = await send(port);
      const set = cookieOf(r) ?? "";
      const want = json(r).member === "canary" ? canary.port : primary.port;
      expect(set).toBe(routeCookie(want));
      sessions.push({ cookie: set.split(";")[0] ?? "", member: json(r).member });
    }
    expect(new Set(sessions.map((s) => s.member))).toEqual(new Set(["primary", "canary"]));
    for (const s of sessions) {
      for (let i = 0; i < 3; i++) {
        const r = await send(port, { headers: { cookie: s.cookie } });
        expect(json(r).member).toBe(s.member);
        expect(r.headers["set-cookie"]).toBeUndefined();
      }
    }
  });
});
