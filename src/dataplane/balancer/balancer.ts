// Runtime balancers: reconciled by stable id across snapshots (never recreated while they exist),
// members reconciled by key. Plain round robin over usable members: ready ones; terminating
// (ready: false) ones only while none is ready. The cursor and per-member counters live in the
// shared scoreboard, so round robin and busy counts are global across all workers.

import type { BalancerConfig, BalancerMembers, Member } from "../../model/index.js";
import { Upstream, type UpstreamOptions } from "../upstream.js";
import { BALANCER_CURSOR, MEMBER_BUSY, MEMBER_ELECTED, type Scoreboard } from "./scoreboard.js";

export class BalancerMember {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly upstream: Upstream;
  route: string;
  zone: string | null;
  ready: boolean;
  /** Scoreboard slot; its word indexes are cached for the hot path. */
  slot: number;
  #busyIndex: number;
  #electedIndex: number;
  #retired = false;
  readonly #words: Int32Array;
  readonly #board: Scoreboard;

  constructor(member: Member, slot: number, board: Scoreboard, options: UpstreamOptions) {
    this.key = member.key;
    this.address = member.address;
    this.port = member.port;
    this.upstream = new Upstream(member.address, member.port, options);
    this.route = member.route;
    this.zone = member.zone;
    this.ready = member.ready;
    this.#board = board;
    this.#words = board.words;
    this.slot = slot;
    this.#busyIndex = board.memberBase(slot) + MEMBER_BUSY;
    this.#electedIndex = board.memberBase(slot) + MEMBER_ELECTED;
  }

  update(member: Member, slot: number): void {
    this.route = member.route;
    this.zone = member.zone;
    this.ready = member.ready;
    if (slot !== this.slot) {
      this.slot = slot;
      this.#busyIndex = this.#board.memberBase(slot) + MEMBER_BUSY;
      this.#electedIndex = this.#board.memberBase(slot) + MEMBER_ELECTED;
    }
  }

  /** Counts an election and one more in-flight request. */
  acquire(): void {
    Atomics.add(this.#words, this.#electedIndex, 1);
    Atomics.add(this.#words, this.#busyIndex, 1);
  }

  /** One in-flight request ended. A retired member no longer touches its (quarantined) slot. */
  release(): void {
    if (!this.#retired) Atomics.sub(this.#words, this.#busyIndex, 1);
  }

  get busy(): number {
    return Atomics.load(this.#words, this.#busyIndex);
  }

  get elected(): number {
    return Atomics.load(this.#words, this.#electedIndex) >>> 0;
  }

  get retired(): boolean {
    return this.#retired;
  }

  /** Removed from its balancer: stop touching the slot; close pools after in-flight requests. */
  retire(): Promise<void> {
    this.#retired = true;
    return this.upstream.close();
  }
}

const EMPTY: ReadonlyArray<BalancerMember> = Object.freeze([]);

export class Balancer {
  readonly id: string;
  config: BalancerConfig;
  readonly #board: Scoreboard;
  readonly #options: UpstreamOptions;
  #cursorIndex: number;
  #members = new Map<string, BalancerMember>();
  #ready: ReadonlyArray<BalancerMember> = EMPTY;
  #terminating: ReadonlyArray<BalancerMember> = EMPTY;

  constructor(config: BalancerConfig, board: Scoreboard, options: UpstreamOptions) {
    this.id = config.id;
    this.config = config;
    this.#board = board;
    this.#options = options;
    this.#cursorIndex = board.balancerBase(0) + BALANCER_CURSOR;
  }

  /** Reconciles members by key. Returns the removed members; the owner retires them. */
  setMembers(entry: BalancerMembers | null, balancerSlot: number, memberSlots: ReadonlyArray<number>): BalancerMember[] {
    this.#cursorIndex = this.#board.balancerBase(balancerSlot) + BALANCER_CURSOR;
    const next = new Map<string, BalancerMember>();
    const ready: BalancerMember[] = [];
    const terminating: BalancerMember[] = [];
    const members = entry === null ? [] : entry.members;
    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      if (m === undefined) continue;
      const slot = memberSlots[i] ?? 0;
      let runtime = this.#members.get(m.key);
      if (runtime === undefined || runtime.address !== m.address || runtime.port !== m.port) {
        runtime = new BalancerMember(m, slot, this.#board, this.#options);
      } else {
        runtime.update(m, slot);
      }
      next.set(m.key, runtime);
      (m.ready ? ready : terminating).push(runtime);
    }
    const removed: BalancerMember[] = [];
    for (const [key, old] of this.#members) {
      if (next.get(key) !== old) removed.push(old);
    }
    this.#members = next;
    this.#ready = ready;
    this.#terminating = terminating;
    return removed;
  }

  /** Next usable member by round robin, acquired (call `release()` when the request ends); null: none usable. */
  pick(): BalancerMember | null {
    let list = this.#ready;
    if (list.length === 0) {
      list = this.#terminating;
      if (list.length === 0) return null;
    }
    const n = Atomics.add(this.#board.words, this.#cursorIndex, 1) >>> 0;
    const member = list[n % list.length];
    if (member === undefined) return null;
    member.acquire();
    return member;
  }

  get members(): ReadonlyMap<string, BalancerMember> {
    return this.#members;
  }

  /** Removed from the route table (or shutdown): drops every member and returns them; the owner retires them. */
  clear(): BalancerMember[] {
    const removed = [...this.#members.values()];
    this.#members = new Map();
    this.#ready = EMPTY;
    this.#terminating = EMPTY;
    return removed;
  }
}
