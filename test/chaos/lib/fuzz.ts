// A raw-HTTP fuzzer: seeded (mulberry32), so a seed and a case number reproduce a request exactly.
// Each case takes a valid request from a small corpus and applies 1-3 mutations (bytes flipped,
// control characters inserted, spans cut, headers duplicated or replaced by hostile ones,
// methods, targets and versions replaced, chunked framing broken, the request truncated or split
// in fragments, junk appended). It is written on a fresh connection; whatever comes back must be a
// sequence of valid HTTP/1.x responses (status line, header lines without control characters,
// framing kept: Content-Length bytes exactly, or chunks up to the last one, or until close).

import { connect } from "node:net";

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzCase {
  readonly index: number;
  /** Fragments written in order (with a short pause between them). */
  readonly fragments: ReadonlyArray<Buffer>;
  /** Half-close (FIN) after writing. */
  readonly halfClose: boolean;
  readonly mutations: ReadonlyArray<string>;
}

const HOSTILE_HEADERS = [
  "Transfer-Encoding: chunked\r\nContent-Length: 5",
  "Transfer-Encoding: gzip",
  "Transfer-Encoding: chunked, identity",
  "Transfer-Encoding : chunked",
  "Content-Length: -1",
  "Content-Length: 1e3",
  "Content-Length: 5\r\nContent-Length: 6",
  "Content-Length: 99999999999999999999",
  "Host: other.test",
  "Host: chaos.test@evil.test",
  "Host: [::1",
  `X-Big: ${"b".repeat(20_000)}`,
  "NoColonHere",
  "X-Fold: a\r\n folded",
  "Bad Name: x",
  "Connection: Host, X-Forwarded-For",
  "Connection: close",
  "Expect: 100-continue",
  "Expect: something-else",
  "Upgrade: websocket\r\nConnection: Upgrade",
  "Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings",
  "X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Host: evil.test",
  "Cookie: ROUTEID=.nope; a=\u0000",
  "X-Request-Id: \u00ff\u00fe",
  "Via: 1.1 loop",
  `Cookie: ${"c=1; ".repeat(2_000)}`,
];
const TARGETS = ["*", "http://evil.test/x", "HTTP://CHAOS.TEST/abs", "http://chaos.test", "//evil.test/x", `/${"p".repeat(10_000)}`, "/a%00b", "/a b", "/../../etc/passwd", "/%2e%2e/x", "?x", "", "/\u00e9", "/app;x=1?y=%zz"];
const METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "get", "G\u0000ET", "X".repeat(300), "PRI", "M-SEARCH", "PROPFIND"];
const VERSIONS = ["HTTP/1.0", "HTTP/2.0", "HTTP/1.1x", "HTTP/9.9", "", "http/1.1", "HTTP/1.1\u0000"];
const CONTROL = [0x0d, 0x0a, 0x00, 0x09, 0x7f, 0xff, 0x0b, 0x20];

function pick<T>(rnd: () => number, list: ReadonlyArray<T>): T {
  return list[Math.floor(rnd() * list.length)] as T;
}

