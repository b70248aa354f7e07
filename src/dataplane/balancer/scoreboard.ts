// The shared scoreboard: httpd keeps balancer and worker (member) state in shared memory so every
// child process sees a busy or failed member; we keep it in one SharedArrayBuffer that the main
// thread creates and every worker_thread maps. All access goes through Atomics.
//
// Layout (Int32 words): [header (4)] [member slots: MEMBER_FIELDS each] [balancer slots: BALANCER_FIELDS each].
// Slot 0 of each region is the overflow slot, shared by identities allocated after the region is
// full (counters there are approximate; a warning is logged by the allocator).

const MAGIC = 0x70706931; // "ppi1"
const HEADER_WORDS = 4;

/** Member fields (Int32 each). */
export const MEMBER_BUSY = 0; // in-flight requests (httpd `busy`)
export const MEMBER_ELECTED = 1; // times elected, uint32 wrapping (httpd `elected`)
export const MEMBER_LBSTATUS = 2; // byrequests/bybusyness urgency (httpd `lbstatus`), under the balancer lock
export const MEMBER_ERROR_UNTIL = 3; // while FLAG_ERROR: end of the retry window, (Date.now() | 0) clock, compared with wrapping arithmetic
export const MEMBER_FLAGS = 4; // FLAG_* bits (httpd worker status)
export const MEMBER_TO_LO = 5; // bytes sent to the member (httpd `transferred`): TO_HI * 2^30 + TO_LO
export const MEMBER_TO_HI = 6;
export const MEMBER_FROM_LO = 7; // bytes read from the member (httpd `read`): FROM_HI * 2^30 + FROM_LO
export const MEMBER_FROM_HI = 8;
export const MEMBER_LBFACTOR = 9; // loadfactor override 1-100 (balancer-manager); 0 = the default, 1
export const MEMBER_LBSET = 10; // lbset override + 1 (balancer-manager); 0 = the snapshot's lbset
export const MEMBER_ERRORS = 11; // times put in error state, uint32 wrapping
export const MEMBER_HC_STREAK = 12; // primary only: > 0 consecutive health-check passes, < 0 consecutive failures
export const MEMBER_FIELDS = 16;

/** Member state flags (MEMBER_FLAGS bits), httpd's letters. */
export const FLAG_DISABLED = 1 << 0; // D: takes no requests, sticky ones included
export const FLAG_STOPPED = 1 << 1; // S: administratively stopped, never retried
export const FLAG_IGNORE_ERRORS = 1 << 2; // I: errors never take it out
export const FLAG_SPARE = 1 << 3; // R: hot spare, replaces an unusable member of its lbset one for one
export const FLAG_STANDBY = 1 << 4; // H (set by balancer-manager; hot-standby Service members are H by the snapshot)
export const FLAG_ERROR = 1 << 5; // E: in error until MEMBER_ERROR_UNTIL, then one trial request
export const FLAG_DRAIN = 1 << 6; // N: sticky requests only
export const FLAG_HC_FAIL = 1 << 7; // C: failed its active health check
/** Flags that make a member unusable for every request, sticky ones included (httpd PROXY_WORKER_NOT_USABLE_BITMAP). */
export const NOT_USABLE = FLAG_DISABLED | FLAG_STOPPED | FLAG_ERROR | FLAG_HC_FAIL;

/** Balancer fields (Int32 each). */
export const BALANCER_CURSOR = 0; // round-robin cursor, uint32 wrapping (random2's tie-breaking)
export const BALANCER_LOCK = 1; // spin lock around selections that read-modify-write lbstatus: 0 free, else owner
export const BALANCER_SPLIT_PRIMARY = 2; // canary split lbstatus of the primary side (on the canary balancer's slot)
export const BALANCER_SPLIT_CANARY = 3; // canary split lbstatus of the canary side
export const BALANCER_LBMETHOD = 4; // lbmethod override (balancer-manager): 0 = the snapshot's, else 1 + index in LBMETHOD_CODES
export const BALANCER_FIELDS = 8;

