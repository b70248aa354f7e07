// Primary-side (main thread) allocation of scoreboard slots by stable identity: balancer id
// ("ns/svc:port") and balancer id + member key. Workers never allocate; they receive a
// SlotAssignment with every endpoint update.
//
// Quarantine: a slot freed by generation G (the identity disappeared from the endpoints) is not
// reused until every worker has acknowledged generation G (`release(G)`). After that no worker
// holds a live member for it: in-flight requests on a removed member skip their decrement (the
// member object is retired), and the slot is zeroed when reused. Bound: at most the number of
// identities removed by generations not yet acknowledged by every worker are quarantined; when a
// region is full, new identities share the overflow slot 0 (approximate counters, one warning).

import type { EndpointDelta, EndpointTable } from "../../model/index.js";
import type { Scoreboard } from "./scoreboard.js";

/** Slots parallel to `EndpointTable.balancers` (and each one's `members`). Plain data: goes by postMessage. */
export interface SlotAssignment {
  readonly generation: number;
  readonly balancers: ReadonlyArray<number>;
  readonly members: ReadonlyArray<ReadonlyArray<number>>;
}

class SlotRegion {
  readonly #capacity: number;
  readonly #reset: (slot: number) => void;
  readonly #byIdentity = new Map<string, number>();
  readonly #free: number[] = [];
  readonly #quarantine: Array<{ slot: number; generation: number }> = [];
  #quarantineHead = 0;
  #next = 1; // slot 0 is the overflow slot
  overflowed = false;

  constructor(capacity: number, reset: (slot: number) => void) {
    this.#capacity = capacity;
    this.#reset = reset;
  }

  slotFor(identity: string): number {
    const known = this.#byIdentity.get(identity);
    if (known !== undefined) return known;
    let slot = this.#free.pop();
    if (slot === undefined && this.#next < this.#capacity) slot = this.#next++;
    if (slot === undefined) {
      this.overflowed = true;
      slot = 0;
    } else {
      this.#reset(slot);
    }
    this.#byIdentity.set(identity, slot);
    return slot;
  }

  /** Quarantines the slots of identities not in `live`. */
  retireAbsent(live: ReadonlySet<string>, generation: number): void {
    for (const [identity, slot] of this.#byIdentity) {
      if (live.has(identity)) continue;
      this.#byIdentity.delete(identity);
      if (slot !== 0) this.#quarantine.push({ slot, generation });
    }
  }

  /** Quarantines the slot of one identity (if it has one). */
  retire(identity: string, generation: number): void {
    const slot = this.#byIdentity.get(identity);
    if (slot === undefined) return;
    this.#byIdentity.delete(identity);
    if (slot !== 0) this.#quarantine.push({ slot, generation });
  }

  release(acknowledged: number): void {
    while (this.#quarantineHead < this.#quarantine.length) {
      const entry = this.#quarantine[this.#quarantineHead];
      if (entry === undefined || entry.generation > acknowledged) break;
      this.#free.push(entry.slot);
      this.#quarantineHead++;
    }
    if (this.#quarantineHead > 1024 && this.#quarantineHead * 2 > this.#quarantine.length) {
      this.#quarantine.splice(0, this.#quarantineHead);
      this.#quarantineHead = 0;
    }
  }

  get quarantined(): number {
    return this.#quarantine.length - this.#quarantineHead;
  }

  get used(): number {
    return this.#byIdentity.size;
  }

  lookup(identity: string): number | undefined {
    return this.#byIdentity.get(identity);
  }
}

export function memberIdentity(balancer: string, key: string): string {
  return `${balancer}\u0000${key}`;
}

export class SlotAllocator {
  readonly #members: SlotRegion;
  readonly #balancers: SlotRegion;
  /** Member keys of each balancer in the last assignment (for deltas). */
  #keysOf = new Map<string, ReadonlySet<string>>();
  #generation = 0;
  #warned = false;

  constructor(board: Scoreboard) {
    this.#members = new SlotRegion(board.memberCapacity, (s) => board.resetMember(s));
    this.#balancers = new SlotRegion(board.balancerCapacity, (s) => board.resetBalancer(s));
  }

  /** Assigns slots for a new endpoint table (a new generation); identities that disappeared are quarantined. */
  assign(endpoints: EndpointTable): SlotAssignment {
    const generation = ++this.#generation;
    const liveBalancers = new Set<string>();
    const liveMembers = new Set<string>();
    const balancers: number[] = [];
    const members: number[][] = [];
    const keysOf = new Map<string, ReadonlySet<string>>();
    for (const b of endpoints.balancers) {
      liveBalancers.add(b.balancer);
      balancers.push(this.#balancers.slotFor(b.balancer));
      const slots: number[] = [];
      const keys = new Set<string>();
      for (const m of b.members) {
        const identity = memberIdentity(b.balancer, m.key);
        liveMembers.add(identity);
        keys.add(m.key);
        slots.push(this.#members.slotFor(identity));
      }
      members.push(slots);
      keysOf.set(b.balancer, keys);
    }
    this.#balancers.retireAbsent(liveBalancers, generation);
    this.#members.retireAbsent(liveMembers, generation);
    this.#keysOf = keysOf;
    return { generation, balancers, members };
  }

  /**
   * Assigns slots for a delta (a new generation), parallel to `delta.balancers`: only the named
   * balancers' members are looked at; their members that disappeared are quarantined. Balancer
   * slots are kept (the route table, not a delta, retires balancers).
   */
  assignDelta(delta: EndpointDelta): SlotAssignment {
    const generation = ++this.#generation;
    const balancers: number[] = [];
    const members: number[][] = [];
    for (const b of delta.balancers) {
      balancers.push(this.#balancers.slotFor(b.balancer));
      const slots: number[] = [];
      const keys = new Set<string>();
      for (const m of b.members) {
        keys.add(m.key);
        slots.push(this.#members.slotFor(memberIdentity(b.balancer, m.key)));
      }
      members.push(slots);
      for (const key of this.#keysOf.get(b.balancer) ?? []) {
        if (!keys.has(key)) this.#members.retire(memberIdentity(b.balancer, key), generation);
      }
      this.#keysOf.set(b.balancer, keys);
    }
    return { generation, balancers, members };
  }

  /** Every worker runs generation `acknowledged` (or later): its quarantined slots may be reused. */
  release(acknowledged: number): void {
    this.#members.release(acknowledged);
    this.#balancers.release(acknowledged);
  }

  memberSlot(balancer: string, key: string): number | undefined {
    return this.#members.lookup(memberIdentity(balancer, key));
  }

  balancerSlot(balancer: string): number | undefined {
    return this.#balancers.lookup(balancer);
  }

  get overflowed(): boolean {
    return this.#members.overflowed || this.#balancers.overflowed;
  }

  /** True once, the first time a region overflowed: the owner logs one warning. */
  takeOverflowWarning(): boolean {
    if (!this.overflowed || this.#warned) return false;
    this.#warned = true;
    return true;
  }

  stats(): { members: number; balancers: number; quarantined: number } {
    return { members: this.#members.used, balancers: this.#balancers.used, quarantined: this.#members.quarantined + this.#balancers.quarantined };
  }
}
