// balancer-manager overrides in the scoreboard: flags via Atomics.or/and on the owned bits only,
// load factor, lbset + 1, the lbmethod word; re-applied to fresh slots; cleared when dropped.
import { describe, expect, it } from "vitest";
import {
  BALANCER_LBMETHOD,
  FLAG_DISABLED,
  FLAG_DRAIN,
  FLAG_ERROR,
  FLAG_HC_FAIL,
  FLAG_IGNORE_ERRORS,
  FLAG_SPARE,
  FLAG_STANDBY,
  FLAG_STOPPED,
  MEMBER_FLAGS,
  MEMBER_LBFACTOR,
  MEMBER_LBSET,
  RuntimeOverrides,
  Scoreboard,
  SlotAllocator,
  describeBalancers,
  flagLetters,
} from "../../../src/dataplane/index.js";
import type { RuntimeState } from "../../../src/model/index.js";
import { balancerConfig, endpointTable, member, route, routeTable, vhost } from "../helpers.js";

const ID = "ns/svc:80";

function setup() {
  const board = Scoreboard.create({ members: 64, balancers: 8 });
  const alloc = new SlotAllocator(board);
  const overrides = new RuntimeOverrides(board, alloc);
  const eps = endpointTable({ [ID]: [member(1001), member(1002)] });
  const slots = alloc.assign(eps);
  const word = (key: string, field: number): number => board.memberField(alloc.memberSlot(ID, key) ?? 0, field);
  const balancerWord = (field: number): number => board.balancerField(alloc.balancerSlot(ID) ?? 0, field);
  return { board, alloc, overrides, eps, slots, word, balancerWord };
}

const state = (members: Record<string, { flags?: string; loadfactor?: number | null; lbset?: number | null }>, lbmethod: RuntimeState["balancers"][string]["lbmethod"] = null): RuntimeState => ({
  balancers: { [ID]: { lbmethod, members: Object.fromEntries(Object.entries(members).map(([k, m]) => [k, { flags: m.flags ?? "", loadfactor: m.loadfactor ?? null, lbset: m.lbset ?? null }])) } },
});

