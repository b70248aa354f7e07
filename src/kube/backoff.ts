// Capped exponential backoff with jitter, for restarting informers.

export interface BackoffOptions {
  /** Delay of the first retry before jitter (ms). */
  readonly baseMs: number;
  /** Largest delay before jitter (ms). */
  readonly capMs: number;
  /** Fraction of the delay taken off at random: 0.5 gives a delay in [d/2, d]. */
  readonly jitter: number;
}

export const defaultBackoff: BackoffOptions = Object.freeze({ baseMs: 200, capMs: 3000, jitter: 0.5 });

/** Delay before retry number `attempt` (0-based), in ms. `random` returns [0, 1). */
export function backoffDelay(options: BackoffOptions, attempt: number, random: () => number): number {
  const raw = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(raw * (1 - options.jitter * random()));
}

/** Backoff step of an attempt: attempts past the cap share the last step (logged once). */
export function backoffStep(options: BackoffOptions, attempt: number): number {
  const last = Math.max(0, Math.ceil(Math.log2(options.capMs / options.baseMs)));
  return Math.min(attempt, last);
}
