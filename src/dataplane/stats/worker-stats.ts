// Per-worker totals for server-status (mod_status), in a small SharedArrayBuffer the primary
// creates for each worker slot (like the BusyLedger) and reads without messaging. Only the worker
// writes it (plain Float64 stores, one writer); the primary reads, and after the worker exits
// zeroes what died with it (busy requests, open connections). Totals survive a respawn, as httpd's
// scoreboard totals survive a child's restart.

export const STAT_ACCESSES = 0; // requests finished (httpd "Total Accesses")
export const STAT_BYTES_OUT = 1; // response body bytes sent to clients (httpd "Total kBytes" * 1024)
export const STAT_BYTES_IN = 2; // request body bytes received (Content-Length)
export const STAT_DURATION_MS = 3; // sum of request durations, ms (httpd "Total Duration")
export const STAT_BUSY = 4; // requests in flight
export const STAT_CONNECTIONS = 5; // open client connections
export const STAT_GENERATION = 6; // route tables, endpoint tables and deltas applied
export const STAT_LAST_SWAP_AT = 7; // Date.now() of the last apply; 0 = none
export const STAT_STARTED_AT = 8; // Date.now() when the worker (last) started
export const STAT_FIELDS = 16;

/** A worker's totals as the primary reads them. */
export interface WorkerStatsValues {
  readonly accesses: number;
  readonly bytesOut: number;
  readonly bytesIn: number;
  readonly durationMs: number;
  readonly busy: number;
  readonly connections: number;
  readonly generation: number;
  readonly lastSwapAt: number;
  readonly startedAt: number;
}

export class WorkerStats {
  readonly buffer: SharedArrayBuffer;
  /** The fields; the request path writes them directly. */
  readonly cells: Float64Array;

  /** Maps `buffer` (worker side), or creates a new region (primary side, standalone). */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(STAT_FIELDS * 8)) {
    this.buffer = buffer;
    this.cells = new Float64Array(buffer);
  }

  /** The worker (re)started: its connections and in-flight requests start from zero. */
  started(now: number): void {
    const c = this.cells;
    c[STAT_BUSY] = 0;
    c[STAT_CONNECTIONS] = 0;
    c[STAT_STARTED_AT] = now;
  }

  /** Primary, after the worker exited: what was in flight died with it. */
  exited(): void {
    this.cells[STAT_BUSY] = 0;
    this.cells[STAT_CONNECTIONS] = 0;
  }

  swapped(now: number): void {
    const c = this.cells;
    c[STAT_GENERATION] = (c[STAT_GENERATION] as number) + 1;
    c[STAT_LAST_SWAP_AT] = now;
  }

  read(): WorkerStatsValues {
    const c = this.cells;
    return {
      accesses: c[STAT_ACCESSES] as number,
      bytesOut: c[STAT_BYTES_OUT] as number,
      bytesIn: c[STAT_BYTES_IN] as number,
      durationMs: c[STAT_DURATION_MS] as number,
      busy: c[STAT_BUSY] as number,
      connections: c[STAT_CONNECTIONS] as number,
      generation: c[STAT_GENERATION] as number,
      lastSwapAt: c[STAT_LAST_SWAP_AT] as number,
      startedAt: c[STAT_STARTED_AT] as number,
    };
  }
}
