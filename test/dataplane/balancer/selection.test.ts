// httpd's member selection, request by request: lbmethods, state flags, lbsets, spares, standbys,
// drain, sticky routes, error windows and forced recovery, on the shared scoreboard.
import { describe, expect, it } from "vitest";
import {
  BALANCER_LBMETHOD,
  BalancerRegistry,
  FLAG_DISABLED,
  FLAG_DRAIN,
  FLAG_ERROR,
  FLAG_HC_FAIL,
  FLAG_IGNORE_ERRORS,
  FLAG_SPARE,
  FLAG_STANDBY,
  FLAG_STOPPED,
  MEMBER_BUSY,
  MEMBER_ERROR_UNTIL,
  MEMBER_FLAGS,
  MEMBER_LBFACTOR,
  MEMBER_LBSET,
  MEMBER_LBSTATUS,
  PickOutcome,
  Scoreboard,
  SlotAllocator,
  compileRoutes,
  type Balancer,
  type BalancerMember,
} from "../../../src/dataplane/index.js";
import type { BalancerConfig, Member } from "../../../src/model/index.js";
import { balancerConfig, endpointTable, route, vhost } from "../helpers.js";
import { deepFreeze } from "../../../src/util/index.js";

const ID = "ns/svc:80";

interface Spec {
  /** Letter: the member's route (pod) and the name in expected sequences. */
  readonly name: string;
  readonly ready?: boolean;
  readonly standby?: boolean;
  readonly lbset?: number;
}

interface Setup {
  readonly balancer: Balancer;
  readonly board: Scoreboard;
  readonly byName: (name: string) => BalancerMember;
  readonly set: (name: string, flags: number) => void;
  readonly factor: (name: string, factor: number) => void;
  readonly word: (name: string, field: number) => number;
  /** Word index of the balancer slot's field 0 (balancer-manager's lbmethod override lives there). */
  readonly balancerBase: number;
}

function setup(specs: ReadonlyArray<Spec | string>, settings: Partial<BalancerConfig> = {}): Setup {
  const board = Scoreboard.create({ members: 2048, balancers: 8 });
  const registry = new BalancerRegistry(board);
  const alloc = new SlotAllocator(board);
  const config: BalancerConfig = { ...balancerConfig(ID), ...settings };
  const table = deepFreeze({ version: "r", virtualHosts: [vhost("x.test", [route("/", "Prefix", ID)])], defaultRoute: null, balancers: [config] });
  compileRoutes(table, registry);
  const members: Member[] = specs.map((s, i) => {
    const spec = typeof s === "string" ? { name: s } : s;
    // Keys sort in member order: the order of the specs is httpd's config order.
    const port = 10_000 + i;
    return { key: `127.0.0.1:${port}`, address: "127.0.0.1", port, route: spec.name, zone: null, ready: spec.ready ?? true, standby: spec.standby ?? false, lbset: spec.lbset ?? 0 };
  });
  const eps = endpointTable({ [ID]: members });
  registry.applyEndpoints(eps, alloc.assign(eps));
  const balancer = registry.get(ID);
  if (balancer === undefined) throw new Error("no balancer");
  const byName = (name: string): BalancerMember => {
    const m = balancer.memberForRoute(name);
    if (m === undefined) throw new Error(`no member ${name}`);
    return m;
  };
  return {
    balancer,
    board,
    byName,
    set: (name, flags) => {
      // E always comes with an open error window (as markError makes it).
      if ((flags & FLAG_ERROR) !== 0) Atomics.store(board.words, byName(name).base + MEMBER_ERROR_UNTIL, (Date.now() + 60_000) | 0);
      Atomics.store(board.words, byName(name).base + MEMBER_FLAGS, flags);
    },
    factor: (name, factor) => Atomics.store(board.words, byName(name).base + MEMBER_LBFACTOR, factor),
    word: (name, field) => Atomics.load(board.words, byName(name).base + field),
    balancerBase: board.balancerBase(alloc.balancerSlot(ID) ?? 0),
  };
}

