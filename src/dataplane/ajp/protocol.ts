// The AJP/1.3 wire format (Apache Tomcat's "AJPv13" protocol reference; httpd's mod_proxy_ajp,
// ajp_header.c): packet framing, the forward-request encoder with the coded common headers and
// request attributes, data packets, and a decoder for what the container sends back.
//
// Framing: proxy -> container packets start 0x12 0x34, container -> proxy packets "AB"; then a
// 16-bit big-endian payload length. A packet (4-byte header included) is at most `packetSize`
// bytes (8192 by default, like Tomcat's `packetSize` and httpd's ProxyIOBufferSize). Strings are a
// 16-bit length, the bytes, and a NUL (length 0xFFFF: null string). Header names and values, the
// URI and the query travel as the latin1 strings Node gives us (one byte per char).

/** Proxy -> container prefix codes. */
export const FORWARD_REQUEST = 2;
export const SHUTDOWN = 7;
export const CPING = 10;

/** Container -> proxy prefix codes. */
export const SEND_BODY_CHUNK = 3;
export const SEND_HEADERS = 4;
export const END_RESPONSE = 5;
export const GET_BODY_CHUNK = 6;
export const CPONG = 9;

export const DEFAULT_PACKET_SIZE = 8192;
export const MAX_PACKET_SIZE = 65536;
/** Header (4) + prefix (1) + the largest payload of a packet whose size must fit a 16-bit length. */
const HEADER = 4;

/** Method codes (SC_M_*); others go as 0xFF with the stored_method attribute. */
export const METHOD_CODES: Readonly<Record<string, number>> = Object.freeze({
  OPTIONS: 1,
  GET: 2,
  HEAD: 3,
  POST: 4,
  PUT: 5,
  DELETE: 6,
  TRACE: 7,
  PROPFIND: 8,
  PROPPATCH: 9,
  MKCOL: 10,
  COPY: 11,
  MOVE: 12,
  LOCK: 13,
  UNLOCK: 14,
  ACL: 15,
  REPORT: 16,
  "VERSION-CONTROL": 17,
  CHECKIN: 18,
  CHECKOUT: 19,
  UNCHECKOUT: 20,
  SEARCH: 21,
  MKWORKSPACE: 22,
  UPDATE: 23,
  LABEL: 24,
  MERGE: 25,
  "BASELINE-CONTROL": 26,
  MKACTIVITY: 27,
});
export const METHOD_STORED = 0xff;

/** Request header codes (SC_REQ_*), by lower-case name. */
export const REQUEST_HEADER_CODES: Readonly<Record<string, number>> = Object.freeze({
  accept: 0xa001,
  "accept-charset": 0xa002,
  "accept-encoding": 0xa003,
  "accept-language": 0xa004,
  authorization: 0xa005,
  connection: 0xa006,
  "content-type": 0xa007,
  "content-length": 0xa008,
  cookie: 0xa009,
  cookie2: 0xa00a,
  host: 0xa00b,
  pragma: 0xa00c,
  referer: 0xa00d,
  "user-agent": 0xa00e,
});

/** Response header names (SC_RESP_*), index = code - 0xA001; lower-case as Node's handlers expect. */
export const RESPONSE_HEADER_NAMES: ReadonlyArray<string> = Object.freeze([
  "content-type",
  "content-language",
  "content-length",
  "date",
  "last-modified",
  "location",
  "set-cookie",
  "set-cookie2",
  "servlet-engine",
  "status",
  "www-authenticate",
]);

/** Request attribute codes (SC_A_*). */
export const ATTR_REMOTE_USER = 0x03;
export const ATTR_AUTH_TYPE = 0x04;
export const ATTR_QUERY_STRING = 0x05;
export const ATTR_ROUTE = 0x06;
export const ATTR_SSL_CERT = 0x07;
export const ATTR_SSL_CIPHER = 0x08;
export const ATTR_SSL_SESSION = 0x09;
export const ATTR_REQ_ATTRIBUTE = 0x0a;
export const ATTR_SSL_KEY_SIZE = 0x0b;
export const ATTR_SECRET = 0x0c;
export const ATTR_STORED_METHOD = 0x0d;
export const ATTR_ARE_DONE = 0xff;

/** TLS facts of the client connection, sent as the ssl_* attributes (httpd: SSL_CLIENT_CERT, SSL_CIPHER, SSL_SESSION_ID, SSL_CIPHER_USEKEYSIZE, SSL_PROTOCOL). */
export interface AjpTls {
  /** Cipher suite name (OpenSSL's, as httpd's SSL_CIPHER). */
  readonly cipher: string | null;
  /** TLS session id, hex; null when none. */
  readonly session: string | null;
  /** Symmetric key bits of the cipher; null when unknown. */
  readonly keySize: number | null;
  /** Client certificate (PEM) when the client presented one. */
  readonly cert: string | null;
  /** "TLSv1.3"... (sent as the AJP_SSL_PROTOCOL request attribute). */
  readonly protocol: string | null;
}

