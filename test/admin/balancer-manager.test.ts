// balancer-manager over real sockets: protection (address, token, nonce, origin), the forms
// without JavaScript, the JSON API, and what the data plane does with each edit.
import { afterEach, describe, expect, it } from "vitest";
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseCidrs } from "../../src/admin/index.js";
import { endpointTable, member } from "../dataplane/helpers.js";
import { waitFor } from "../support/wait.js";
import { BALANCER, startFixture, type Fixture, type FixtureOptions } from "./fixture.js";

let fx: Fixture | null = null;
async function start(options: FixtureOptions = {}): Promise<Fixture> {
  fx = await startFixture(options);
  return fx;
}
afterEach(async () => {
  await fx?.close();
  fx = null;
});

const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();
const FORM = { "content-type": "application/x-www-form-urlencoded" };

async function hits(f: Fixture, n: number, cookie?: string): Promise<string> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await f.hit(cookie));
  return out.join(" ");
}

describe("protection", () => {
  it("serves loopback clients by default, with a CSP and no framing", async () => {
    const f = await start();
    const r = await f.admin("GET", "/balancer-manager");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/html/);
    expect(r.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(r.headers["x-frame-options"]).toBe("DENY");
    expect(r.body).toContain(`value="${f.access.nonce}"`);
  });

  it("refuses a client outside --admin-allow-cidrs (loopback excluded here) with 403; the probes stay open", async () => {
    const f = await start({ access: { allow: parseCidrs("10.0.0.0/8,fd00::/8") } });
    expect((await f.admin("GET", "/balancer-manager")).status).toBe(403);
    expect((await f.admin("GET", "/balancer-manager?json")).status).toBe(403);
    expect((await f.change({ member: f.key("a"), set: "N" })).status).toBe(403);
    expect((await f.admin("GET", "/healthz")).status).toBe(200);
    expect((await f.admin("GET", "/readyz")).status).toBe(200);
    expect((await f.view().catch(() => null)) === null).toBe(true);
  });

  it.each([
    { name: "the right bearer token is let in", auth: "Bearer s3cret-token", status: 200 },
    { name: "a wrong token is refused", auth: "Bearer nope", status: 403 },
    { name: "another scheme is refused", auth: "Basic czNjcmV0LXRva2Vu", status: 403 },
    { name: "no token is refused", auth: null, status: 403 },
  ])("token (loopback not allowed): $name", async ({ auth, status }) => {
    const f = await start({ access: { allow: parseCidrs("10.0.0.0/8"), token: "s3cret-token" } });
    const r = await f.admin("GET", "/balancer-manager?json", auth === null ? {} : { authorization: auth });
    expect(r.status).toBe(status);
  });

  it("a token client may change state (with the nonce) and is audited as such", async () => {
    const f = await start({ access: { allow: parseCidrs("10.0.0.0/8"), token: "s3cret-token" } });
    const r = await f.change({ member: f.key("a"), set: "N" }, { authorization: "Bearer s3cret-token" });
    expect(r.status).toBe(200);
    expect(f.logs.find((l) => l["audit"] === true)).toMatchObject({ token: true, client: "127.0.0.1", change: "+N" });
  });

  it.each([
    { name: "JSON without nonce", body: () => ({ balancer: BALANCER, set: "N" }), json: true },
    { name: "JSON with a wrong nonce", body: () => ({ nonce: "x", balancer: BALANCER, set: "N" }), json: true },
    { name: "form without nonce", body: () => ({ b: BALANCER, w_status_N: "1" }), json: false },
  ])("POST $name gets 403 and changes nothing", async ({ body, json }) => {
    const f = await start();
    const b = { ...body(), ...(json ? { member: f.key("a") } : { w: f.key("a") }) };
    const r = json
      ? await f.admin("POST", "/balancer-manager", { "content-type": "application/json" }, JSON.stringify(b))
      : await f.admin("POST", "/balancer-manager", FORM, form(b as Record<string, string>));
    expect(r.status).toBe(403);
    expect((await f.view()).members.map((m) => m.flags)).toEqual(["", ""]);
  });

  it.each([
    { name: "a foreign Origin", headers: { origin: "http://evil.test" }, status: 403 },
    { name: "Origin null", headers: { origin: "null" }, status: 403 },
    { name: "a foreign Referer", headers: { referer: "http://evil.test/page" }, status: 403 },
    { name: "the admin's own Origin", headers: "own-origin", status: 200 },
    { name: "no Origin or Referer (curl)", headers: {}, status: 200 },
  ])("POST with $name: $status", async ({ headers, status }) => {
    const f = await start();
    const h: Record<string, string> = typeof headers === "string" ? { origin: `http://127.0.0.1:${f.adminPort}` } : Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined));
    const r = await f.change({ member: f.key("a"), set: "D" }, h);
    expect(r.status).toBe(status);
  });

  it("GET never changes state and other methods get 405", async () => {
    const f = await start();
    expect((await f.admin("GET", `/balancer-manager?b=${BALANCER}&w=${f.key("a")}&w_status_N=1&nonce=${f.access.nonce}`)).status).toBe(200);
    expect((await f.view()).members[0]?.flags).toBe("");
    expect((await f.admin("PUT", "/balancer-manager")).status).toBe(405);
  });
});