/** `n` picks, each released at once; names, or "-" for null. */
function picks(b: Balancer, n: number, route: string | null = null): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const m = b.pick(route, 0);
    m?.release();
    out.push(m === null ? "-" : m.route);
  }
  return out;
}

describe("byrequests (httpd lbstatus arithmetic)", () => {
  it.each([
    { name: "equal factors cycle in member order", members: ["a", "b", "c"], factors: {}, n: 6, want: "a b c a b c" },
    { name: "70/30 repeats a b a a a b a a b a (httpd's documented sequence)", members: ["a", "b"], factors: { a: 70, b: 30 }, n: 20, want: "a b a a a b a a b a a b a a a b a a b a" },
    { name: "only ratios matter: 7/3 gives the same sequence as 70/30", members: ["a", "b"], factors: { a: 7, b: 3 }, n: 10, want: "a b a a a b a a b a" },
    { name: "2:1:1 sends a half, b and c a quarter each", members: ["a", "b", "c"], factors: { a: 2 }, n: 8, want: "a b c a a b c a" },
  ])("$name", ({ members, factors, n, want }) => {
    const s = setup(members);
    for (const [name, f] of Object.entries(factors)) s.factor(name, f);
    expect(picks(s.balancer, n).join(" ")).toBe(want);
  });

  it("25/25/25/25 with b disabled cycles a c d (httpd's documented example)", () => {
    const s = setup(["a", "b", "c", "d"]);
    s.set("b", FLAG_DISABLED);
    expect(picks(s.balancer, 6).join(" ")).toBe("a c d a c d");
  });

  it("keeps the sum of lbstatus constant (weights met exactly)", () => {
    const s = setup(["a", "b", "c"]);
    s.factor("a", 5);
    s.factor("b", 3);
    picks(s.balancer, 17);
    expect(s.word("a", MEMBER_LBSTATUS) + s.word("b", MEMBER_LBSTATUS) + s.word("c", MEMBER_LBSTATUS)).toBe(0);
    const counts = { a: 0, b: 0, c: 0 } as Record<string, number>;
    for (const name of picks(s.balancer, 900)) counts[name] = (counts[name] ?? 0) + 1;
    expect(counts).toEqual({ a: 500, b: 300, c: 100 });
  });
});