/** What the forward-request packet says about the client and the connection (never from client headers). */
export interface AjpRequestInfo {
  readonly remoteAddr: string;
  /** Client port (the AJP_REMOTE_PORT attribute); 0 = unknown (not sent). */
  readonly remotePort: number;
  /** The proxy's local address on the client connection (AJP_LOCAL_ADDR); "" = not sent. */
  readonly localAddr: string;
  /** Host name the request was routed by (server_name). */
  readonly serverName: string;
  /** The listener's port (server_port). */
  readonly serverPort: number;
  /** TLS facts when the client used TLS (is_ssl), else null. */
  readonly tls: AjpTls | null;
  /** The sticky session's route (the route attribute, httpd's session-route), or null. */
  readonly route: string | null;
}

/** A malformed or unexpected packet from the container: the connection is dropped, the request gets 502. */
export class AjpProtocolError extends Error {
  readonly code = "AJP_ERR_PROTOCOL";
  constructor(message: string) {
    super(message);
    this.name = "AjpProtocolError";
  }
}

/** Writes one proxy -> container packet into a buffer of `packetSize` bytes. */
export class PacketWriter {
  readonly buf: Buffer;
  pos = HEADER;
  #overflow = false;

  constructor(packetSize: number) {
    this.buf = Buffer.allocUnsafe(packetSize);
  }

  byte(v: number): void {
    if (this.pos + 1 > this.buf.length) {
      this.#overflow = true;
      return;
    }
    this.buf[this.pos++] = v;
  }