function base(rnd: () => number, host: string): string {
  const path = `/app/fuzz${Math.floor(rnd() * 1000)}`;
  switch (Math.floor(rnd() * 5)) {
    case 0:
      return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: fuzz\r\nAccept: */*\r\n\r\n`;
    case 1:
      return `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world`;
    case 2:
      return `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`;
    case 3:
      return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\nGET ${path}/2 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
    default:
      return `GET ${path} HTTP/1.0\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`;
  }
}

function mutate(rnd: () => number, req: string, names: string[]): string {
  const at = (): number => Math.floor(rnd() * (req.length + 1));
  const kind = Math.floor(rnd() * 12);
  const headEnd = Math.max(0, req.indexOf("\r\n\r\n"));
  const lineEnd = Math.max(0, req.indexOf("\r\n"));
  switch (kind) {
    case 0: {
      const i = Math.floor(rnd() * req.length);
      names.push(`flip@${i}`);
      return req.slice(0, i) + String.fromCharCode(Math.floor(rnd() * 256)) + req.slice(i + 1);
    }
    case 1: {
      const i = at();
      const c = pick(rnd, CONTROL);
      names.push(`ctl${c}@${i}`);
      return req.slice(0, i) + String.fromCharCode(c) + req.slice(i);
    }
    case 2: {
      const i = at();
      const n = 1 + Math.floor(rnd() * 8);
      names.push(`cut${n}@${i}`);
      return req.slice(0, i) + req.slice(i + n);
    }
    case 3: {
      const lines = req.slice(0, headEnd).split("\r\n");
      if (lines.length < 2) return req;
      const i = 1 + Math.floor(rnd() * (lines.length - 1));
      lines.splice(i, 0, lines[i] ?? "");
      names.push(`dup-line${i}`);
      return lines.join("\r\n") + req.slice(headEnd);
    }
    case 4: {
      const h = pick(rnd, HOSTILE_HEADERS);
      names.push(`header:${h.slice(0, 24)}`);
      return req.slice(0, lineEnd + 2) + h + "\r\n" + req.slice(lineEnd + 2);
    }
    case 5: {
      const m = pick(rnd, METHODS);
      names.push(`method:${m.slice(0, 12)}`);
      return m + req.slice(req.indexOf(" "));
    }
    case 6: {
      const t = pick(rnd, TARGETS);
      names.push(`target:${t.slice(0, 20)}`);
      const sp1 = req.indexOf(" ");
      const sp2 = req.indexOf(" ", sp1 + 1);
      return req.slice(0, sp1 + 1) + t + req.slice(sp2);
    }
    case 7: {
      const v = pick(rnd, VERSIONS);
      names.push(`version:${v}`);
      return req.slice(0, req.lastIndexOf(" ", lineEnd) + 1) + v + req.slice(lineEnd);
    }
    case 8: {
      const i = Math.floor(rnd() * req.length);
      names.push(`truncate@${i}`);
      return req.slice(0, i);
    }
    case 9: {
      const bad = pick(rnd, ["zz\r\nhello\r\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n", "ffffffffffffffff\r\nx\r\n", "5;ext=\u0000\r\nhello\r\n0\r\n\r\n", "0\r\nTrailer: x\r\n\r\n", "-1\r\n\r\n"]);
      names.push(`chunks:${JSON.stringify(bad.slice(0, 10))}`);
      return req.slice(0, lineEnd + 2) + "Transfer-Encoding: chunked\r\n" + req.slice(lineEnd + 2, headEnd + 4) + bad;
    }
    case 10: {
      const junk = pick(rnd, ["\r\n\r\n", "garbage\r\n\r\n", "GET / HTTP/1.1\r\n", "\u0000\u0000\u0000", "HTTP/1.1 200 OK\r\n\r\n"]);
      names.push(`append:${JSON.stringify(junk.slice(0, 8))}`);
      return req + junk;
    }
    default: {
      const i = Math.max(0, headEnd - 1);
      names.push("header-space");
      return req.slice(0, i) + " " + req.slice(i);
    }
  }
}

/** Case `index` of the campaign seeded with `seed`: the same pair always gives the same bytes. */
export function fuzzCase(seed: number, index: number, host: string): FuzzCase {
  const rnd = mulberry32((seed * 1_000_003 + index) >>> 0);
  let req = base(rnd, host);
  const names: string[] = [];
  const n = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < n; i++) req = mutate(rnd, req, names);
  const bytes = Buffer.from(req, "latin1");
  const fragments: Buffer[] = [];
  if (rnd() < 0.3 && bytes.length > 2) {
    let from = 0;
    while (from < bytes.length) {
      const size = 1 + Math.floor(rnd() * 20);
      fragments.push(bytes.subarray(from, from + size));
      from += size;
    }
    names.push("fragmented");
  } else {
    fragments.push(bytes);
  }
  return { index, fragments, halfClose: rnd() < 0.3, mutations: names };
}

export interface ParsedResponse {
  readonly status: number;
  readonly headers: ReadonlyArray<[string, string]>;
  readonly bodyBytes: number;
}

export type ParseResult = { readonly ok: true; readonly responses: ReadonlyArray<ParsedResponse> } | { readonly ok: false; readonly reason: string; readonly responses: ReadonlyArray<ParsedResponse> };

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Parses everything a connection returned as HTTP/1.x responses. `complete` = the connection was
 * closed by the server (a body delimited by close is then whole). `headOnly`: the request was HEAD.
 */
export function parseResponses(data: Buffer, complete: boolean, headOnly = false): ParseResult {
  const responses: ParsedResponse[] = [];
  let pos = 0;
  while (pos < data.length) {
    const end = data.indexOf("\r\n\r\n", pos, "latin1");
    if (end === -1) return { ok: false, reason: `incomplete head at byte ${pos}`, responses };
    const head = data.subarray(pos, end).toString("latin1");
    const lines = head.split("\r\n");
    // eslint-disable-next-line no-control-regex
    const m = /^HTTP\/1\.[01] (\d{3}) ([^\r\n\u0000]*)$/.exec(lines[0] ?? "");
    if (m === null) return { ok: false, reason: `bad status line ${JSON.stringify((lines[0] ?? "").slice(0, 80))}`, responses };
    const status = Number(m[1]);
    const headers: Array<[string, string]> = [];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) return { ok: false, reason: `bad header line ${JSON.stringify(line.slice(0, 80))}`, responses };
      const name = line.slice(0, colon);
      const value = line.slice(colon + 1).trim();
      if (!TOKEN.test(name)) return { ok: false, reason: `bad header name ${JSON.stringify(name)}`, responses };
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) return { ok: false, reason: `control character in ${name}`, responses };
      headers.push([name.toLowerCase(), value]);
    }
    pos = end + 4;
    const get = (n: string): string[] => headers.filter(([k]) => k === n).map(([, v]) => v);
    const te = get("transfer-encoding");
    const cl = get("content-length");
    if (te.length > 0 && cl.length > 0) return { ok: false, reason: "both Transfer-Encoding and Content-Length", responses };
    if (cl.length > 1 && new Set(cl).size > 1) return { ok: false, reason: "differing Content-Length", responses };
    let body = 0;
    if (headOnly || status < 200 || status === 204 || status === 304) {
      body = 0;
    } else if (te.length > 0) {
      if (te.join(",").toLowerCase().trim() !== "chunked") return { ok: false, reason: `transfer-encoding ${te.join(",")}`, responses };
      for (;;) {
        const le = data.indexOf("\r\n", pos, "latin1");
        if (le === -1) return { ok: false, reason: "chunked body cut (no last chunk)", responses };
        const sizeText = data.subarray(pos, le).toString("latin1").split(";")[0]?.trim() ?? "";
        if (!/^[0-9a-fA-F]+$/.test(sizeText)) return { ok: false, reason: `bad chunk size ${JSON.stringify(sizeText)}`, responses };
        const size = parseInt(sizeText, 16);
        pos = le + 2;
        if (size === 0) {
          const trailerEnd = data.indexOf("\r\n", pos, "latin1");
          if (trailerEnd !== pos) {
            const t = data.indexOf("\r\n\r\n", pos, "latin1");
            if (t === -1) return { ok: false, reason: "chunked trailer cut", responses };
            pos = t + 4;
          } else {
            pos += 2;
          }
          break;
        }
        if (pos + size + 2 > data.length) return { ok: false, reason: "chunked body cut", responses };
        body += size;
        pos += size;
        if (data.subarray(pos, pos + 2).toString("latin1") !== "\r\n") return { ok: false, reason: "chunk not followed by CRLF", responses };
        pos += 2;
      }
    } else if (cl.length > 0) {
      const n = Number(cl[0]);
      if (!Number.isInteger(n) || n < 0) return { ok: false, reason: `bad content-length ${cl[0]}`, responses };
      if (pos + n > data.length) return { ok: false, reason: `body cut: ${data.length - pos} of ${n} bytes`, responses };
      body = n;
      pos += n;
    } else {
      // Delimited by close: only valid as the last response of a closed connection.
      if (!complete) return { ok: false, reason: "close-delimited body on an open connection", responses };
      body = data.length - pos;
      pos = data.length;
    }
    responses.push({ status, headers, bodyBytes: body });
  }
  return { ok: true, responses };
}