describe("member states and tiers", () => {
  it.each([
    { name: "D (disabled) takes nothing", flags: { a: FLAG_DISABLED }, want: "b c b c" },
    { name: "S (stopped) takes nothing", flags: { b: FLAG_STOPPED }, want: "a c a c" },
    { name: "C (health check failed) takes nothing", flags: { c: FLAG_HC_FAIL }, want: "a b a b" },
    { name: "E (in error, window open) takes nothing", flags: { a: FLAG_ERROR }, want: "b c b c" },
    { name: "N (drain) takes no new sessions", flags: { b: FLAG_DRAIN }, want: "a c a c" },
    { name: "I (ignore errors) alone changes nothing", flags: { a: FLAG_IGNORE_ERRORS }, want: "a b c a" },
    { name: "every member unusable: none (503)", flags: { a: FLAG_DISABLED, b: FLAG_STOPPED, c: FLAG_HC_FAIL }, want: "- -" },
  ])("$name", ({ flags, want }) => {
    const s = setup(["a", "b", "c"]);
    for (const [name, f] of Object.entries(flags)) s.set(name, f);
    const n = want.split(" ").length;
    const got = picks(s.balancer, n).join(" ");
    expect(got).toBe(want);
    if (want.startsWith("-")) expect(s.balancer.outcome).toBe(PickOutcome.None);
  });

  it("an error window keeps the member out; once it ends the member gets one trial, then rejoins on success", () => {
    const s = setup(["a", "b"], { failover: { maxAttempts: null, retryMs: 60_000, failOnStatus: [], failOnTimeout: false } });
    expect(s.byName("a").markError(60_000)).toBe(true);
    expect(picks(s.balancer, 3).join(" ")).toBe("b b b");
    // The window ends: the first selection claims the trial, the next ones skip a while it runs.
    Atomics.store(s.board.words, s.byName("a").base + MEMBER_ERROR_UNTIL, (Date.now() - 1) | 0);
    const trial = s.balancer.pick(null, 0);
    expect(trial?.route).toBe("a");
    expect(s.balancer.trial).toBe(true);
    expect(picks(s.balancer, 2).join(" ")).toBe("b b");
    trial?.clearError();
    trial?.release();
    expect(s.word("a", MEMBER_FLAGS) & FLAG_ERROR).toBe(0);
    expect(picks(s.balancer, 4).sort().join(" ")).toBe("a a b b");
  });

  it("a failed trial re-opens the error window", () => {
    const s = setup(["a", "b"]);
    s.byName("a").markError(60_000);
    Atomics.store(s.board.words, s.byName("a").base + MEMBER_ERROR_UNTIL, (Date.now() - 1) | 0);
    const trial = s.balancer.pick(null, 0);
    expect(trial?.route).toBe("a");
    trial?.markError(60_000);
    trial?.release();
    expect(picks(s.balancer, 3).join(" ")).toBe("b b b");
  });

  it("I (ignore errors): markError does not take the member out", () => {
    const s = setup(["a", "b"]);
    s.set("a", FLAG_IGNORE_ERRORS);
    expect(s.byName("a").markError(60_000)).toBe(false);
    expect(picks(s.balancer, 2).join(" ")).toBe("a b");
  });

  it("forcerecovery: when every member is in error they all recover at once", () => {
    const s = setup(["a", "b"]);
    s.byName("a").markError(60_000);
    s.byName("b").markError(60_000);
    expect(picks(s.balancer, 2).join(" ")).toBe("a b");
    expect(s.word("a", MEMBER_FLAGS) & FLAG_ERROR).toBe(0);
  });

  it("no forced recovery while some member is not in error (even if unusable otherwise)", () => {
    const s = setup(["a", "b"]);
    s.byName("a").markError(60_000);
    s.set("b", FLAG_DISABLED);
    expect(picks(s.balancer, 2).join(" ")).toBe("- -");
  });

  it.each([
    { name: "spare R unused while every normal member is usable", specs: ["a", "b", "r"], flags: { r: FLAG_SPARE }, want: "a b a b" },
    { name: "spare R replaces one unusable member", specs: ["a", "b", "r"], flags: { r: FLAG_SPARE, a: FLAG_DISABLED }, want: "b r b r" },
    { name: "spares replace unusable members one for one", specs: ["a", "b", "r", "s"], flags: { r: FLAG_SPARE, s: FLAG_SPARE, a: FLAG_ERROR }, want: "b r b r" },
    { name: "two unusable, two spares: both spares serve", specs: ["a", "b", "r", "s"], flags: { r: FLAG_SPARE, s: FLAG_SPARE, a: FLAG_DISABLED, b: FLAG_DISABLED }, want: "r s r s" },
    { name: "a drained normal member counts as unusable for spares", specs: ["a", "b", "r"], flags: { r: FLAG_SPARE, b: FLAG_DRAIN }, want: "a r a r" },
    { name: "standby H unused while a normal member is usable", specs: ["a", "h"], flags: { h: FLAG_STANDBY }, want: "a a a" },
    { name: "standby H serves when no normal member is usable", specs: ["a", "h"], flags: { h: FLAG_STANDBY, a: FLAG_STOPPED }, want: "h h h" },
    { name: "standby H unused while a spare replaces the unusable member", specs: ["a", "r", "h"], flags: { r: FLAG_SPARE, h: FLAG_STANDBY, a: FLAG_DISABLED }, want: "r r" },
  ])("$name", ({ specs, flags, want }) => {
    const s = setup(specs);
    for (const [name, f] of Object.entries(flags)) s.set(name, f);
    expect(picks(s.balancer, want.split(" ").length).join(" ")).toBe(want);
  });

  it("hot-standby members from the snapshot take over when no primary is usable and give it back", () => {
    const s = setup(["a", "b", { name: "h", standby: true }, { name: "i", standby: true }]);
    expect(picks(s.balancer, 4).join(" ")).toBe("a b a b");
    s.set("a", FLAG_HC_FAIL);
    s.set("b", FLAG_HC_FAIL);
    expect(picks(s.balancer, 4).join(" ")).toBe("h i h i");
    s.set("b", 0);
    expect(picks(s.balancer, 2).join(" ")).toBe("b b");
    expect(s.balancer.defaultMaxAttempts).toBe(3);
  });

  it("lbsets: set 1 serves only when set 0 has no usable member", () => {
    const s = setup([{ name: "a" }, { name: "b" }, { name: "x", lbset: 1 }, { name: "y", lbset: 1 }]);
    expect(picks(s.balancer, 2).join(" ")).toBe("a b");
    s.set("a", FLAG_DISABLED);
    expect(picks(s.balancer, 2).join(" ")).toBe("b b");
    s.set("b", FLAG_DISABLED);
    expect(picks(s.balancer, 4).join(" ")).toBe("x y x y");
  });

  it("a balancer-manager lbset override moves a member between tiers", () => {
    const s = setup(["a", "b"]);
    Atomics.store(s.board.words, s.byName("a").base + MEMBER_LBSET, 1 + 1);
    expect(picks(s.balancer, 3).join(" ")).toBe("b b b");
  });

  it("a standby of set 0 is used before set 1", () => {
    const s = setup([{ name: "a" }, { name: "h", standby: true }, { name: "x", lbset: 1 }]);
    s.set("a", FLAG_DISABLED);
    expect(picks(s.balancer, 2).join(" ")).toBe("h h");
  });

  it("terminating members drain (sticky only) while a ready member exists, and serve when none is ready", () => {
    const s = setup([{ name: "a", ready: false }, "b"], { sticky: { cookie: "ROUTEID", param: null, noFailover: false } });
    expect(picks(s.balancer, 3).join(" ")).toBe("b b b");
    expect(picks(s.balancer, 2, "a").join(" ")).toBe("a a");
    const t = setup([{ name: "a", ready: false }, { name: "b", ready: false }]);
    expect(picks(t.balancer, 2).join(" ")).toBe("a b");
  });

  it("failover skips members this request already tried (its stamp)", () => {
    const s = setup(["a", "b", "c"]);
    const first = s.balancer.pick(null, 7);
    expect(first?.route).toBe("a");
    if (first !== null) first.mark = 7;
    first?.release();
    const second = s.balancer.pick(null, 7);
    expect(second?.route).toBe("b");
    if (second !== null) second.mark = 7;
    second?.release();
    expect(s.balancer.pick(null, 7)?.route).toBe("c");
  });
});

