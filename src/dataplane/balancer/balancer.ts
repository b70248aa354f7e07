// Runtime balancers: reconciled by stable id across snapshots (never recreated while they exist),
// members reconciled by key. Selection is httpd's ap_proxy_balancer_get_best_worker with the
// lbmethods of mod_lbmethod_*: walk lbsets from 0 up; in a set, the lbmethod scores usable normal
// members, usable spares (R) replace unusable normal members one for one, standbys (H) are scored
// only when nothing else in the set was usable; an empty set moves on to the next. Member state
// (flags, lbstatus, busy, error window, traffic) lives in the shared scoreboard, so every worker
// sees one state, as httpd's children do; selections that read-modify-write lbstatus hold the
// balancer's spin lock (httpd holds the balancer mutex around find_best_worker).
//
// Hot path: no allocation. Outcome details are left in fields read right after `pick` returns
// (a worker is single-threaded, so nothing interleaves). Reads of shared words in the selection
// loops are plain (aligned 32-bit loads cannot tear; a stale flag costs one request at worst), and
// lbstatus is written plainly under the balancer lock, whose compareExchange/store order it:
// Atomics.load/add cost about 20 ns each in V8, a plain read about 1 ns. Counters that several
// workers change concurrently without the lock (busy, elected, traffic, flags) stay atomic.

import type { BalancerConfig, BalancerMembers, LbMethod, Member } from "../../model/index.js";
import { Upstream, type UpstreamOptions } from "../upstream.js";
import { transportFor, type UpstreamTransport } from "../upstream-transport.js";
import {
  BALANCER_LBMETHOD,
  BALANCER_LOCK,
  BALANCER_SPLIT_CANARY,
  BALANCER_SPLIT_PRIMARY,
  FLAG_DRAIN,
  FLAG_ERROR,
  LBMETHOD_CODES,
  FLAG_IGNORE_ERRORS,
  FLAG_SPARE,
  FLAG_STANDBY,
  MEMBER_BUSY,
  MEMBER_ELECTED,
  MEMBER_ERRORS,
  MEMBER_ERROR_UNTIL,
  MEMBER_FLAGS,
  MEMBER_FROM_HI,
  MEMBER_FROM_LO,
  MEMBER_LBFACTOR,
  MEMBER_LBSET,
  MEMBER_LBSTATUS,
  MEMBER_TO_HI,
  MEMBER_TO_LO,
  NOT_USABLE,
  type Scoreboard,
} from "./scoreboard.js";

/** Byte counters are two words: HI * 2^30 + LO (LO stays below 2^31 with any single add below 2^30). */
const CARRY = 0x4000_0000;

/** The error window's clock: Date.now() truncated to int32; windows compare with wrapping arithmetic. */
function clock(): number {
  return Date.now() | 0;
}

export class BalancerMember {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly upstream: Upstream;
  route: string;
  zone: string | null;
  ready: boolean;
  /** H: from the hot-standby Service (balancer-manager may also set FLAG_STANDBY). */
  standby: boolean;
  /** lbset from the snapshot (MEMBER_LBSET overrides it when set). */
  lbset: number;
  /** Set-Cookie value that binds a session to this member, when its balancer is sticky; else null. */
  setCookie: string | null = null;
  /** Worker-local: the stamp (>= 0) of the last request that tried this member (failover skips it); -1 = none. */
  mark = -1;
  /** Scoreboard slot and the word index of its field 0 (cached for the hot path). */
  slot: number;
  base: number;
  #retired = false;
  readonly words: Int32Array;
  readonly #board: Scoreboard;
  /** This worker's share of every slot's busy count (see BusyLedger); null when standalone. */
  readonly #ledger: Int32Array | null;

  constructor(member: Member, slot: number, board: Scoreboard, options: UpstreamOptions, ledger: Int32Array | null = null) {
    this.key = member.key;
    this.address = member.address;
    this.port = member.port;
    this.upstream = new Upstream(member.address, member.port, options);
    this.route = member.route;
    this.zone = member.zone;
    this.ready = member.ready;
    this.standby = member.standby;
    this.lbset = member.lbset;
    this.#board = board;
    this.words = board.words;
    this.#ledger = ledger;
    this.slot = slot;
    this.base = board.memberBase(slot);
  }