describe("RuntimeOverrides", () => {
  it.each([
    { name: "N drains", flags: "N", bits: FLAG_DRAIN },
    { name: "D disables", flags: "D", bits: FLAG_DISABLED },
    { name: "S stops", flags: "S", bits: FLAG_STOPPED },
    { name: "H makes a standby", flags: "H", bits: FLAG_STANDBY },
    { name: "R makes a spare", flags: "R", bits: FLAG_SPARE },
    { name: "I ignores errors", flags: "I", bits: FLAG_IGNORE_ERRORS },
    { name: "several letters at once", flags: "DN", bits: FLAG_DRAIN | FLAG_DISABLED },
  ])("$name", ({ flags, bits }) => {
    const s = setup();
    s.overrides.set(state({ "127.0.0.1:1001": { flags } }));
    expect(s.word("127.0.0.1:1001", MEMBER_FLAGS)).toBe(bits);
    expect(s.word("127.0.0.1:1002", MEMBER_FLAGS)).toBe(0);
  });

  it("leaves E and C (other writers' bits) alone when setting and clearing its own", () => {
    const s = setup();
    const slot = s.alloc.memberSlot(ID, "127.0.0.1:1001") ?? 0;
    Atomics.or(s.board.words, s.board.memberBase(slot) + MEMBER_FLAGS, FLAG_ERROR | FLAG_HC_FAIL);
    s.overrides.set(state({ "127.0.0.1:1001": { flags: "N" } }));
    expect(s.word("127.0.0.1:1001", MEMBER_FLAGS)).toBe(FLAG_ERROR | FLAG_HC_FAIL | FLAG_DRAIN);
    s.overrides.set(state({ "127.0.0.1:1001": { flags: "D" } }));
    expect(s.word("127.0.0.1:1001", MEMBER_FLAGS)).toBe(FLAG_ERROR | FLAG_HC_FAIL | FLAG_DISABLED);
    s.overrides.set({ balancers: {} });
    expect(s.word("127.0.0.1:1001", MEMBER_FLAGS)).toBe(FLAG_ERROR | FLAG_HC_FAIL);
  });

  it("writes load factor and lbset + 1, and zeroes them when the override goes", () => {
    const s = setup();
    s.overrides.set(state({ "127.0.0.1:1002": { loadfactor: 70, lbset: 0 } }));
    expect(s.word("127.0.0.1:1002", MEMBER_LBFACTOR)).toBe(70);
    expect(s.word("127.0.0.1:1002", MEMBER_LBSET)).toBe(1);
    s.overrides.set(state({ "127.0.0.1:1002": { lbset: 3 } }));
    expect(s.word("127.0.0.1:1002", MEMBER_LBFACTOR)).toBe(0);
    expect(s.word("127.0.0.1:1002", MEMBER_LBSET)).toBe(4);
    s.overrides.set({ balancers: {} });
    expect(s.word("127.0.0.1:1002", MEMBER_LBSET)).toBe(0);
  });

  it.each([
    { name: "byrequests", method: "byrequests" as const, code: 1 },
    { name: "bytraffic", method: "bytraffic" as const, code: 2 },
    { name: "bybusyness", method: "bybusyness" as const, code: 3 },
    { name: "random2", method: "random2" as const, code: 4 },
  ])("lbmethod $name is code $code in the balancer word, 0 once cleared", ({ method, code }) => {
    const s = setup();
    s.overrides.set(state({}, method));
    expect(s.balancerWord(BALANCER_LBMETHOD)).toBe(code);
    s.overrides.set({ balancers: {} });
    expect(s.balancerWord(BALANCER_LBMETHOD)).toBe(0);
  });

  it("re-applies to a member that comes back with a fresh (zeroed) slot", () => {
    const s = setup();
    s.overrides.set(state({ "127.0.0.1:1001": { flags: "N", loadfactor: 5 } }));
    const gone = endpointTable({ [ID]: [member(1002)] });
    s.alloc.assign(gone);
    s.alloc.release(Number.MAX_SAFE_INTEGER);
    s.overrides.reapply(); // absent: nothing to write, nothing thrown
    s.alloc.assign(endpointTable({ [ID]: [member(1002), member(1003)] })); // 1003 may reuse 1001's old slot: zeroed
    s.alloc.assign(s.eps);
    expect(s.word("127.0.0.1:1001", MEMBER_FLAGS)).toBe(0);
    s.overrides.reapply();
    expect(s.word("127.0.0.1:1001", MEMBER_FLAGS)).toBe(FLAG_DRAIN);
    expect(s.word("127.0.0.1:1001", MEMBER_LBFACTOR)).toBe(5);
  });

  it("clearFlags clears E and C of a live member only", () => {
    const s = setup();
    const slot = s.alloc.memberSlot(ID, "127.0.0.1:1001") ?? 0;
    Atomics.or(s.board.words, s.board.memberBase(slot) + MEMBER_FLAGS, FLAG_ERROR | FLAG_HC_FAIL | FLAG_DRAIN);
    expect(s.overrides.clearFlags(ID, "127.0.0.1:1001", ["E"])).toBe(true);
    expect(s.word("127.0.0.1:1001", MEMBER_FLAGS)).toBe(FLAG_HC_FAIL | FLAG_DRAIN);
    expect(s.overrides.clearFlags(ID, "127.0.0.1:1001", ["C"])).toBe(true);
    expect(s.word("127.0.0.1:1001", MEMBER_FLAGS)).toBe(FLAG_DRAIN);
    expect(s.overrides.clearFlags(ID, "127.0.0.1:9", ["E"])).toBe(false);
  });

  it("flagLetters spells the state in NDSHRIEC order", () => {
    expect(flagLetters(0)).toBe("");
    expect(flagLetters(FLAG_HC_FAIL | FLAG_DRAIN | FLAG_ERROR | FLAG_DISABLED)).toBe("NDEC");
  });
});

describe("describeBalancers", () => {
  it("reports routes, canaries, effective lbmethod, lbset, factor, flags and health", () => {
    const s = setup();
    const routes = routeTable([vhost("a.test", [route("/x", "Prefix", ID, {}, "ns/ing")])]);
    s.overrides.set(state({ "127.0.0.1:1001": { flags: "N", loadfactor: 70, lbset: 2 } }, "random2"));
    const entries = [{ id: ID, members: s.eps.balancers[0]?.members ?? [], memberSlots: s.slots.members[0] ?? [], balancerSlot: s.slots.balancers[0] ?? 0 }];
    const health = [{ balancer: ID, member: "127.0.0.1:1002", healthy: false, streak: -2, lastStatus: 500, lastError: "status 500 not expected", lastCheckedAt: 1, checks: 2 }];
    const [view] = describeBalancers(routes, entries, s.board, health);
    expect(view).toMatchObject({ id: ID, lbmethod: "random2", lbmethodOverridden: true, routes: [{ ingress: "ns/ing", host: "a.test", path: "/x", pathType: "Prefix" }], canaries: [] });
    expect(view?.config).toEqual(balancerConfig(ID));
    expect(view?.members[0]).toMatchObject({ key: "127.0.0.1:1001", flags: "N", loadfactor: 70, lbset: 2, snapshotLbset: 0, health: null });
    expect(view?.members[1]).toMatchObject({ key: "127.0.0.1:1002", flags: "", loadfactor: 1, lbset: 0, health: { healthy: false, lastStatus: 500 } });
  });
});