describe("sticky routes", () => {
  const sticky = { cookie: "ROUTEID", param: null, noFailover: false };

  it("a route naming a usable member goes there; its busy and elected counters move", () => {
    const s = setup(["a", "b", "c"], { sticky });
    const m = s.balancer.pick("c", 0);
    expect(m?.route).toBe("c");
    expect(s.balancer.outcome).toBe(PickOutcome.Sticky);
    expect(s.word("c", MEMBER_BUSY)).toBe(1);
    m?.release();
    expect(m?.setCookie).toBe("ROUTEID=.c; Path=/; HttpOnly");
  });

  it("without sticky settings a route is ignored", () => {
    const s = setup(["a", "b"]);
    expect(picks(s.balancer, 2, "b").join(" ")).toBe("a b");
    expect(s.balancer.outcome).toBe(PickOutcome.Balanced);
  });

  it.each([
    { name: "drained member still serves its sessions", flag: FLAG_DRAIN, noFailover: false, want: "b", outcome: PickOutcome.Sticky },
    { name: "disabled member: fails over to another member", flag: FLAG_DISABLED, noFailover: false, want: "a", outcome: PickOutcome.Balanced },
    { name: "health-check-failed member: fails over", flag: FLAG_HC_FAIL, noFailover: false, want: "a", outcome: PickOutcome.Balanced },
    { name: "disabled member with nofailover: refused (503)", flag: FLAG_DISABLED, noFailover: true, want: "-", outcome: PickOutcome.StickyRefused },
    { name: "errored member with nofailover: refused (503)", flag: FLAG_ERROR, noFailover: true, want: "-", outcome: PickOutcome.StickyRefused },
  ])("$name", ({ flag, noFailover, want, outcome }) => {
    const s = setup(["a", "b"], { sticky: { ...sticky, noFailover } });
    if (flag === FLAG_ERROR) s.byName("b").markError(60_000);
    else s.set("b", flag);
    expect(picks(s.balancer, 1, "b")).toEqual([want]);
    expect(s.balancer.outcome).toBe(outcome);
  });

  it("a route no member has (its pod is gone) is treated as a new session, even with nofailover", () => {
    const s = setup(["a", "b"], { sticky: { ...sticky, noFailover: true } });
    expect(picks(s.balancer, 2, "gone-pod").join(" ")).toBe("a b");
  });

  it("sticky picks do not advance byrequests (httpd elects sticky members outside the lbmethod)", () => {
    const s = setup(["a", "b"], { sticky });
    picks(s.balancer, 3, "b");
    expect(picks(s.balancer, 2).join(" ")).toBe("a b");
  });
});