/** BALANCER_LBMETHOD values: code = 1 + index. */
export const LBMETHOD_CODES = ["byrequests", "bytraffic", "bybusyness", "random2"] as const;

export interface ScoreboardCapacity {
  readonly members: number;
  readonly balancers: number;
}

/**
 * 262,144 member slots (64 bytes each, 16 MiB) and 65,536 balancer slots (32 bytes each, 2 MiB):
 * room for the 50,000-endpoint / 5,000-Service scale target several times over, counting slots
 * quarantined after removals. Beyond it, members share an overflow slot (warned once).
 */
export const DEFAULT_CAPACITY: ScoreboardCapacity = { members: 262_144, balancers: 65_536 };

export class Scoreboard {
  readonly buffer: SharedArrayBuffer;
  /** The words; hot-path code indexes it directly with Atomics. */
  readonly words: Int32Array;
  readonly memberCapacity: number;
  readonly balancerCapacity: number;
  readonly #balancerBase: number;

  constructor(buffer: SharedArrayBuffer) {
    const words = new Int32Array(buffer);
    if (words.length < HEADER_WORDS || words[0] !== MAGIC) throw new TypeError("not a proxypass scoreboard buffer");
    this.buffer = buffer;
    this.words = words;
    this.memberCapacity = words[1] ?? 0;
    this.balancerCapacity = words[2] ?? 0;
    this.#balancerBase = HEADER_WORDS + this.memberCapacity * MEMBER_FIELDS;
  }

  static create(capacity: ScoreboardCapacity = DEFAULT_CAPACITY): Scoreboard {
    const words = HEADER_WORDS + capacity.members * MEMBER_FIELDS + capacity.balancers * BALANCER_FIELDS;
    const buffer = new SharedArrayBuffer(words * 4);
    const view = new Int32Array(buffer);
    view[0] = MAGIC;
    view[1] = capacity.members;
    view[2] = capacity.balancers;
    return new Scoreboard(buffer);
  }

  /** Word index of a member slot's field 0. */
  memberBase(slot: number): number {
    return HEADER_WORDS + slot * MEMBER_FIELDS;
  }

  balancerBase(slot: number): number {
    return this.#balancerBase + slot * BALANCER_FIELDS;
  }

  memberField(slot: number, field: number): number {
    return Atomics.load(this.words, this.memberBase(slot) + field);
  }

  balancerField(slot: number, field: number): number {
    return Atomics.load(this.words, this.balancerBase(slot) + field);
  }

  /** Zeroes a member slot before it is handed to a new identity (allocator only). */
  resetMember(slot: number): void {
    const base = this.memberBase(slot);
    for (let i = 0; i < MEMBER_FIELDS; i++) Atomics.store(this.words, base + i, 0);
  }

  resetBalancer(slot: number): void {
    const base = this.balancerBase(slot);
    for (let i = 0; i < BALANCER_FIELDS; i++) Atomics.store(this.words, base + i, 0);
  }
}

/**
 * A worker's own share of every member slot's busy count: one Int32 per member slot in a
 * SharedArrayBuffer the primary keeps per worker. Only that worker writes it (plain writes); when
 * the worker dies, the primary subtracts what it still held from the scoreboard, so a crash does
 * not leave members looking busy forever (bybusyness and random2 would shun them).
 */
export class BusyLedger {
  readonly buffer: SharedArrayBuffer;
  readonly counts: Int32Array;

  constructor(memberCapacity: number) {
    this.buffer = new SharedArrayBuffer(memberCapacity * 4);
    this.counts = new Int32Array(this.buffer);
  }

  /** After the worker exited: returns its in-flight counts to the scoreboard and zeroes the ledger. Returns how many requests were settled. */
  settle(board: Scoreboard): number {
    const counts = this.counts;
    let settled = 0;
    for (let slot = 0; slot < counts.length; slot++) {
      const n = counts[slot] as number;
      if (n === 0) continue;
      Atomics.sub(board.words, board.memberBase(slot) + MEMBER_BUSY, n);
      counts[slot] = 0;
      settled += n;
    }
    return settled;
  }
}
