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
export const MEMBER_LBSTATUS = 2; // reserved: lbmethod state (httpd `lbstatus`)
export const MEMBER_ERROR_UNTIL = 3; // reserved: error state until (seconds since start), 0 = ok
export const MEMBER_STATUS = 4; // reserved: status flags (health, drain, standby)
export const MEMBER_FIELDS = 8;

/** Balancer fields (Int32 each). */
export const BALANCER_CURSOR = 0; // round-robin cursor, uint32 wrapping
export const BALANCER_FIELDS = 4;

export interface ScoreboardCapacity {
  readonly members: number;
  readonly balancers: number;
}

/**
 * 262,144 member slots (32 bytes each, 8 MiB) and 65,536 balancer slots (16 bytes each, 1 MiB):
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