  int16(v: number): void {
    if (this.pos + 2 > this.buf.length) {
      this.#overflow = true;
      return;
    }
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  /** A string (latin1 bytes) with its length and NUL; null -> 0xFFFF. */
  string(s: string | null): void {
    if (s === null) {
      this.int16(0xffff);
      return;
    }
    const n = s.length;
    if (n >= 0xffff || this.pos + 3 + n > this.buf.length) {
      this.#overflow = true;
      return;
    }
    this.buf.writeUInt16BE(n, this.pos);
    this.buf.write(s, this.pos + 2, n, "latin1");
    this.buf[this.pos + 2 + n] = 0;
    this.pos += 3 + n;
  }

  get overflow(): boolean {
    return this.#overflow;
  }

  /** The finished packet (header filled in), or null when it did not fit. */
  finish(): Buffer | null {
    if (this.#overflow) return null;
    this.buf[0] = 0x12;
    this.buf[1] = 0x34;
    this.buf.writeUInt16BE(this.pos - HEADER, 2);
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * The forward-request packet. `headers`: flat lower-case name/value list as forwarded (Host,
 * X-Forwarded-* and the route's header rules included). `target`: origin-form path with query.
 * `secret`: the balancer's shared secret, or null. Returns null when it does not fit `packetSize`.
 */
export function encodeForwardRequest(method: string, target: string, headers: ReadonlyArray<string>, info: AjpRequestInfo, secret: string | null, packetSize: number): Buffer | null {
  const w = new PacketWriter(packetSize);
  w.byte(FORWARD_REQUEST);
  const code = METHOD_CODES[method];
  w.byte(code ?? METHOD_STORED);
  w.string("HTTP/1.1");
  const q = target.indexOf("?");
  w.string(q === -1 ? target : target.slice(0, q));
  w.string(info.remoteAddr);
  w.string(info.remoteAddr);
  w.string(info.serverName);
  w.int16(info.serverPort);
  w.byte(info.tls !== null ? 1 : 0);
  w.int16(headers.length >> 1);
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i] as string;
    const coded = REQUEST_HEADER_CODES[name];
    if (coded !== undefined) w.int16(coded);
    else w.string(name);
    w.string(headers[i + 1] as string);
  }
  // Attributes: only what the proxy knows itself; nothing is copied from client headers.
  if (q !== -1 && q + 1 < target.length) {
    w.byte(ATTR_QUERY_STRING);
    w.string(target.slice(q + 1));
  }
  if (info.route !== null) {
    w.byte(ATTR_ROUTE);
    w.string(info.route);
  }
  const tls = info.tls;
  if (tls !== null) {
    if (tls.cert !== null) {
      w.byte(ATTR_SSL_CERT);
      w.string(tls.cert);
    }
    if (tls.cipher !== null) {
      w.byte(ATTR_SSL_CIPHER);
      w.string(tls.cipher);
    }
    if (tls.session !== null) {
      w.byte(ATTR_SSL_SESSION);
      w.string(tls.session);
    }
    if (tls.keySize !== null) {
      w.byte(ATTR_SSL_KEY_SIZE);
      w.int16(tls.keySize);
    }
    if (tls.protocol !== null) {
      w.byte(ATTR_REQ_ATTRIBUTE);
      w.string("AJP_SSL_PROTOCOL");
      w.string(tls.protocol);
    }
  }
  if (info.remotePort > 0) {
    w.byte(ATTR_REQ_ATTRIBUTE);
    w.string("AJP_REMOTE_PORT");
    w.string(String(info.remotePort));
  }
  if (info.localAddr !== "") {
    w.byte(ATTR_REQ_ATTRIBUTE);
    w.string("AJP_LOCAL_ADDR");
    w.string(info.localAddr);
  }
  if (secret !== null) {
    w.byte(ATTR_SECRET);
    w.string(secret);
  }
  if (code === undefined) {
    w.byte(ATTR_STORED_METHOD);
    w.string(method);
  }
  w.byte(ATTR_ARE_DONE);
  return w.finish();
}

/** A data packet (request body): header, 16-bit chunk length, the bytes. `chunk` empty = end of body. */
export function encodeBodyChunk(chunk: Buffer): Buffer {
  const out = Buffer.allocUnsafe(6 + chunk.length);
  out[0] = 0x12;
  out[1] = 0x34;
  out.writeUInt16BE(chunk.length + 2, 2);
  out.writeUInt16BE(chunk.length, 4);
  chunk.copy(out, 6);
  return out;
}

/** The empty data packet: end of the request body. */
export const EMPTY_BODY_PACKET: Buffer = Buffer.from([0x12, 0x34, 0x00, 0x00]);

/** The CPing packet. */
export const CPING_PACKET: Buffer = Buffer.from([0x12, 0x34, 0x00, 0x01, CPING]);

/** Largest request body chunk in one data packet. */
export function maxBodyChunk(packetSize: number): number {
  return packetSize - 6;
}

/** Decoded SEND_HEADERS. */
export interface AjpResponseHead {
  readonly status: number;
  readonly message: string;
  /** Lower-case names; repeated names (Set-Cookie) as arrays. */
  readonly headers: Record<string, string | string[]>;
}

/** Reads the payload of one container packet; every read is bounds-checked (throws AjpProtocolError). */
export class PacketReader {
  readonly #buf: Buffer;
  #pos: number;
  readonly #end: number;

  constructor(buf: Buffer, start: number, end: number) {
    this.#buf = buf;
    this.#pos = start;
    this.#end = end;
  }

  byte(): number {
    if (this.#pos + 1 > this.#end) throw new AjpProtocolError("truncated packet");
    return this.#buf[this.#pos++] as number;
  }

  int16(): number {
    if (this.#pos + 2 > this.#end) throw new AjpProtocolError("truncated packet");
    const v = this.#buf.readUInt16BE(this.#pos);
    this.#pos += 2;
    return v;
  }

  /** A string; null for length 0xFFFF. */
  string(): string | null {
    const n = this.int16();
    if (n === 0xffff) return null;
    if (this.#pos + n + 1 > this.#end) throw new AjpProtocolError("truncated string");
    if (this.#buf[this.#pos + n] !== 0) throw new AjpProtocolError("string without its NUL terminator");
    const s = this.#buf.toString("latin1", this.#pos, this.#pos + n);
    this.#pos += n + 1;
    return s;
  }

  bytes(n: number): Buffer {
    if (this.#pos + n > this.#end) throw new AjpProtocolError("truncated body chunk");
    const b = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return b;
  }
}

/** True for a header value the client side may carry (no CR, LF or NUL: a member cannot split the response). */
function isSafeValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0) return false;
  }
  return true;
}

/** True for an HTTP token (header name). */
function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c >= 127 || c === 58 /* : */ || c === 34 || c === 40 || c === 41 || c === 44 || c === 47 || c === 59 || c === 60 || c === 61 || c === 62 || c === 63 || c === 64 || c === 91 || c === 92 || c === 93 || c === 123 || c === 125) return false;
  }
  return true;
}

/** Decodes SEND_HEADERS (after its prefix byte). */
export function decodeSendHeaders(r: PacketReader): AjpResponseHead {
  const status = r.int16();
  if (status < 100 || status > 999) throw new AjpProtocolError(`invalid status ${status}`);
  const message = r.string() ?? "";
  const count = r.int16();
  // No prototype: a member's header named "__proto__" is just a header.
  const headers = Object.create(null) as Record<string, string | string[]>;
  for (let i = 0; i < count; i++) {
    const peek = r.int16();
    let name: string;
    if ((peek & 0xff00) === 0xa000) {
      const coded = RESPONSE_HEADER_NAMES[peek - 0xa001];
      if (coded === undefined) throw new AjpProtocolError(`unknown response header code 0x${peek.toString(16)}`);
      name = coded;
    } else {
      // Not coded: `peek` was the name's length.
      const n = peek;
      const bytes = r.bytes(n + 1);
      if (bytes[n] !== 0) throw new AjpProtocolError("header name without its NUL terminator");
      name = bytes.toString("latin1", 0, n).toLowerCase();
      if (!isToken(name)) throw new AjpProtocolError("invalid response header name");
    }
    const value = r.string() ?? "";
    if (!isSafeValue(value)) throw new AjpProtocolError("invalid response header value");
    const prev = headers[name];
    if (prev === undefined) headers[name] = value;
    else if (typeof prev === "string") headers[name] = [prev, value];
    else prev.push(value);
  }
  return { status, message, headers };
}