export interface CaseResult {
  readonly index: number;
  readonly responses: ReadonlyArray<ParsedResponse>;
  /** Null when valid, else why not. */
  readonly invalid: string | null;
  /** The server closed the connection (else the client gave up after the idle time). */
  readonly closedByServer: boolean;
}

/** Writes one case to host:port and collects the answer until the server closes or `idleMs` of silence. */
export function runCase(c: FuzzCase, port: number, idleMs = 800): Promise<CaseResult> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    const parts: Buffer[] = [];
    let timer: NodeJS.Timeout = setTimeout(() => finish(false), idleMs * 4);
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      const data = Buffer.concat(parts);
      const method = c.fragments.length > 0 ? Buffer.concat(c.fragments as Buffer[]).toString("latin1").split(" ")[0] : "";
      const parsed = parseResponses(data, closed, method === "HEAD");
      // A connection the server closed must hold whole responses; one we gave up on may end mid-response.
      const invalid = parsed.ok ? null : closed || !partialOk(parsed.reason) ? parsed.reason : null;
      resolve({ index: c.index, responses: parsed.responses, invalid, closedByServer: closed });
    };
    const rearm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), idleMs);
    };
    s.on("data", (d: Buffer) => {
      parts.push(d);
      rearm();
    });
    s.on("error", () => {});
    s.on("close", () => finish(true));
    s.on("connect", () => {
      void (async () => {
        for (const f of c.fragments) {
          if (s.destroyed) return;
          s.write(f);
          if (c.fragments.length > 1) await new Promise((r) => setTimeout(r, 1));
        }
        if (c.halfClose && !s.destroyed) s.end();
        rearm();
      })();
    });
  });
}