describe("edits and their effect on traffic", () => {
  it("drain through the form (no JavaScript): N set, new sessions avoid the member, its sticky session still reaches it, busy shows in ?json", async () => {
    let hold: (() => void) | null = null;
    const handler = (req: IncomingMessage, res: ServerResponse, name: string): void => {
      req.resume();
      const answer = (): void => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ member: name }));
      };
      if ((req.url ?? "").startsWith("/slow")) hold = answer;
      else answer();
    };
    const f = await start({ handler });
    expect(await hits(f, 4)).toBe("a b a b");
    const r = await f.admin("POST", "/balancer-manager", FORM, form({ nonce: f.access.nonce, b: BALANCER, w: f.key("a"), w_status_N: "1" }));
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe("/balancer-manager");
    expect((await f.view()).members.map((m) => m.flags)).toEqual(["N", ""]);
    expect((await f.admin("GET", "/balancer-manager")).body).toMatch(/data-f="state"[^>]*>N</);
    expect(await hits(f, 4)).toBe("b b b b");
    expect(await hits(f, 3, "ROUTEID=.a")).toBe("a a a");
    // A sticky request in flight on the drained member: its busy count is visible, then falls to 0.
    const slow = f.hit("ROUTEID=.a", "/slow");
    await waitFor(async () => ((await f.view()).members[0]?.busy === 1 ? true : undefined), { what: "busy 1" });
    const release = await waitFor(() => hold ?? undefined, { what: "the slow request upstream" });
    release();
    expect(await slow).toBe("a");
    await waitFor(async () => ((await f.view()).members[0]?.busy === 0 ? true : undefined), { what: "busy 0" });
  });

  it("disable then enable: D refuses even sticky requests (they fail over), clearing it restores them", async () => {
    const f = await start();
    expect((await f.change({ member: f.key("a"), set: "D" })).status).toBe(200);
    expect(await hits(f, 2, "ROUTEID=.a")).toBe("b b");
    expect(await hits(f, 2)).toBe("b b");
    expect((await f.change({ member: f.key("a"), clear: "D" })).status).toBe(200);
    expect(await hits(f, 2, "ROUTEID=.a")).toBe("a a");
    expect((await f.view()).members.map((m) => m.flags)).toEqual(["", ""]);
  });

  it("loadfactor 70/30 gives httpd's byrequests sequence a b a a a b a a b a", async () => {
    const f = await start();
    expect((await f.change({ member: f.key("a"), loadfactor: 70 })).status).toBe(200);
    const r = await f.admin("POST", "/balancer-manager", FORM, form({ nonce: f.access.nonce, b: BALANCER, w: f.key("b"), w_lf: "30", w_ls: "0" }));
    expect(r.status).toBe(303);
    expect((await f.view()).members.map((m) => m.loadfactor)).toEqual([70, 30]);
    expect(await hits(f, 10)).toBe("a b a a a b a a b a");
  });

  it("lbset: moving a to set 1 sends everything to b while b is usable; back to 0 restores the rotation", async () => {
    const f = await start();
    expect((await f.change({ member: f.key("a"), lbset: 1 })).status).toBe(200);
    expect((await f.view()).members[0]).toMatchObject({ lbset: 1, snapshotLbset: 0 });
    expect(await hits(f, 3)).toBe("b b b");
    expect((await f.change({ member: f.key("b"), set: "S" })).status).toBe(200);
    expect(await hits(f, 2)).toBe("a a");
    expect((await f.change({ member: f.key("a"), lbset: 0 })).status).toBe(200);
    expect(f.store.current().balancers[BALANCER]?.members[f.key("a")]).toBeUndefined(); // the snapshot's value: no override left
  });

  it("lbmethod override: set and cleared through JSON and the form; ?json shows effective and overridden", async () => {
    const f = await start();
    const r = await f.change({ lbmethod: "bybusyness" });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ ok: true, balancer: { lbmethod: "bybusyness", lbmethodOverridden: true, config: { lbmethod: "byrequests" } } });
    const back = await f.admin("POST", "/balancer-manager", FORM, form({ nonce: f.access.nonce, b: BALANCER, b_lbm: "" }));
    expect(back.status).toBe(303);
    expect(await f.view()).toMatchObject({ lbmethod: "byrequests", lbmethodOverridden: false });
  });

  it("clear E: a member put in error by fail-on-status is usable again at once", async () => {
    const handler = (req: IncomingMessage, res: ServerResponse, name: string): void => {
      req.resume();
      res.writeHead((req.url ?? "").startsWith("/fail") ? 503 : 200, { "content-type": "application/json" });
      res.end(JSON.stringify({ member: name }));
    };
    const f = await start({ handler, settings: { failover: { maxAttempts: null, retryMs: 60_000, failOnStatus: [503], failOnTimeout: false } } });
    expect(await f.hit("ROUTEID=.a", "/fail")).toBe("503");
    expect((await f.view()).members[0]?.flags).toBe("E");
    expect((await f.view()).members[0]?.errors).toBe(1);
    expect(await hits(f, 2)).toBe("b b");
    const r = await f.admin("POST", "/balancer-manager", FORM, form({ nonce: f.access.nonce, b: BALANCER, w: f.key("a"), w_clear: "E" }));
    expect(r.status).toBe(303);
    expect((await f.view()).members[0]?.flags).toBe("");
    expect(await f.hit("ROUTEID=.a")).toBe("a");
    expect(f.logs.find((l) => l["audit"] === true)).toMatchObject({ change: "-E", before: { scoreboard: "E" }, after: { scoreboard: "" } });
  });

  it.each([
    { name: "loadfactor out of range", body: { loadfactor: 101 }, status: 400, error: /loadfactor must be 1-100/ },
    { name: "lbset out of range", body: { lbset: 100 }, status: 400, error: /lbset must be 0-99/ },
    { name: "an unknown flag", body: { set: "X" }, status: 400, error: /letters of N D S H R I/ },
    { name: "E cannot be set", body: { set: "E" }, status: 400, error: /letters of N D S H R I/ },
    { name: "an unknown member", body: { member: "10.9.9.9:1", set: "N" }, status: 404, error: /no member/ },
    { name: "an unknown field", body: { weight: 3 }, status: 400, error: /unrecognized/i },
  ])("refuses $name", async ({ body, status, error }) => {
    const f = await start();
    const r = await f.change({ member: f.key("a"), ...body });
    expect(r.status).toBe(status);
    expect((JSON.parse(r.body) as { error: string }).error).toMatch(error);
  });

  it("writes one audit line per change: who, what, before, after", async () => {
    const f = await start();
    await f.change({ member: f.key("b"), set: "N", loadfactor: 5 });
    const audit = f.logs.filter((l) => l["audit"] === true);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ level: 30, client: "127.0.0.1", token: false, balancer: BALANCER, member: f.key("b"), change: "+N loadfactor=5", before: { flags: "", loadfactor: null }, after: { flags: "N", loadfactor: 5 } });
  });
});

