// balancer-manager overrides in the shared scoreboard, written by the primary (WorkerPool, or a
// standalone ProxyServer): per member the administrative flags N D S H R I (MEMBER_FLAGS bits via
// Atomics.or/and; these bits have no other writer), the load factor (MEMBER_LBFACTOR) and the
// lbset (MEMBER_LBSET = lbset + 1); per balancer the lbmethod (BALANCER_LBMETHOD). Every worker's
// selector reads those words, so an edit takes effect in all of them at once.
//
// The owner calls `reapply()` after every apply: a member that (re)appears gets a fresh, zeroed
// slot, and its override must be written there. Also here: the read-only description of the live
// balancers the admin pages show (BalancerStateReader's data), built from the primary's snapshot,
// slot assignment, scoreboard and health-check results.

import type {
  AdminFlag,
  BalancerRouteView,
  BalancerView,
  CanaryView,
  ClearableFlag,
  Member,
  MemberHealthView,
  MemberView,
  RouteTable,
  RuntimeState,
} from "../../model/index.js";
import { emptyRuntimeState } from "../../model/index.js";
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
  LBMETHOD_CODES,
  MEMBER_BUSY,
  MEMBER_ELECTED,
  MEMBER_ERRORS,
  MEMBER_FLAGS,
  MEMBER_FROM_HI,
  MEMBER_FROM_LO,
  MEMBER_LBFACTOR,
  MEMBER_LBSET,
  MEMBER_TO_HI,
  MEMBER_TO_LO,
  type Scoreboard,
} from "./scoreboard.js";

const FLAG_BITS: Readonly<Record<AdminFlag, number>> = {
  N: FLAG_DRAIN,
  D: FLAG_DISABLED,
  S: FLAG_STOPPED,
  H: FLAG_STANDBY,
  R: FLAG_SPARE,
  I: FLAG_IGNORE_ERRORS,
};
/** The MEMBER_FLAGS bits the overrides own. */
const OWNED = FLAG_DRAIN | FLAG_DISABLED | FLAG_STOPPED | FLAG_STANDBY | FLAG_SPARE | FLAG_IGNORE_ERRORS;
/** Display order of state letters. */
const LETTERS: ReadonlyArray<readonly [string, number]> = [
  ["N", FLAG_DRAIN],
  ["D", FLAG_DISABLED],
  ["S", FLAG_STOPPED],
  ["H", FLAG_STANDBY],
  ["R", FLAG_SPARE],
  ["I", FLAG_IGNORE_ERRORS],
  ["E", FLAG_ERROR],
  ["C", FLAG_HC_FAIL],
];
const CARRY = 0x4000_0000;

/** Slot lookup by identity (SlotAllocator fits). */
export interface SlotLookup {
  memberSlot(balancer: string, key: string): number | undefined;
  balancerSlot(balancer: string): number | undefined;
}

function flagBits(letters: string): number {
  let bits = 0;
  for (const [letter, bit] of Object.entries(FLAG_BITS)) if (letters.includes(letter)) bits |= bit;
  return bits;
}

/** State letters of a MEMBER_FLAGS word, in "NDSHRIEC" order. */
export function flagLetters(flags: number): string {
  let s = "";
  for (const [letter, bit] of LETTERS) if ((flags & bit) !== 0) s += letter;
  return s;
}

export class RuntimeOverrides {
  readonly #board: Scoreboard;
  readonly #slots: SlotLookup;
  #state: RuntimeState = emptyRuntimeState;

  constructor(board: Scoreboard, slots: SlotLookup) {
    this.#board = board;
    this.#slots = slots;
  }

  get state(): RuntimeState {
    return this.#state;
  }

  /** Replaces the overrides: what the new state no longer names returns to the snapshot's values. */
  set(state: RuntimeState): void {
    const prev = this.#state;
    this.#state = state;
    for (const [id, b] of Object.entries(prev.balancers)) {
      const next = state.balancers[id];
      if (next === undefined) this.#writeLbMethod(id, 0);
      for (const key of Object.keys(b.members)) {
        if (next?.members[key] === undefined) this.#writeMember(id, key, 0, 0, 0);
      }
    }
    this.reapply();
  }