/** Reasons a still-open connection may legitimately show: the rest of a response is still coming. */
function partialOk(reason: string): boolean {
  return reason.startsWith("incomplete head") || reason.startsWith("body cut") || reason.startsWith("chunked body cut") || reason === "close-delimited body on an open connection";
}

export interface CampaignOptions {
  readonly port: number;
  readonly host: string;
  readonly seed: number;
  readonly batches: number;
  readonly batchSize: number;
  /** Cases in flight at once. */
  readonly concurrency?: number;
  /** After each batch: a normal request; returns its status (0 = transport error). */
  readonly normalRequest: () => Promise<number>;
  /** Open client connections of the proxy (server-status ConnsTotal); polled back to the baseline after each batch. */
  readonly openConnections: () => Promise<number>;
  /** False once the proxy process has died. */
  readonly alive: () => boolean;
}

export interface CampaignResult {
  readonly cases: number;
  /** Responses by status (a case may get several, or none). */
  readonly statuses: Record<string, number>;
  readonly noAnswer: number;
  readonly invalid: ReadonlyArray<{ index: number; reason: string; mutations: ReadonlyArray<string> }>;
  /** Batches after which the normal request failed, with its status. */
  readonly failedNormal: ReadonlyArray<{ batch: number; status: number }>;
  /** Batches after which open connections did not come back to the baseline (in 10 s). */
  readonly leaked: ReadonlyArray<{ batch: number; open: number; baseline: number }>;
  readonly died: boolean;
  readonly baseline: number;
}

/** Runs `batches` batches of seeded cases; after each: the process lives, a normal request succeeds, connections come back. */
export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const statuses: Record<string, number> = {};
  const invalid: Array<{ index: number; reason: string; mutations: ReadonlyArray<string> }> = [];
  const failedNormal: Array<{ batch: number; status: number }> = [];
  const leaked: Array<{ batch: number; open: number; baseline: number }> = [];
  let noAnswer = 0;
  const baseline = await o.openConnections();
  let index = 0;
  for (let batch = 0; batch < o.batches; batch++) {
    const cases = Array.from({ length: o.batchSize }, () => fuzzCase(o.seed, index++, o.host));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cases.length) {
        const c = cases[next++] as FuzzCase;
        const r = await runCase(c, o.port);
        if (r.responses.length === 0) noAnswer++;
        for (const resp of r.responses) statuses[String(resp.status)] = (statuses[String(resp.status)] ?? 0) + 1;
        if (r.invalid !== null) invalid.push({ index: c.index, reason: r.invalid, mutations: c.mutations });
      }
    };
    await Promise.all(Array.from({ length: o.concurrency ?? 8 }, worker));
    if (!o.alive()) return { cases: index, statuses, noAnswer, invalid, failedNormal, leaked, died: true, baseline };
    const status = await o.normalRequest();
    if (status !== 200) failedNormal.push({ batch, status });
    const deadline = Date.now() + 10_000;
    let open = await o.openConnections();
    while (open > baseline && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      open = await o.openConnections();
    }
    if (open > baseline) leaked.push({ batch, open, baseline });
  }
  return { cases: index, statuses, noAnswer, invalid, failedNormal, leaked, died: !o.alive(), baseline };
}
