// Response compression (httpd mod_deflate's SetOutputFilter DEFLATE; ingress-nginx use-gzip and
// enable-brotli), for routes with `compression: "true"`.
//
// Negotiation: the client's Accept-Encoding q-values choose among zstd, br and gzip (x-gzip); on
// equal q the server prefers zstd, then br, then gzip (measured: test/bench/README.md); "*" stands
// for codings not listed; q=0 refuses. No acceptable coding: the response goes out as it came.
// A response is compressed only when all hold: not HEAD; status not 1xx/204/206/304; no
// Content-Range; no Content-Encoding (other than identity); no `Cache-Control: no-transform`; its
// media type in `compression-types`; Content-Length, when present, at least `compression-min-size`.
// Such a response gets `Vary: Accept-Encoding` whether or not this client accepted a coding (a
// cache must not hand the compressed variant to another client). A compressed one loses
// Content-Length and Accept-Ranges, and a strong ETag becomes weak (as nginx does).
//
// Streaming: node:zlib streams, one per compressed response, fed chunk by chunk as they come from
// the member and flushed after each chunk (so a slowly streamed response is not held back until
// the compressor's buffer fills). Memory is bounded: the encoder's buffers are 16 KiB each way,
// windows are capped (brotli 512 KiB, zstd 512 KiB, gzip 32 KiB), and the member is paused while
// the encoder or the client connection is full. text/event-stream is never compressed (refused in
// compression-types): each event must reach the client at once and would become its own tiny
// flushed block.

import zlib, { type Gzip, type BrotliCompress } from "node:zlib";
import type { Transform } from "node:stream";
import { defaultServerSettings, type ServerSettings } from "../model/index.js";

export const ENCODING_NONE = 0;
export const ENCODING_GZIP = 1;
export const ENCODING_BR = 2;
export const ENCODING_ZSTD = 3;
export type Encoding = 0 | 1 | 2 | 3;

const NAMES = ["", "gzip", "br", "zstd"] as const;

/** Levels chosen by measurement (test/bench/README.md, "Compression levels"). */
export const GZIP_LEVEL = 1;
export const BROTLI_QUALITY = 3;
export const ZSTD_LEVEL = 3;

const hasZstd = typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === "function";

/** Server preference on equal q: zstd (fastest at br's ratio), br, gzip. */
const PREFERENCE: ReadonlyArray<Encoding> = hasZstd ? [ENCODING_ZSTD, ENCODING_BR, ENCODING_GZIP] : [ENCODING_BR, ENCODING_GZIP];

/**
 * The coding for an Accept-Encoding value (null = header absent: none). q-values per RFC 9110
 * §12.5.3: the highest q wins, ties go to the server's preference; "*" covers codings not listed.
 */
export function chooseEncoding(accept: string | null): Encoding {
  if (accept === null || accept === "") return ENCODING_NONE;
  // q of gzip, br, zstd, * in thousandths; -1 = not mentioned.
  let gzip = -1;
  let br = -1;
  let zstd = -1;
  let star = -1;
  let start = 0;
  for (let i = 0; i <= accept.length; i++) {
    if (i !== accept.length && accept.charCodeAt(i) !== 44 /* , */) continue;
    const item = accept.slice(start, i);
    start = i + 1;
    const semi = item.indexOf(";");
    const coding = (semi === -1 ? item : item.slice(0, semi)).trim().toLowerCase();
    const q = semi === -1 ? 1000 : qValue(item.slice(semi + 1));
    switch (coding) {
      case "gzip":
      case "x-gzip":
        gzip = Math.max(gzip, q);
        break;
      case "br":
        br = Math.max(br, q);
        break;
      case "zstd":
        zstd = Math.max(zstd, q);
        break;
      case "*":
        star = Math.max(star, q);
        break;
    }
  }
  let best: Encoding = ENCODING_NONE;
  let bestQ = 0;
  for (const e of PREFERENCE) {
    let q = e === ENCODING_GZIP ? gzip : e === ENCODING_BR ? br : zstd;
    if (q === -1) q = star;
    if (q > bestQ) {
      best = e;
      bestQ = q;
    }
  }
  return best;
}

/** The q of ";q=0.5"-style parameters in thousandths; a malformed q counts as 0 (not acceptable). */
function qValue(params: string): number {
  for (const p of params.split(";")) {
    const eq = p.indexOf("=");
    if (eq === -1 || p.slice(0, eq).trim().toLowerCase() !== "q") continue;
    const v = p.slice(eq + 1).trim();
    if (!/^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$/.test(v)) return 0;
    return Math.round(Number(v) * 1000);
  }
  return 1000;
}

/** The compression settings of one route table, shared by its routes with `compression` on. */
export class CompressionPolicy {
  readonly #types: ReadonlySet<string>;
  /** Major types of "type/*" entries. */
  readonly #majors: ReadonlySet<string>;
  readonly minSize: number;

  constructor(types: ReadonlyArray<string>, minSize: number) {
    const exact = new Set<string>();
    const majors = new Set<string>();
    for (const t of types) {
      if (t.endsWith("/*")) majors.add(t.slice(0, -2));
      else exact.add(t);
    }
    this.#types = exact;
    this.#majors = majors;
    this.minSize = minSize;
  }

  static from(server: ServerSettings): CompressionPolicy {
    // Hand-made tables in tests may carry older server settings without these fields.
    return new CompressionPolicy(server.compressionTypes ?? defaultServerSettings.compressionTypes, server.compressionMinSize ?? defaultServerSettings.compressionMinSize);
  }