  /** Writes every override into the slots its identities have now (after each apply). */
  reapply(): void {
    for (const [id, b] of Object.entries(this.#state.balancers)) {
      this.#writeLbMethod(id, b.lbmethod === null ? 0 : LBMETHOD_CODES.indexOf(b.lbmethod) + 1);
      for (const [key, m] of Object.entries(b.members)) {
        this.#writeMember(id, key, flagBits(m.flags), m.loadfactor ?? 0, m.lbset === null ? 0 : m.lbset + 1);
      }
    }
  }

  /** Writes the overrides of some balancers only (after an endpoint delta: only their members got slots). */
  reapplyTo(ids: Iterable<string>): void {
    for (const id of ids) {
      const b = this.#state.balancers[id];
      if (b === undefined) continue;
      this.#writeLbMethod(id, b.lbmethod === null ? 0 : LBMETHOD_CODES.indexOf(b.lbmethod) + 1);
      for (const [key, m] of Object.entries(b.members)) {
        this.#writeMember(id, key, flagBits(m.flags), m.loadfactor ?? 0, m.lbset === null ? 0 : m.lbset + 1);
      }
    }
  }

  /** Clears E and/or C of a live member. False when it has no slot (unknown or overflow). */
  clearFlags(balancer: string, key: string, flags: ReadonlyArray<ClearableFlag>): boolean {
    const slot = this.#slots.memberSlot(balancer, key);
    if (slot === undefined || slot === 0) return false;
    let bits = 0;
    for (const f of flags) bits |= f === "E" ? FLAG_ERROR : FLAG_HC_FAIL;
    Atomics.and(this.#board.words, this.#board.memberBase(slot) + MEMBER_FLAGS, ~bits);
    return true;
  }

  #writeLbMethod(id: string, code: number): void {
    const slot = this.#slots.balancerSlot(id);
    if (slot === undefined || slot === 0) return;
    const index = this.#board.balancerBase(slot) + BALANCER_LBMETHOD;
    if (Atomics.load(this.#board.words, index) !== code) Atomics.store(this.#board.words, index, code);
  }

  #writeMember(id: string, key: string, bits: number, lbfactor: number, lbset: number): void {
    const slot = this.#slots.memberSlot(id, key);
    // Slot 0 is shared by overflow members: an override there would hit unrelated members.
    if (slot === undefined || slot === 0) return;
    const words = this.#board.words;
    const base = this.#board.memberBase(slot);
    const current = Atomics.load(words, base + MEMBER_FLAGS) & OWNED;
    if (current !== bits) {
      const off = current & ~bits;
      if (off !== 0) Atomics.and(words, base + MEMBER_FLAGS, ~off);
      const on = bits & ~current;
      if (on !== 0) Atomics.or(words, base + MEMBER_FLAGS, on);
    }
    Atomics.store(words, base + MEMBER_LBFACTOR, lbfactor);
    Atomics.store(words, base + MEMBER_LBSET, lbset);
  }
}

/** One live balancer's members and slots, as the primary knows them. */
export interface BalancerEntry {
  readonly id: string;
  readonly members: ReadonlyArray<Member>;
  /** Parallel to `members`. */
  readonly memberSlots: ReadonlyArray<number>;
  readonly balancerSlot: number;
}

/** A member's health-check result (HealthChecker.results() items fit). */
export interface HealthEntry extends MemberHealthView {
  readonly balancer: string;
  readonly member: string;
}

/** The admin pages' view of the live balancers (sorted by id), read from the scoreboard now. */
export function describeBalancers(routes: RouteTable, entries: Iterable<BalancerEntry>, board: Scoreboard, health: Iterable<HealthEntry>): BalancerView[] {
  const routesOf = new Map<string, BalancerRouteView[]>();
  const canariesOf = new Map<string, CanaryView[]>();
  const add = <T>(map: Map<string, T[]>, id: string, value: T): void => {
    const list = map.get(id);
    if (list === undefined) map.set(id, [value]);
    else list.push(value);
  };
  const visit = (host: string, r: RouteTable["defaultRoute"]): void => {
    if (r === null) return;
    add(routesOf, r.balancer, { ingress: r.ingress, host, path: r.path, pathType: r.pathType });
    if (r.canary !== null) {
      add(canariesOf, r.canary.balancer, { ingress: r.canary.ingress, host, path: r.path, pathType: r.pathType, primary: r.balancer, weight: r.canary.weight, byHeader: r.canary.byHeader, byCookie: r.canary.byCookie });
    }
  };
  for (const vh of routes.virtualHosts) {
    for (const r of vh.routes) visit(vh.host, r);
    visit(vh.host, vh.fallback);
  }
  visit("", routes.defaultRoute);
  const checks = new Map<string, MemberHealthView>();
  for (const h of health) {
    checks.set(`${h.balancer}\u0000${h.member}`, { healthy: h.healthy, streak: h.streak, lastStatus: h.lastStatus, lastError: h.lastError, lastCheckedAt: h.lastCheckedAt, checks: h.checks });
  }
  const byId = new Map<string, BalancerEntry>();
  for (const e of entries) byId.set(e.id, e);
  const words = board.words;
  const out: BalancerView[] = [];
  for (const config of routes.balancers) {
    const entry = byId.get(config.id);
    const code = entry === undefined || entry.balancerSlot === 0 ? 0 : Atomics.load(words, board.balancerBase(entry.balancerSlot) + BALANCER_LBMETHOD);
    const members: MemberView[] = [];
    const list = entry?.members ?? [];
    for (let i = 0; i < list.length; i++) {
      const m = list[i] as Member;
      const base = board.memberBase(entry?.memberSlots[i] ?? 0);
      const lbsetWord = Atomics.load(words, base + MEMBER_LBSET);
      members.push({
        key: m.key,
        address: m.address,
        port: m.port,
        route: m.route,
        zone: m.zone,
        ready: m.ready,
        standby: m.standby,
        lbset: lbsetWord > 0 ? lbsetWord - 1 : m.lbset,
        snapshotLbset: m.lbset,
        loadfactor: Atomics.load(words, base + MEMBER_LBFACTOR) || 1,
        flags: flagLetters(Atomics.load(words, base + MEMBER_FLAGS)),
        elected: Atomics.load(words, base + MEMBER_ELECTED) >>> 0,
        busy: Atomics.load(words, base + MEMBER_BUSY),
        sent: Atomics.load(words, base + MEMBER_TO_HI) * CARRY + Atomics.load(words, base + MEMBER_TO_LO),
        read: Atomics.load(words, base + MEMBER_FROM_HI) * CARRY + Atomics.load(words, base + MEMBER_FROM_LO),
        errors: Atomics.load(words, base + MEMBER_ERRORS) >>> 0,
        health: checks.get(`${config.id}\u0000${m.key}`) ?? null,
      });
    }
    out.push({
      id: config.id,
      config,
      lbmethod: code === 0 ? config.lbmethod : (LBMETHOD_CODES[code - 1] ?? config.lbmethod),
      lbmethodOverridden: code !== 0,
      routes: routesOf.get(config.id) ?? [],
      canaries: canariesOf.get(config.id) ?? [],
      members,
    });
  }
  return out;
}
