// Steady-rate load over keep-alive connections (an undici Pool), bounded concurrency: a request is
// started every 1/rate seconds unless `maxInFlight` are already waiting (then it is counted as
// skipped, never queued). 10% are POSTs with a small body (not idempotent: never retried once sent).
// Every outcome is kept (start time, latency, status or error code) for the report.
import { Pool } from "undici";

export interface Outcome {
  /** ms since the load started. */
  readonly at: number;
  readonly ms: number;
  readonly method: string;
  /** HTTP status, or 0 for a transport error. */
  readonly status: number;
  /** Error code (undici/socket) for a transport error, or "BODY" when a 200's body is not a member's echo. */
  readonly error: string | null;
}

export interface LoadOptions {
  readonly origin: string;
  readonly host: string;
  readonly rate: number;
  readonly connections?: number;
  readonly maxInFlight?: number;
  readonly paths?: ReadonlyArray<string>;
  readonly postShare?: number;
}

const POST_BODY = Buffer.alloc(100, 0x61);

export class Load {
  readonly outcomes: Outcome[] = [];
  skipped = 0;
  readonly #pool: Pool;
  readonly #options: LoadOptions;
  #inFlight = 0;
  #timer: NodeJS.Timeout | null = null;
  #started = 0;
  #n = 0;
  #idle: Array<() => void> = [];

  constructor(options: LoadOptions) {
    this.#options = options;
    this.#pool = new Pool(options.origin, { connections: options.connections ?? 16, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
  }

  start(): void {
    this.#started = performance.now();
    const interval = 5;
    let credit = 0;
    let last = this.#started;
    this.#timer = setInterval(() => {
      const now = performance.now();
      credit += ((now - last) / 1000) * this.#options.rate;
      last = now;
      while (credit >= 1) {
        credit -= 1;
        if (this.#inFlight >= (this.#options.maxInFlight ?? 64)) this.skipped++;
        else void this.#one();
      }
    }, interval);
  }

  /** Stops starting requests; resolves when the ones in flight have ended. */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#inFlight > 0) await new Promise<void>((r) => this.#idle.push(r));
  }

  async close(): Promise<void> {
    await this.stop();
    await this.#pool.close();
  }

  get elapsedMs(): number {
    return performance.now() - this.#started;
  }

  async #one(): Promise<void> {
    this.#inFlight++;
    const n = this.#n++;
    const paths = this.#options.paths ?? ["/app/"];
    const path = `${paths[n % paths.length] ?? "/"}${n}`;
    const post = (n * 7919) % 100 < (this.#options.postShare ?? 10);
    const method = post ? "POST" : "GET";
    const t0 = performance.now();
    let status = 0;
    let error: string | null = null;
    try {
      const res = await this.#pool.request({ path, method, headers: post ? { host: this.#options.host, "content-type": "text/plain" } : { host: this.#options.host }, body: post ? POST_BODY : null });
      status = res.statusCode;
      const text = await res.body.text();
      if (status === 200 && !/^[a-z0-9-]+ (GET|POST) \S+ \d+\n$/.test(text)) error = "BODY";
    } catch (err) {
      error = (err as { code?: string }).code ?? (err as Error).name;
    }
    const t1 = performance.now();
    this.outcomes.push({ at: t0 - this.#started, ms: t1 - t0, method, status, error });
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#idle.length > 0) for (const r of this.#idle.splice(0)) r();
  }
}

export interface Summary {
  readonly sent: number;
  readonly ok: number;
  /** Non-2xx responses by status. */
  readonly statuses: Record<string, number>;
  /** Transport errors (no response, or a broken body) by code. */
  readonly errors: Record<string, number>;
  readonly skipped: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export function percentile(sorted: ReadonlyArray<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export function summarize(outcomes: ReadonlyArray<Outcome>, skipped = 0): Summary {
  const statuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let ok = 0;
  for (const o of outcomes) {
    if (o.error !== null) errors[o.error] = (errors[o.error] ?? 0) + 1;
    else if (o.status >= 200 && o.status < 300) ok++;
    else statuses[String(o.status)] = (statuses[String(o.status)] ?? 0) + 1;
  }
  const lat = outcomes.map((o) => o.ms).sort((a, b) => a - b);
  return { sent: outcomes.length, ok, statuses, errors, skipped, p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1] ?? 0 };
}