  /** Whether a Content-Type value names a listed media type (parameters ignored). */
  isCompressibleType(contentType: string): boolean {
    const semi = contentType.indexOf(";");
    const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
    if (this.#types.has(type)) return true;
    if (this.#majors.size === 0) return false;
    const slash = type.indexOf("/");
    return slash > 0 && this.#majors.has(type.slice(0, slash));
  }

  /**
   * Whether a response may be compressed (and so varies by Accept-Encoding), from its status and
   * its header list (flat [name, value, ...], lower-case names).
   */
  isEligible(method: string, status: number, out: ReadonlyArray<string>): boolean {
    if (method === "HEAD" || status < 200 || status === 204 || status === 206 || status === 304) return false;
    let typeOk = false;
    for (let i = 0; i < out.length; i += 2) {
      const value = out[i + 1] as string;
      switch (out[i]) {
        case "content-type":
          typeOk = !isEventStream(value) && this.isCompressibleType(value);
          break;
        case "content-encoding":
          if (value.trim().toLowerCase() !== "identity") return false;
          break;
        case "content-range":
          return false;
        case "cache-control":
          if (value.toLowerCase().includes("no-transform")) return false;
          break;
        case "content-length": {
          const n = Number(value);
          if (Number.isFinite(n) && n < this.minSize) return false;
          break;
        }
      }
    }
    return typeOk;
  }
}

/** Content-Type `text/event-stream` (Server-Sent Events; parameters and case ignored). */
export function isEventStream(contentType: string): boolean {
  return contentType.length >= 17 && (contentType.startsWith("text/event-stream") || contentType.slice(0, 17).toLowerCase() === "text/event-stream");
}

/** Adds `Vary: Accept-Encoding` unless a Vary line already lists it or "*". */
export function addVary(out: string[]): void {
  for (let i = 0; i < out.length; i += 2) {
    if (out[i] !== "vary") continue;
    const v = (out[i + 1] as string).toLowerCase();
    if (v.includes("accept-encoding") || v.trim() === "*") return;
  }
  out.push("vary", "Accept-Encoding");
}

/** Headers of a response that is being compressed: Content-Encoding set, Content-Length and Accept-Ranges removed, a strong ETag weakened. */
export function encodeHeaders(out: string[], encoding: Encoding): void {
  let w = 0;
  for (let i = 0; i < out.length; i += 2) {
    const name = out[i] as string;
    let value = out[i + 1] as string;
    if (name === "content-length" || name === "accept-ranges" || name === "content-encoding") continue;
    if (name === "etag" && value.charCodeAt(0) === 34 /* " */) value = `W/${value}`;
    out[w++] = name;
    out[w++] = value;
  }
  out.length = w;
  out.push("content-encoding", NAMES[encoding]);
}

/** The value of the first Accept-Encoding line of raw request headers (all lines joined), or null. */
export function acceptEncodingOf(raw: ReadonlyArray<string>): string | null {
  let value: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== 15 || name.toLowerCase() !== "accept-encoding") continue;
    value = value === null ? (raw[i + 1] as string) : `${value}, ${raw[i + 1] as string}`;
  }
  return value;
}

/** Receives what an encoder produces (the Exchange). */
export interface EncoderSink {
  encoded(chunk: Buffer): void;
  encoderDrained(): void;
  encoderEnded(): void;
  encoderFailed(err: Error): void;
}

/** A compression stream carrying its sink, so its listeners are shared functions (no per-response closures). */
export type Encoder = Transform & { sink: EncoderSink | null };

function onEncoderData(this: Encoder, chunk: Buffer): void {
  this.sink?.encoded(chunk);
}

function onEncoderDrain(this: Encoder): void {
  this.sink?.encoderDrained();
}

function onEncoderEnd(this: Encoder): void {
  const sink = this.sink;
  this.sink = null;
  sink?.encoderEnded();
}

function onEncoderError(this: Encoder, err: Error): void {
  const sink = this.sink;
  this.sink = null;
  sink?.encoderFailed(err);
}

const C = zlib.constants;

/** A streaming encoder for `encoding`, flushing after every write; `sizeHint` = Content-Length or 0. */
export function createEncoder(encoding: Encoding, sink: EncoderSink, sizeHint: number): Encoder {
  let stream: Gzip | BrotliCompress | Transform;
  if (encoding === ENCODING_GZIP) {
    stream = zlib.createGzip({ level: GZIP_LEVEL, flush: C.Z_SYNC_FLUSH });
  } else if (encoding === ENCODING_BR) {
    const params: Record<number, number> = { [C.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [C.BROTLI_PARAM_LGWIN]: 19 };
    if (sizeHint > 0) params[C.BROTLI_PARAM_SIZE_HINT] = sizeHint;
    stream = zlib.createBrotliCompress({ flush: C.BROTLI_OPERATION_FLUSH, params });
  } else {
    const create = (zlib as unknown as { createZstdCompress(o: object): Transform }).createZstdCompress;
    const z = C as unknown as Record<string, number>;
    const params: Record<number, number> = { [z.ZSTD_c_compressionLevel as number]: ZSTD_LEVEL, [z.ZSTD_c_windowLog as number]: 19 };
    stream = create({ flush: z.ZSTD_e_flush, params });
  }
  const encoder = stream as Encoder;
  encoder.sink = sink;
  encoder.on("data", onEncoderData);
  encoder.on("drain", onEncoderDrain);
  encoder.on("end", onEncoderEnd);
  encoder.on("error", onEncoderError);
  return encoder;
}