describe("bybusyness, bytraffic, random2", () => {
  it("bybusyness: fewest in flight wins, ties by byrequests", () => {
    const s = setup(["a", "b", "c"], { lbmethod: "bybusyness" });
    const held = [s.balancer.pick(null, 0), s.balancer.pick(null, 0)];
    expect(held.map((m) => m?.route)).toEqual(["a", "b"]);
    expect(s.balancer.pick(null, 0)?.route).toBe("c"); // a, b busy: c (now busy too)
    held[0]?.release();
    expect(s.balancer.pick(null, 0)?.route).toBe("a"); // the only idle one
  });

  it("bybusyness with all idle round-robins like byrequests", () => {
    const s = setup(["a", "b", "c"], { lbmethod: "bybusyness" });
    expect(picks(s.balancer, 6).join(" ")).toBe("a b c a b c");
  });

  it("bytraffic: least bytes (in + out) per factor wins, earlier on ties", () => {
    const s = setup(["a", "b", "c"], { lbmethod: "bytraffic" });
    s.byName("a").addTraffic(100, 900);
    s.byName("b").addTraffic(0, 300);
    expect(picks(s.balancer, 1)).toEqual(["c"]);
    s.byName("c").addTraffic(500, 0);
    expect(picks(s.balancer, 1)).toEqual(["b"]);
    s.factor("a", 4); // 1000 / 4 = 250 < 300
    expect(picks(s.balancer, 1)).toEqual(["a"]);
  });

  it("traffic counters carry past 2^31 bytes", () => {
    const s = setup(["a"]);
    const m = s.byName("a");
    for (let i = 0; i < 5; i++) m.addTraffic(1_000_000_000, 3_000_000_000);
    expect(m.sent).toBe(5_000_000_000);
    expect(m.read).toBe(15_000_000_000);
  });

  it("random2 prefers the less busy of two random members (statistical, 2,000 picks, ±5%)", () => {
    const s = setup(["a", "b", "c", "d"], { lbmethod: "random2" });
    // a is permanently busier: it can only win when both draws... never (one of the two is less busy).
    Atomics.store(s.board.words, s.byName("a").base + MEMBER_BUSY, 5);
    const counts: Record<string, number> = {};
    for (const name of picks(s.balancer, 2000)) counts[name] = (counts[name] ?? 0) + 1;
    expect(counts.a ?? 0).toBe(0);
    for (const name of ["b", "c", "d"]) {
      expect(counts[name] ?? 0).toBeGreaterThan(2000 * (1 / 3 - 0.05));
      expect(counts[name] ?? 0).toBeLessThan(2000 * (1 / 3 + 0.05));
    }
  });

  it("random2 respects states and tiers (full scan when a draw is unusable)", () => {
    const s = setup(["a", "b", { name: "x", lbset: 1 }], { lbmethod: "random2" });
    s.set("a", FLAG_DISABLED);
    const got = new Set(picks(s.balancer, 200));
    expect([...got]).toEqual(["b"]);
    s.set("b", FLAG_HC_FAIL);
    expect(new Set(picks(s.balancer, 50))).toEqual(new Set(["x"]));
  });
});

