// IPv4/IPv6 addresses and CIDRs without I/O: parsed once (annotations, flags) into a canonical form,
// and a matcher compiled once per snapshot for the request path (allow-cidrs, deny-cidrs,
// --trusted-proxies). IPv4-mapped IPv6 (::ffff:a.b.c.d), in an address or a CIDR, is the IPv4
// address: a dual-stack listener reports IPv4 peers that way.
//
// Why not node:net BlockList: its check() parses the address into a SocketAddress on every call;
// this matcher parses the address once into numbers and compares masked words
// (test/util/cidr.test.ts has the micro-benchmark of both).

/** A parsed address: IPv4 as one unsigned 32-bit number; IPv6 as four (most significant first). */
export type IpAddress = { readonly family: 4; readonly v4: number } | { readonly family: 6; readonly v6: readonly [number, number, number, number] };

export interface Cidr {
  readonly family: 4 | 6;
  /** Network address (host bits cleared) as 1 (IPv4) or 4 (IPv6) unsigned 32-bit words. */
  readonly words: ReadonlyArray<number>;
  readonly prefix: number;
  /** Canonical text: "10.0.0.0/8", "2001:db8::/32" (IPv4-mapped ones as IPv4). */
  readonly text: string;
}

function parseV4(text: string, from: number, to: number): number {
  let value = 0;
  let octets = 0;
  let i = from;
  while (i <= to) {
    let n = 0;
    let digits = 0;
    const start = i;
    while (i < to) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
      digits++;
      i++;
    }
    // No empty octet, no leading zero (ambiguous octal), at most 255.
    if (digits === 0 || digits > 3 || n > 255 || (digits > 1 && text.charCodeAt(start) === 48)) return -1;
    value = value * 256 + n;
    octets++;
    if (i === to) break;
    if (text.charCodeAt(i) !== 46 /* . */ || octets === 4) return -1;
    i++;
  }
  return octets === 4 ? value : -1;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

const groups = new Uint16Array(8);

/** Fills `groups` with eight 16-bit groups; false when invalid. Accepts "::" compression and a trailing dotted IPv4; no zone. */
function parseV6Groups(text: string): boolean {
  const n = text.length;
  if (n < 2 || n > 45) return false;
  let count = 0;
  /** Index in `groups` where "::" stood, or -1. */
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === 58 /* : */) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    let j = i;
    let hex = 0;
    let digits = 0;
    let c = 0;
    while (j < n) {
      c = text.charCodeAt(j);
      if (c === 58 || c === 46) break;
      const h = hexValue(c);
      if (h === -1 || ++digits > 4) return false;
      hex = hex * 16 + h;
      j++;
    }
    if (j < n && c === 46) {
      // Trailing dotted IPv4: two groups.
      const v4 = parseV4(text, i, n);
      if (v4 === -1 || count > 6) return false;
      groups[count++] = Math.floor(v4 / 65536);
      groups[count++] = v4 % 65536;
      break;
    }
    if (digits === 0 || count === 8) return false;
    groups[count++] = hex;
    if (j === n) break;
    if (text.charCodeAt(j + 1) === 58) {
      if (gap !== -1) return false;
      gap = count;
      i = j + 2;
    } else {
      i = j + 1;
      if (i === n) return false;
    }
  }
  if (gap === -1) return count === 8;
  if (count > 7) return false;
  // Move the groups after the gap to the end, zero-fill the gap.
  const after = count - gap;
  for (let k = 0; k < after; k++) groups[7 - k] = groups[count - 1 - k] as number;
  for (let k = gap; k < 8 - after; k++) groups[k] = 0;
  return true;
}

/** IPv4-mapped (::ffff:a.b.c.d) groups: the IPv4 value, else -1. */
function mappedV4(g: Uint16Array): number {
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) return (g[6] as number) * 65536 + (g[7] as number);
  return -1;
}

/** Parses an IPv4 or IPv6 address (IPv4-mapped IPv6 gives the IPv4 address); null when invalid. */
export function parseIp(text: string): IpAddress | null {
  const family = scanIp(text);
  if (family === 0) return null;
  if (family === 4) return { family: 4, v4: scratch[0] as number };
  return { family: 6, v6: [scratch[0] as number, scratch[1] as number, scratch[2] as number, scratch[3] as number] };
}

/** Words of the last scanIp: IPv4 in [0], IPv6 in [0..3]. */
const scratch = new Uint32Array(4);

/** Parses into `scratch` without allocating: 4, 6, or 0 when invalid. */
function scanIp(text: string): 0 | 4 | 6 {
  if (text.indexOf(":") === -1) {
    const v4 = parseV4(text, 0, text.length);
    if (v4 === -1) return 0;
    scratch[0] = v4;
    return 4;
  }
  if (!parseV6Groups(text)) return 0;
  const m = mappedV4(groups);
  if (m !== -1) {
    scratch[0] = m;
    return 4;
  }
  const g = groups;
  scratch[0] = (g[0] as number) * 65536 + (g[1] as number);
  scratch[1] = (g[2] as number) * 65536 + (g[3] as number);
  scratch[2] = (g[4] as number) * 65536 + (g[5] as number);
  scratch[3] = (g[6] as number) * 65536 + (g[7] as number);
  return 6;
}

