// PROXY protocol v1 and v2 (HAProxy's spec, haproxy.org/download/2.9/doc/proxy-protocol.txt), read
// from the raw TCP connection before anything else (before TLS on the TLS listener), with
// `--proxy-protocol`. Bounded and strict: a v1 line is at most 107 bytes with CRLF; a v2 header
// at most 16 + MAX_V2_LENGTH bytes; the header must arrive within the client header timeout;
// anything that is not a valid header closes the connection without a response.
//
// The header's source address becomes the connection's peer (what --trusted-proxies, CIDR rules,
// rate limits, X-Forwarded-For and the access log see). v1 UNKNOWN, v2 LOCAL (health checks of
// the load balancer) and v2 families other than TCP/UDP over IPv4/IPv6 keep the socket's address.
// Hand-rolled (about 100 lines, unit table in test/dataplane/proxy-protocol.test.ts): npm's
// proxy-protocol-js (4.x) exists and was not evaluated in depth for lack of time; what is needed
// here is incremental reading with hard bounds before TLS, which this file does in one place.

import { isIPv4, isIPv6, type Socket } from "node:net";

/** The longest v1 line, CRLF included (spec §2.1). */
export const MAX_V1_LENGTH = 107;
/** The longest v2 address block accepted (addresses plus TLVs; cloud load balancers send < 300 bytes). */
export const MAX_V2_LENGTH = 1024;

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from("PROXY ", "latin1");

/** A parse: `need` more bytes; `error`; or done: `length` bytes consumed, `source` (null = keep the socket's). */
export type ProxyHeader = { readonly kind: "need" } | { readonly kind: "error"; readonly reason: string } | { readonly kind: "done"; readonly length: number; readonly source: string | null };

const NEED: ProxyHeader = { kind: "need" };

function error(reason: string): ProxyHeader {
  return { kind: "error", reason };
}

/** Parses the PROXY header at the start of `buf` (all bytes read so far). */
export function parseProxyHeader(buf: Buffer): ProxyHeader {
  if (buf.length === 0) return NEED;
  if (buf[0] === 0x0d) return parseV2(buf);
  if (buf[0] === 0x50 /* P */) return parseV1(buf);
  return error("not a PROXY protocol header");
}

function parseV1(buf: Buffer): ProxyHeader {
  const prefix = Math.min(buf.length, V1_PREFIX.length);
  if (!buf.subarray(0, prefix).equals(V1_PREFIX.subarray(0, prefix))) return error("not a PROXY protocol header");
  const lf = buf.indexOf(0x0a);
  if (lf === -1) return buf.length >= MAX_V1_LENGTH ? error("v1 line longer than 107 bytes") : NEED;
  if (lf + 1 > MAX_V1_LENGTH) return error("v1 line longer than 107 bytes");
  if (buf[lf - 1] !== 0x0d) return error("v1 line without CRLF");
  const line = buf.toString("latin1", V1_PREFIX.length, lf - 1);
  const parts = line.split(" ");
  const proto = parts[0];
  if (proto === "UNKNOWN") return { kind: "done", length: lf + 1, source: null };
  if (parts.length !== 5) return error("v1 line: expected PROXY TCP4|TCP6 SRC DST SPORT DPORT");
  const [, src, dst, sport, dport] = parts as [string, string, string, string, string];
  const family = proto === "TCP4" ? isIPv4 : proto === "TCP6" ? isIPv6 : null;
  if (family === null) return error("v1 line: protocol is not TCP4, TCP6 or UNKNOWN");
  if (!family(src) || !family(dst)) return error("v1 line: address does not match the protocol");
  if (!validPort(sport) || !validPort(dport)) return error("v1 line: bad port");
  return { kind: "done", length: lf + 1, source: src };
}

function validPort(text: string): boolean {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return false;
  return Number(text) <= 65535;
}

function parseV2(buf: Buffer): ProxyHeader {
  const n = Math.min(buf.length, V2_SIGNATURE.length);
  if (!buf.subarray(0, n).equals(V2_SIGNATURE.subarray(0, n))) return error("not a PROXY protocol header");
  if (buf.length < 16) return NEED;
  const verCmd = buf[12] as number;
  if (verCmd >> 4 !== 2) return error("v2: version is not 2");
  const command = verCmd & 0x0f;
  if (command > 1) return error("v2: command is neither LOCAL nor PROXY");
  const famProto = buf[13] as number;
  const length = buf.readUInt16BE(14);
  if (length > MAX_V2_LENGTH) return error(`v2: address block over ${MAX_V2_LENGTH} bytes`);
  if (buf.length < 16 + length) return NEED;
  const total = 16 + length;
  // LOCAL: the load balancer's own connection (health check); the socket's address stays.
  if (command === 0) return { kind: "done", length: total, source: null };
  const family = famProto >> 4;
  const transport = famProto & 0x0f;
  if (transport > 2) return error("v2: transport is not UNSPEC, STREAM or DGRAM");
  if (family === 1) {
    if (length < 12) return error("v2: IPv4 address block shorter than 12 bytes");
    return { kind: "done", length: total, source: `${buf[16]}.${buf[17]}.${buf[18]}.${buf[19]}` };
  }
  if (family === 2) {
    if (length < 36) return error("v2: IPv6 address block shorter than 36 bytes");
    let s = "";
    for (let i = 0; i < 8; i++) s += (i > 0 ? ":" : "") + buf.readUInt16BE(16 + 2 * i).toString(16);
    return { kind: "done", length: total, source: s };
  }
  if (family > 3) return error("v2: unknown address family");
  // UNSPEC or UNIX: no IP source; the socket's address stays.
  return { kind: "done", length: total, source: null };
}

/** The PROXY header's source of a connection (set on the raw TCP socket). */
const SOURCE = Symbol("proxypass.proxySource");

interface Sourced {
  [SOURCE]?: string;
  _parent?: Sourced | null;
}

/**
 * The PROXY header's source address of a connection, from the raw socket, the TLS socket over it
 * (`_parent`), or node:http2's socket proxy of either; undefined when none was given.
 */
export function proxySourceOf(socket: Socket): string | undefined {
  const s = socket as unknown as Sourced;
  const own = s[SOURCE];
  if (own !== undefined) return own;
  const parent = s._parent;
  return parent === null || parent === undefined ? undefined : parent[SOURCE];
}

/**
 * Reads the PROXY header of a new connection, then calls `next(socket)` with the rest of the bytes
 * put back (unshift) for whoever reads next (the h2c sniff, the HTTP/1.1 parser, TLS). A bad,
 * oversized or late header destroys the socket without a response.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number, next: (socket: Socket) => void): void {
  let buffered: Buffer | null = null;
  const onTimeout = (): void => {
    socket.destroy();
  };
  const onData = (chunk: Buffer): void => {
    const buf = buffered === null ? chunk : Buffer.concat([buffered, chunk]);
    const header = parseProxyHeader(buf);
    if (header.kind === "need") {
      buffered = buf;
      return;
    }
    socket.off("data", onData);
    socket.off("timeout", onTimeout);
    socket.setTimeout(0);
    if (header.kind === "error") {
      socket.destroy();
      return;
    }
    if (header.source !== null) (socket as unknown as Sourced)[SOURCE] = header.source;
    socket.pause();
    if (buf.length > header.length) socket.unshift(buf.subarray(header.length));
    next(socket);
  };
  if (timeoutMs > 0) {
    socket.setTimeout(timeoutMs);
    socket.once("timeout", onTimeout);
  }
  socket.on("data", onData);
}