describe("canary split", () => {
  it.each([
    { weight: 0, n: 10, canary: 0 },
    { weight: 100, n: 10, canary: 10 },
    { weight: 30, n: 10, canary: 3 },
    { weight: 25, n: 1000, canary: 250 },
    { weight: 1, n: 1000, canary: 10 },
  ])("weight $weight sends exactly $canary of $n requests to the canary", ({ weight, n, canary }) => {
    const s = setup(["a"]);
    let got = 0;
    for (let i = 0; i < n; i++) if (s.balancer.splitToCanary(weight)) got++;
    expect(got).toBe(canary);
  });

  it("the split is smooth (byrequests): weight 50 alternates", () => {
    const s = setup(["a"]);
    const seq = Array.from({ length: 6 }, () => (s.balancer.splitToCanary(50) ? "c" : "p")).join("");
    expect(seq).toBe("pcpcpc");
  });
});

describe("selection cost", () => {
  it("scans each member once per set for byrequests: a 1,000-member balancer stays exact", () => {
    const names = Array.from({ length: 1000 }, (_, i) => `m${String(i).padStart(4, "0")}`);
    const s = setup(names);
    const seq = picks(s.balancer, 2000);
    expect(seq.slice(0, 3)).toEqual(["m0000", "m0001", "m0002"]);
    expect(new Set(seq).size).toBe(1000);
  });
});

describe("balancer-manager lbmethod override (BALANCER_LBMETHOD)", () => {
  const hold = (s: Setup, name: string): void => void Atomics.add(s.board.words, s.byName(name).base + MEMBER_BUSY, 1);
  it.each([
    { name: "0 keeps the snapshot's lbmethod (byrequests ignores busy)", code: 0, want: "a b a b" },
    { name: "1 = byrequests", code: 1, want: "a b a b" },
    { name: "3 = bybusyness: the least busy member wins", code: 3, want: "b b b b" },
    { name: "4 = random2: the less busy of two draws wins", code: 4, want: "b b b b" },
  ])("$name", ({ code, want }) => {
    const s = setup(["a", "b"]);
    hold(s, "a");
    Atomics.store(s.board.words, s.balancerBase + BALANCER_LBMETHOD, code);
    expect(picks(s.balancer, 4).join(" ")).toBe(want);
  });

  it("overrides a snapshot lbmethod and clears back to it", () => {
    const s = setup(["a", "b"], { lbmethod: "bybusyness" });
    hold(s, "a");
    expect(picks(s.balancer, 2).join(" ")).toBe("b b");
    Atomics.store(s.board.words, s.balancerBase + BALANCER_LBMETHOD, 1);
    expect(picks(s.balancer, 2).join(" ")).not.toBe("b b");
    Atomics.store(s.board.words, s.balancerBase + BALANCER_LBMETHOD, 0);
    expect(picks(s.balancer, 2).join(" ")).toBe("b b");
  });
});