/** Mask of the `bits` high bits of a 32-bit word (0-32). */
function maskOf(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

function v4Text(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

function v6Text(words: ReadonlyArray<number>): string {
  const g: number[] = [];
  for (const w of words) g.push(w >>> 16, w & 0xffff);
  // RFC 5952: the longest run (>= 2) of zero groups becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best === -1) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

export class CidrError extends Error {
  readonly code = "PPI_ERR_CIDR";
}

/** Parses "addr" or "addr/prefix" (IPv4 or IPv6; an IPv4-mapped IPv6 network becomes IPv4). Host bits are cleared. */
export function parseCidr(item: string): Cidr {
  const slash = item.indexOf("/");
  const addressText = slash === -1 ? item : item.slice(0, slash);
  const ip = parseIp(addressText);
  if (ip === null) throw new CidrError(`${JSON.stringify(item)} is not an IPv4 or IPv6 address or CIDR`);
  const mappedInput = ip.family === 4 && addressText.indexOf(":") !== -1;
  const max = ip.family === 4 && !mappedInput ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : item.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > max) throw new CidrError(`${JSON.stringify(item)}: prefix length must be 0-${max}`);
  let prefix = Number(prefixText);
  if (mappedInput) {
    if (prefix < 96) throw new CidrError(`${JSON.stringify(item)}: an IPv4-mapped network needs a prefix of at least 96`);
    prefix -= 96;
  }
  if (ip.family === 4) {
    const net = (ip.v4 & maskOf(prefix)) >>> 0;
    return { family: 4, words: [net], prefix, text: `${v4Text(net)}/${prefix}` };
  }
  const words = ip.v6.map((w, k) => (w & maskOf(prefix - 32 * k)) >>> 0);
  return { family: 6, words, prefix, text: `${v6Text(words)}/${prefix}` };
}

/** Parses a comma list of CIDRs (spaces allowed); sorted by canonical text, duplicates removed. Throws CidrError. */
export function parseCidrList(text: string): Cidr[] {
  const out = new Map<string, Cidr>();
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const c = parseCidr(item);
    out.set(c.text, c);
  }
  if (out.size === 0) throw new CidrError("no CIDR given");
  return [...out.values()].sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
}

/**
 * A set of CIDRs compiled for the request path: `contains(address)` parses the address once and
 * compares masked words (linear in the number of CIDRs; lists are short). Built once per snapshot.
 */
export class CidrMatcher {
  /** IPv4: [network, mask] pairs. */
  readonly #v4: Uint32Array;
  /** IPv6: 8 words per CIDR: 4 network words, then 4 mask words. */
  readonly #v6: Uint32Array;
  readonly size: number;

  constructor(cidrs: ReadonlyArray<Cidr | string>) {
    const parsed = cidrs.map((c) => (typeof c === "string" ? parseCidr(c) : c));
    const v4 = parsed.filter((c) => c.family === 4);
    const v6 = parsed.filter((c) => c.family === 6);
    this.#v4 = new Uint32Array(v4.length * 2);
    v4.forEach((c, i) => {
      this.#v4[i * 2] = c.words[0] as number;
      this.#v4[i * 2 + 1] = maskOf(c.prefix);
    });
    this.#v6 = new Uint32Array(v6.length * 8);
    v6.forEach((c, i) => {
      for (let k = 0; k < 4; k++) {
        this.#v6[i * 8 + k] = c.words[k] as number;
        this.#v6[i * 8 + 4 + k] = maskOf(c.prefix - 32 * k);
      }
    });
    this.size = parsed.length;
  }

  /** True when `address` (text, as a socket reports it) is in one of the CIDRs; false when it is not an address. Allocates nothing. */
  contains(address: string): boolean {
    const family = scanIp(address);
    if (family === 4) {
      const t = this.#v4;
      const v = scratch[0] as number;
      for (let i = 0; i < t.length; i += 2) if (((v & (t[i + 1] as number)) >>> 0) === t[i]) return true;
      return false;
    }
    if (family === 0) return false;
    const t = this.#v6;
    const w0 = scratch[0] as number;
    const w1 = scratch[1] as number;
    const w2 = scratch[2] as number;
    const w3 = scratch[3] as number;
    for (let i = 0; i < t.length; i += 8) {
      if (((w0 & (t[i + 4] as number)) >>> 0) === t[i] && ((w1 & (t[i + 5] as number)) >>> 0) === t[i + 1] && ((w2 & (t[i + 6] as number)) >>> 0) === t[i + 2] && ((w3 & (t[i + 7] as number)) >>> 0) === t[i + 3]) return true;
    }
    return false;
  }
}

/** Canonical text of an address (IPv4-mapped IPv6 as IPv4, IPv6 compressed lower-case); null when invalid. */
export function normalizeIp(address: string): string | null {
  const ip = parseIp(address);
  if (ip === null) return null;
  return ip.family === 4 ? v4Text(ip.v4) : v6Text(ip.v6);
}
