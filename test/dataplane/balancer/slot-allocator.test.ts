import { describe, expect, it } from "vitest";
import { MEMBER_BUSY, Scoreboard, SlotAllocator } from "../../../src/dataplane/index.js";
import { endpointTable, member } from "../helpers.js";

const A = "ns/a:80";
const B = "ns/b:80";

describe("SlotAllocator", () => {
  it("keeps a slot per stable identity across generations", () => {
    const alloc = new SlotAllocator(Scoreboard.create({ members: 16, balancers: 4 }));
    const first = alloc.assign(endpointTable({ [A]: [member(1), member(2)], [B]: [member(1)] }));
    const second = alloc.assign(endpointTable({ [A]: [member(2), member(3)], [B]: [member(1)] }));
    expect(second.members[0]?.[0]).toBe(first.members[0]?.[1]); // A/127.0.0.1:2
    expect(second.members[1]?.[0]).toBe(first.members[1]?.[0]); // B/127.0.0.1:1
    expect(second.balancers).toEqual(first.balancers);
    expect(new Set(first.members.flat()).size).toBe(3); // same key in two balancers: two identities
  });

  it("quarantines freed slots until every worker acknowledged the removal, then reuses them zeroed", () => {
    const board = Scoreboard.create({ members: 4, balancers: 2 }); // slots 1..3 usable, 0 = overflow
    const alloc = new SlotAllocator(board);
    const g1 = alloc.assign(endpointTable({ [A]: [member(1), member(2), member(3)] }));
    const freed = g1.members[0]?.[0] ?? -1;
    Atomics.store(board.words, board.memberBase(freed) + MEMBER_BUSY, 5);
    const g2 = alloc.assign(endpointTable({ [A]: [member(2), member(3)] }));
    expect(alloc.stats().quarantined).toBe(1);
    // Not yet acknowledged: a new identity must not get the quarantined slot (region full -> overflow).
    const g3 = alloc.assign(endpointTable({ [A]: [member(2), member(3), member(4)] }));
    expect(g3.members[0]?.[2]).toBe(0);
    expect(alloc.takeOverflowWarning()).toBe(true);
    expect(alloc.takeOverflowWarning()).toBe(false);
    alloc.release(g2.generation);
    const g4 = alloc.assign(endpointTable({ [A]: [member(2), member(3), member(5)] }));
    expect(g4.members[0]?.[2]).toBe(freed);
    expect(board.memberField(freed, MEMBER_BUSY)).toBe(0);
  });
});
