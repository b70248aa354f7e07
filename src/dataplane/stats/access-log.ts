// Access log helpers: request ids and httpd's combined format.
//
// Request ids: a request without `X-Request-Id` gets one, sent upstream and logged. The id is a
// per-worker random prefix plus a counter ("3f9a0c1b7d2e-1-42"): unique across workers and restarts,
// and cheaper than crypto.randomUUID() (a micro-benchmark on the shared 2-vCPU dev VM, Node 24:
// 38-90 ns per id against 70-130 ns for randomUUID with its entropy cache and 2.8-4.7 µs without
// it; see docs/observability.md). An incoming id is kept as sent (printable ASCII, at most 200
// characters); otherwise a new one replaces it.
//
// Combined format: httpd's `LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" combined`
// followed by `%D` (microseconds) and `"%{BALANCER_WORKER_NAME}e"` (the member's URL, "-" when
// none was elected). Fields from the request are escaped like httpd's ap_escape_logitem: `"`, `\`
// and bytes outside printable ASCII become `\"`, `\\`, `\xhh`.
import { randomBytes } from "node:crypto";

/** Where access lines go: the logger's own non-blocking destination (pino.destination / SonicBoom). */
export interface AccessLogSink {
  write(line: string): unknown;
}

export type AccessLogFormat = "json" | "combined";

export class RequestIds {
  readonly #prefix: string;
  #next = 0;

  constructor(worker: string) {
    this.#prefix = `${randomBytes(6).toString("hex")}-${worker}-`;
  }

  next(): string {
    this.#next++;
    return this.#prefix + this.#next;
  }
}

/** An incoming X-Request-Id is kept when it is 1-200 printable ASCII characters; else a new one is made. */
export function isAcceptableRequestId(value: string): boolean {
  if (value.length === 0 || value.length > 200) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

const HEX = "0123456789abcdef";

/** httpd's ap_escape_logitem: returns `s` itself when nothing needs escaping. */
export function escapeLogItem(s: string): string {
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) break;
  }
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += `\\x${HEX[c >> 4]}${HEX[c & 15]}`;
    else if (c > 0x7e) {
      // Non-ASCII: its UTF-8 bytes, each as \xhh (httpd logs bytes).
      for (const b of Buffer.from(String.fromCodePoint(s.codePointAt(i) ?? c), "utf8")) out += `\\x${HEX[b >> 4]}${HEX[b & 15]}`;
      if (c >= 0xd800 && c <= 0xdbff) i++;
    } else out += s[i];
  }
  return out;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** One combined-format line's fields. */
export interface CombinedFields {
  readonly remote: string;
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  readonly status: number;
  readonly bytes: number;
  readonly referer: string | null;
  readonly userAgent: string | null;
  readonly durationUs: number;
  /** BALANCER_WORKER_NAME: the member's URL, null when no member was elected. */
  readonly worker: string | null;
}

/** Formats combined lines; caches the `%t` text per second, as httpd does. */
export class CombinedFormatter {
  #second = -1;
  #time = "";

  /** `[26/Nov/2026:11:46:52 +0000]` (UTC) for `nowMs`. */
  time(nowMs: number): string {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.#second) {
      const d = new Date(second * 1000);
      this.#time = `[${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000]`;
      this.#second = second;
    }
    return this.#time;
  }

  line(f: CombinedFields, nowMs: number): string {
    const referer = f.referer === null ? "-" : escapeLogItem(f.referer);
    const agent = f.userAgent === null ? "-" : escapeLogItem(f.userAgent);
    return `${f.remote === "" ? "-" : f.remote} - - ${this.time(nowMs)} "${escapeLogItem(f.method)} ${escapeLogItem(f.url)} HTTP/${f.httpVersion}" ${f.status} ${f.bytes === 0 ? "-" : f.bytes} "${referer}" "${agent}" ${Math.round(f.durationUs)} "${f.worker ?? "-"}"\n`;
  }
}