  update(member: Member, slot: number): void {
    this.route = member.route;
    this.zone = member.zone;
    this.ready = member.ready;
    this.standby = member.standby;
    this.lbset = member.lbset;
    if (slot !== this.slot) {
      this.slot = slot;
      this.base = this.#board.memberBase(slot);
    }
  }

  /** Counts an election and one more in-flight request. */
  acquire(): void {
    Atomics.add(this.words, this.base + MEMBER_ELECTED, 1);
    Atomics.add(this.words, this.base + MEMBER_BUSY, 1);
    if (this.#ledger !== null) this.#ledger[this.slot] = ((this.#ledger[this.slot] as number) + 1) | 0;
  }

  /** One in-flight request ended. A retired member no longer touches its (quarantined) slot. */
  release(): void {
    if (this.#retired) return;
    Atomics.sub(this.words, this.base + MEMBER_BUSY, 1);
    if (this.#ledger !== null) this.#ledger[this.slot] = ((this.#ledger[this.slot] as number) - 1) | 0;
  }

  /** Adds the bytes of one exchange: sent to the member (request) and read from it (response). */
  addTraffic(sent: number, read: number): void {
    if (this.#retired) return;
    if (sent > 0) addBytes(this.words, this.base + MEMBER_TO_LO, this.base + MEMBER_TO_HI, sent);
    if (read > 0) addBytes(this.words, this.base + MEMBER_FROM_LO, this.base + MEMBER_FROM_HI, read);
  }

  /**
   * Puts the member in error state (E) for `retryMs` (httpd: connect failure, failontimeout,
   * failonstatus); a member with I (ignore errors) is never put in error. Returns whether it was.
   */
  markError(retryMs: number): boolean {
    if (this.#retired) return false;
    const words = this.words;
    if ((Atomics.load(words, this.base + MEMBER_FLAGS) & FLAG_IGNORE_ERRORS) !== 0) return false;
    Atomics.store(words, this.base + MEMBER_ERROR_UNTIL, (clock() + retryMs) | 0);
    Atomics.or(words, this.base + MEMBER_FLAGS, FLAG_ERROR);
    Atomics.add(words, this.base + MEMBER_ERRORS, 1);
    return true;
  }

  /** A request on this member succeeded: it leaves error state (ends a trial). */
  clearError(): void {
    if (this.#retired) return;
    if (((this.words[this.base + MEMBER_FLAGS] as number) & FLAG_ERROR) !== 0) Atomics.and(this.words, this.base + MEMBER_FLAGS, ~FLAG_ERROR);
  }

  get flags(): number {
    return Atomics.load(this.words, this.base + MEMBER_FLAGS);
  }

  get busy(): number {
    return Atomics.load(this.words, this.base + MEMBER_BUSY);
  }

  get elected(): number {
    return Atomics.load(this.words, this.base + MEMBER_ELECTED) >>> 0;
  }

  get lbstatus(): number {
    return Atomics.load(this.words, this.base + MEMBER_LBSTATUS);
  }

  /** Bytes sent to the member (httpd `transferred`). */
  get sent(): number {
    return readBytes(this.words, this.base + MEMBER_TO_LO, this.base + MEMBER_TO_HI);
  }

  /** Bytes read from the member (httpd `read`). */
  get read(): number {
    return readBytes(this.words, this.base + MEMBER_FROM_LO, this.base + MEMBER_FROM_HI);
  }

  get retired(): boolean {
    return this.#retired;
  }

  /** Removed from its balancer: stop touching the slot; close pools after in-flight requests. */
  retire(): Promise<void> {
    this.#retired = true;
    // Its in-flight requests no longer count down; the slot is zeroed before it is reused.
    // (The shared overflow slot 0 is never reset: its counts stay until their owner settles them.)
    if (this.#ledger !== null && this.slot !== 0) this.#ledger[this.slot] = 0;
    return this.upstream.close();
  }
}

function addBytes(words: Int32Array, lo: number, hi: number, n: number): void {
  let rest = n;
  while (rest >= CARRY) {
    Atomics.add(words, hi, 1);
    rest -= CARRY;
  }
  const before = Atomics.add(words, lo, rest);
  // The one add that crosses 2^30 moves the carry: LO stays below 2^31 whatever else is added meanwhile.
  if (before < CARRY && before + rest >= CARRY) {
    Atomics.sub(words, lo, CARRY);
    Atomics.add(words, hi, 1);
  }
}

function readBytes(words: Int32Array, lo: number, hi: number): number {
  return Atomics.load(words, hi) * CARRY + Atomics.load(words, lo);
}

/** What the last `pick` did (read right after it returns). */
export const PickOutcome = {
  /** Chosen by the lbmethod (or a trial of a member whose retry window ended). */
  Balanced: 0,
  /** The request's sticky route named a usable member: it was used. */
  Sticky: 1,
  /** No usable member (503). */
  None: 2,
  /** Sticky route's member unusable and the balancer has nofailover (503). */
  StickyRefused: 3,
} as const;
export type PickOutcome = (typeof PickOutcome)[keyof typeof PickOutcome];

const EMPTY: ReadonlyArray<BalancerMember> = Object.freeze([]);
/** Spins before a lock is taken over (its holder died mid-selection: a killed worker). */
const LOCK_SPINS = 100_000;

export class Balancer {
  readonly id: string;
  #config: BalancerConfig;
  #method: LbMethod;
  readonly #board: Scoreboard;
  readonly #words: Int32Array;
  readonly #options: UpstreamOptions;
  readonly #ledger: Int32Array | null;
  #lockIndex: number;
  #splitIndex: number;
  #members = new Map<string, BalancerMember>();
  /** Members in snapshot order (sorted by key): httpd's config order, which breaks ties. */
  #list: ReadonlyArray<BalancerMember> = EMPTY;
  /** Sticky route -> member. */
  #byRoute = new Map<string, BalancerMember>();
  /** Some member is ready: terminating (ready: false) members then act as drained (N). */
  #hasReady = false;
  /** How members are spoken to (backend-protocol, TLS): the same object while its settings are unchanged. */
  transport: UpstreamTransport;
  /** Outcome of the last pick. */
  outcome: PickOutcome = PickOutcome.None;
  /** The last pick was a trial of a member whose retry window had ended. */
  trial = false;

  constructor(config: BalancerConfig, board: Scoreboard, options: UpstreamOptions, ledger: Int32Array | null = null) {
    this.id = config.id;
    this.#ledger = ledger;
    this.#config = config;
    this.#method = config.lbmethod;
    this.transport = transportFor(config, null);
    this.#board = board;
    this.#words = board.words;
    this.#options = options;
    this.#lockIndex = board.balancerBase(0) + BALANCER_LOCK;
    this.#splitIndex = board.balancerBase(0);
  }

  get config(): BalancerConfig {
    return this.#config;
  }

  set config(config: BalancerConfig) {
    const stickyChanged = config.sticky?.cookie !== this.#config.sticky?.cookie || (config.protocol === "ajp") !== (this.#config.protocol === "ajp");
    this.#config = config;
    this.#method = config.lbmethod;
    this.transport = transportFor(config, this.transport);
    if (stickyChanged) for (const m of this.#list) m.setCookie = this.#cookieFor(m);
  }

  #cookieFor(m: BalancerMember): string | null {
    const sticky = this.#config.sticky;
    // AJP members: Tomcat issues the session cookie with its jvmRoute (JSESSIONID=id.route); a
    // cookie of ours with the same name would replace the session id (httpd sets none either).
    return sticky === null || this.#config.protocol === "ajp" ? null : `${sticky.cookie}=.${m.route}; Path=/; HttpOnly`;
  }

  /** Reconciles members by key. Returns the removed members; the owner retires them. */
  setMembers(entry: BalancerMembers | null, balancerSlot: number, memberSlots: ReadonlyArray<number>): BalancerMember[] {
    this.#lockIndex = this.#board.balancerBase(balancerSlot) + BALANCER_LOCK;
    this.#splitIndex = this.#board.balancerBase(balancerSlot);
    const next = new Map<string, BalancerMember>();
    const list: BalancerMember[] = [];
    const byRoute = new Map<string, BalancerMember>();
    let hasReady = false;
    const members = entry === null ? [] : entry.members;
    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      if (m === undefined) continue;
      const slot = memberSlots[i] ?? 0;
      let runtime = this.#members.get(m.key);
      if (runtime === undefined || runtime.address !== m.address || runtime.port !== m.port) {
        runtime = new BalancerMember(m, slot, this.#board, this.#options, this.#ledger);
      } else {
        runtime.update(m, slot);
      }
      runtime.setCookie = this.#cookieFor(runtime);
      next.set(m.key, runtime);
      list.push(runtime);
      if (m.route !== "" && !byRoute.has(m.route)) byRoute.set(m.route, runtime);
      if (m.ready && !m.standby) hasReady = true;
    }
    const removed: BalancerMember[] = [];
    for (const [key, old] of this.#members) {
      if (next.get(key) !== old) removed.push(old);
    }
    this.#members = next;
    this.#list = list;
    this.#byRoute = byRoute;
    this.#hasReady = hasReady;
    return removed;
  }

  /**
   * Elects a member for a request and acquires it (call `release()` when the request ends), or
   * returns null (see `outcome`). `route`: the request's sticky route (null: none). Members whose
   * `mark` equals `stamp` were already tried by this request and are skipped (0: no failover yet).
   */
  pick(route: string | null, stamp: number): BalancerMember | null {
    this.trial = false;
    if (route !== null && this.#config.sticky !== null) {
      const m = this.#byRoute.get(route);
      if (m !== undefined) {
        if (m.mark !== stamp && this.#usableForSticky(m)) {
          m.acquire();
          this.outcome = PickOutcome.Sticky;
          return m;
        }
        if (this.#config.sticky.noFailover) {
          this.outcome = PickOutcome.StickyRefused;
          return null;
        }
      }
      // A route no member has (its pod is gone: Kubernetes never brings a name back) is no session.
    }
    const list = this.#list;
    if (list.length === 0) {
      this.outcome = PickOutcome.None;
      return null;
    }
    // balancer-manager's lbmethod override: one plain read of the balancer's word (0 = the snapshot's).
    const override = this.#words[this.#splitIndex + BALANCER_LBMETHOD] as number;
    this.#method = override === 0 ? this.#config.lbmethod : (LBMETHOD_CODES[override - 1] ?? this.#config.lbmethod);
    const locked = this.#method === "byrequests" || this.#method === "bybusyness";
    if (locked) this.#lock();
    let best = this.#method === "random2" ? this.#random2Fast(stamp) : null;
    if (best === null) best = this.#best(stamp);
    if (best === null && this.#forceRecovery()) best = this.#best(stamp);
    if (locked) Atomics.store(this.#words, this.#lockIndex, 0);
    if (best === null) {
      this.outcome = PickOutcome.None;
      return null;
    }
    best.acquire();
    this.outcome = PickOutcome.Balanced;
    return best;
  }

  /** Sticky requests may use drained (N, terminating) members; not D, S, C, or E inside its window. */
  #usableForSticky(m: BalancerMember): boolean {
    const flags = this.#words[m.base + MEMBER_FLAGS] as number;
    if ((flags & NOT_USABLE) === 0) return true;
    if ((flags & NOT_USABLE) === FLAG_ERROR && this.#claimTrial(m)) {
      this.trial = true;
      return true;
    }
    return false;
  }

  /**
   * An errored member whose retry window has ended gets one trial request: the first worker to
   * move the window forward claims it; the member stays E (skipped by others) until the trial
   * succeeds (clearError) or fails (markError).
   */
  #claimTrial(m: BalancerMember): boolean {
    const words = this.#words;
    const index = m.base + MEMBER_ERROR_UNTIL;
    const until = Atomics.load(words, index);
    const now = clock();
    if (((now - until) | 0) < 0) return false;
    return Atomics.compareExchange(words, index, until, (now + this.#config.failover.retryMs) | 0) === until;
  }

  #lock(): void {
    const words = this.#words;
    const index = this.#lockIndex;
    let spins = 0;
    while (Atomics.compareExchange(words, index, 0, 1) !== 0) {
      if (++spins >= LOCK_SPINS) {
        Atomics.store(words, index, 1); // the holder died mid-selection: take the lock over
        return;
      }
    }
  }

  /** The lbset a member is in: balancer-manager's override, else the snapshot's. */
  #lbsetOf(m: BalancerMember): number {
    const override = this.#words[m.base + MEMBER_LBSET] as number;
    return override > 0 ? override - 1 : m.lbset;
  }

  #isDraining(m: BalancerMember, flags: number): boolean {
    return (flags & FLAG_DRAIN) !== 0 || (!m.ready && this.#hasReady);
  }

  /**
   * httpd's get_best_worker. A member tried by this request, or draining, counts as unusable.
   * Returns null when no lbset has a usable member.
   */
  #best(stamp: number): BalancerMember | null {
    const list = this.#list;
    const words = this.#words;
    let maxSet = 0;
    let best: BalancerMember | null = null;
    for (let set = 0; best === null && set <= maxSet; set++) {
      this.#resetScore();
      this.#trialMember = null;
      let unusable = 0;
      let spares = 0;
      let standbys = 0;
      const byRequests = this.#method === "byrequests";
      const drainUnready = this.#hasReady;
      let total = 0;
      let bestStatus = 0;
      for (let i = 0; i < list.length; i++) {
        const m = list[i] as BalancerMember;
        const base = m.base;
        const override = words[base + MEMBER_LBSET] as number;
        const mset = override > 0 ? override - 1 : m.lbset;
        if (mset > maxSet) maxSet = mset;
        if (mset !== set) continue;
        const flags = words[base + MEMBER_FLAGS] as number;
        if (byRequests && flags === 0 && !m.standby && m.mark !== stamp && (m.ready || !drainUnready)) {
          // The common case, inlined: a plain usable member scored by byrequests.
          const factor = (words[base + MEMBER_LBFACTOR] as number) || 1;
          const status = ((words[base + MEMBER_LBSTATUS] as number) + factor) | 0;
          words[base + MEMBER_LBSTATUS] = status;
          total += factor;
          if (best === null || status > bestStatus) {
            best = m;
            bestStatus = status;
          }
          continue;
        }
        if ((flags & FLAG_SPARE) !== 0) {
          spares++;
          continue;
        }
        if (m.standby || (flags & FLAG_STANDBY) !== 0) {
          standbys++;
          continue;
        }
        if (this.#usable(m, flags, stamp)) {
          if (byRequests) this.#total = total;
          best = this.#score(m, best);
          if (byRequests) {
            total = this.#total;
            if (best === m) bestStatus = words[base + MEMBER_LBSTATUS] as number;
          }
        } else unusable++;
      }
      if (byRequests) this.#total = total;
      // Usable spares replace unusable normal members one for one, in member order.
      if (spares > 0 && unusable > 0) {
        for (let i = 0; i < list.length && unusable > 0; i++) {
          const m = list[i] as BalancerMember;
          if (this.#lbsetOf(m) !== set) continue;
          const flags = words[m.base + MEMBER_FLAGS] as number;
          if ((flags & FLAG_SPARE) === 0 || !this.#usable(m, flags, stamp)) continue;
          best = this.#score(m, best);
          unusable--;
        }
      }
      // Standbys only when nothing else in the set was usable.
      if (best === null && standbys > 0) {
        for (let i = 0; i < list.length; i++) {
          const m = list[i] as BalancerMember;
          if (this.#lbsetOf(m) !== set) continue;
          const flags = words[m.base + MEMBER_FLAGS] as number;
          if ((flags & FLAG_SPARE) !== 0 || !(m.standby || (flags & FLAG_STANDBY) !== 0)) continue;
          if (this.#usable(m, flags, stamp)) best = this.#score(m, best);
        }
      }
      if (best !== null) best = this.#settle(best);
    }
    return best;
  }

  /** The member whose trial this selection claimed (at most one per set), else null. */
  #trialMember: BalancerMember | null = null;

  /**
   * Usable for a balanced (non-sticky) request: not tried by it, not draining, no D/S/C, and not
   * E — unless its retry window ended and this selection claims its one trial request.
   */
  #usable(m: BalancerMember, flags: number, stamp: number): boolean {
    if (m.mark === stamp || this.#isDraining(m, flags)) return false;
    if ((flags & NOT_USABLE) === 0) return true;
    if ((flags & NOT_USABLE) !== FLAG_ERROR || this.#trialMember !== null || !this.#claimTrial(m)) return false;
    this.#trialMember = m;
    return true;
  }

  // Scoring state of one selection (httpd's baton): byrequests/bybusyness total factor, bytraffic
  // minimum, random2 reservoir.
  #total = 0;
  #minTraffic = 0;
  #seen = 0;
  #other: BalancerMember | null = null;

  #resetScore(): void {
    this.#total = 0;
    this.#minTraffic = 0;
    this.#seen = 0;
    this.#other = null;
  }

  #factor(m: BalancerMember): number {
    return (this.#words[m.base + MEMBER_LBFACTOR] as number) || 1;
  }

  /** httpd's is_best callback of the lbmethod: scores `m` against the best so far. */
  #score(m: BalancerMember, best: BalancerMember | null): BalancerMember {
    const words = this.#words;
    switch (this.#method) {
      case "byrequests": {
        // Under the balancer lock: plain read-modify-write.
        const factor = this.#factor(m);
        const index = m.base + MEMBER_LBSTATUS;
        const status = ((words[index] as number) + factor) | 0;
        words[index] = status;
        this.#total += factor;
        return best === null || status > (words[best.base + MEMBER_LBSTATUS] as number) ? m : best;
      }
      case "bybusyness": {
        const factor = this.#factor(m);
        const index = m.base + MEMBER_LBSTATUS;
        const status = ((words[index] as number) + factor) | 0;
        words[index] = status;
        this.#total += factor;
        if (best === null) return m;
        const busy = words[m.base + MEMBER_BUSY] as number;
        const bestBusy = words[best.base + MEMBER_BUSY] as number;
        return busy < bestBusy || (busy === bestBusy && status > (words[best.base + MEMBER_LBSTATUS] as number)) ? m : best;
      }
      case "bytraffic": {
        const factor = this.#factor(m);
        const b = m.base;
        const traffic = ((words[b + MEMBER_TO_HI] as number) * CARRY + (words[b + MEMBER_TO_LO] as number) + (words[b + MEMBER_FROM_HI] as number) * CARRY + (words[b + MEMBER_FROM_LO] as number)) / factor;
        if (best === null || traffic < this.#minTraffic) {
          this.#minTraffic = traffic;
          return m;
        }
        return best;
      }
      case "random2": {
        // Reservoir of two uniformly chosen candidates; the less busy of the two wins (settle).
        this.#seen++;
        if (best === null) return m;
        if (this.#seen === 2) {
          this.#other = m;
          return best;
        }
        const r = Math.random() * this.#seen;
        if (r < 1) return m;
        if (r < 2) this.#other = m;
        return best;
      }
    }
  }

  /**
   * After a set yielded `best`: a claimed trial overrides the lbmethod (the recovering member gets
   * its one request); byrequests/bybusyness take the total from the winner (the sum of lbstatus
   * stays constant); random2 keeps the less busy of its two candidates.
   */
  #settle(best: BalancerMember): BalancerMember {
    let chosen = best;
    if (this.#trialMember !== null) {
      chosen = this.#trialMember;
      this.trial = true;
    } else if (this.#method === "random2" && this.#other !== null) {
      chosen = this.#lessBusy(best, this.#other);
    }
    if (this.#method === "byrequests" || this.#method === "bybusyness") {
      const index = chosen.base + MEMBER_LBSTATUS;
      this.#words[index] = ((this.#words[index] as number) - this.#total) | 0;
    }
    return chosen;
  }

  /**
   * random2 fast path: two draws over all members; when both are usable normal members of lbset 0
   * (the common case) the less busy one wins. Rejection sampling keeps the choice uniform over
   * that set. Otherwise null: the full scan decides (with its reservoir).
   */
  #random2Fast(stamp: number): BalancerMember | null {
    const list = this.#list;
    const n = list.length;
    if (n === 1) return this.#plainUsable(list[0] as BalancerMember, stamp) ? (list[0] as BalancerMember) : null;
    const i = (Math.random() * n) | 0;
    let j = (Math.random() * (n - 1)) | 0;
    if (j >= i) j++;
    const a = list[i] as BalancerMember;
    const b = list[j] as BalancerMember;
    if (!this.#plainUsable(a, stamp) || !this.#plainUsable(b, stamp)) return null;
    return this.#lessBusy(a, b);
  }

  #lessBusy(a: BalancerMember, b: BalancerMember): BalancerMember {
    return (this.#words[b.base + MEMBER_BUSY] as number) < (this.#words[a.base + MEMBER_BUSY] as number) ? b : a;
  }

  /** A normal, usable member of lbset 0, not tried by this request. */
  #plainUsable(m: BalancerMember, stamp: number): boolean {
    if (m.mark === stamp || m.standby || this.#lbsetOf(m) !== 0) return false;
    const flags = this.#words[m.base + MEMBER_FLAGS] as number;
    return (flags & (NOT_USABLE | FLAG_SPARE | FLAG_STANDBY)) === 0 && !this.#isDraining(m, flags);
  }

  /**
   * httpd's forcerecovery: when every member is in error state, they all leave it at once (a
   * balancer whose members all failed briefly does not stay down for the whole retry window).
   */
  #forceRecovery(): boolean {
    const list = this.#list;
    const words = this.#words;
    for (let i = 0; i < list.length; i++) {
      if (((words[(list[i] as BalancerMember).base + MEMBER_FLAGS] as number) & FLAG_ERROR) === 0) return false;
    }
    for (let i = 0; i < list.length; i++) Atomics.and(words, (list[i] as BalancerMember).base + MEMBER_FLAGS, ~FLAG_ERROR);
    return true;
  }

  /**
   * Canary split on this (the canary's) balancer: byrequests arithmetic between the primary side
   * (factor 100 - weight) and the canary side (factor weight), so N% is met exactly and smoothly,
   * globally across workers. Returns true for the canary side.
   */
  splitToCanary(weight: number): boolean {
    if (weight <= 0) return false;
    if (weight >= 100) return true;
    const words = this.#words;
    const p = this.#splitIndex + BALANCER_SPLIT_PRIMARY;
    const c = this.#splitIndex + BALANCER_SPLIT_CANARY;
    const saved = this.#lockIndex;
    this.#lock();
    const primary = ((words[p] as number) + 100 - weight) | 0;
    const canary = ((words[c] as number) + weight) | 0;
    const toCanary = canary > primary;
    words[p] = toCanary ? primary : primary - 100;
    words[c] = toCanary ? canary - 100 : canary;
    Atomics.store(words, saved, 0);
    return toCanary;
  }

  /** The member a sticky route names, or undefined. */
  memberForRoute(route: string): BalancerMember | undefined {
    return this.#byRoute.get(route);
  }

  get members(): ReadonlyMap<string, BalancerMember> {
    return this.#members;
  }

  /** Members in selection order. */
  get list(): ReadonlyArray<BalancerMember> {
    return this.#list;
  }

  /** httpd's maxattempts default: every member (standbys included) but the first one tried. */
  get defaultMaxAttempts(): number {
    return this.#list.length > 0 ? this.#list.length - 1 : 0;
  }

  /** Removed from the route table (or shutdown): drops every member and returns them; the owner retires them. */
  clear(): BalancerMember[] {
    const removed = [...this.#members.values()];
    this.#members = new Map();
    this.#list = EMPTY;
    this.#byRoute = new Map();
    this.#hasReady = false;
    return removed;
  }
}