describe("garbage collection", () => {
  it("drops the override of a member absent for gcAfterMs, keeps present ones", async () => {
    let now = 1_000_000;
    const f = await start({ gcAfterMs: 600_000, now: () => now });
    await f.change({ member: f.key("a"), set: "N" });
    await f.change({ member: f.key("b"), set: "D" });
    // a's pod goes away.
    const bOnly = endpointTable({ [BALANCER]: [member(f.upstreams.b.port, true, "127.0.0.1", { route: "b" })] });
    await f.proxy.applyEndpoints(bOnly);
    expect(await f.manager.gc()).toBe(0); // first seen absent
    now += 599_000;
    expect(await f.manager.gc()).toBe(0);
    now += 1_000;
    expect(await f.manager.gc()).toBe(1);
    expect(Object.keys(f.store.current().balancers[BALANCER]?.members ?? {})).toEqual([f.key("b")]);
  });

  it("a member that comes back before the deadline keeps its override", async () => {
    let now = 0;
    const f = await start({ gcAfterMs: 1_000, now: () => now });
    await f.change({ member: f.key("a"), set: "N" });
    const full = endpointTable({ [BALANCER]: [member(f.upstreams.a.port, true, "127.0.0.1", { route: "a" }), member(f.upstreams.b.port, true, "127.0.0.1", { route: "b" })] });
    await f.proxy.applyEndpoints(endpointTable({ [BALANCER]: [member(f.upstreams.b.port, true, "127.0.0.1", { route: "b" })] }));
    await f.manager.gc();
    now = 500;
    await f.proxy.applyEndpoints(full);
    expect((await f.view()).members[0]?.flags).toBe("N"); // re-applied to its fresh slot
    now = 5_000;
    expect(await f.manager.gc()).toBe(0);
  });
});
