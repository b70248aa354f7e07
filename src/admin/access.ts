// Who may use the protected admin pages (balancer-manager; later server-status and config), and
// what a state-changing request must carry. httpd's docs insist on an ACL in front of
// balancer-manager and guard its forms with a per-process nonce; we do both:
// - a client is allowed when its socket address is in the allow-list (default: loopback only;
//   `--admin-allow-cidrs` replaces it) or it sends `Authorization: Bearer <token>` equal to the
//   `--admin-token-file` token (compared in constant time);
// - a change is a POST carrying the nonce (random at start, in the page's forms and the JSON
//   view) whose Origin, or else Referer, when present, names the Host it was sent to.
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { BlockList, isIPv4, isIPv6 } from "node:net";

/** A bad `--admin-allow-cidrs` entry. */
export class AdminCidrError extends Error {
  readonly code = "PPI_ERR_ADMIN_CIDR";
  constructor(message: string) {
    super(message);
    this.name = "AdminCidrError";
  }
}

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: "ipv4" | "ipv6";
}

/** Loopback clients: the default allow-list. */
export const LOOPBACK_CIDRS = "127.0.0.0/8,::1/128";

/** Parses "10.0.0.0/8,::1,192.168.1.7" (a bare address is a host route); throws AdminCidrError. */
export function parseCidrs(text: string): Cidr[] {
  const out: Cidr[] = [];
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const slash = item.indexOf("/");
    const address = slash === -1 ? item : item.slice(0, slash);
    const family = isIPv4(address) ? "ipv4" : isIPv6(address) ? "ipv6" : null;
    if (family === null) throw new AdminCidrError(`"${item}" is not an IPv4 or IPv6 address or CIDR`);
    const max = family === "ipv4" ? 32 : 128;
    const prefixText = slash === -1 ? String(max) : item.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) throw new AdminCidrError(`"${item}": prefix length must be 0-${max}`);
    out.push({ address, prefix: Number(prefixText), family });
  }
  if (out.length === 0) throw new AdminCidrError("no CIDR given");
  return out;
}

export interface AdminAccessOptions {
  /** Allowed client networks; default loopback (127.0.0.0/8, ::1). */
  readonly allow?: ReadonlyArray<Cidr>;
  /** Bearer token (from `--admin-token-file`); null/undefined = no token access. */
  readonly token?: string | null;
  /** CSRF nonce; default a random UUID. */
  readonly nonce?: string;
}

export interface RequestFacts {
  /** The socket's remote address (never a forwarded header). */
  readonly remoteAddress: string | undefined;
  readonly authorization: string | undefined;
}

export type AccessDecision = { readonly allowed: true; readonly via: "address" | "token" } | { readonly allowed: false; readonly reason: string };

export class AdminAccess {
  readonly nonce: string;
  readonly #list = new BlockList();
  readonly #tokenDigest: Buffer | null;

  constructor(options: AdminAccessOptions = {}) {
    for (const c of options.allow ?? parseCidrs(LOOPBACK_CIDRS)) this.#list.addSubnet(c.address, c.prefix, c.family);
    const token = options.token ?? null;
    this.#tokenDigest = token === null || token === "" ? null : digest(token);
    this.nonce = options.nonce ?? randomUUID();
  }

  /** May this client use the protected pages? */
  check(facts: RequestFacts): AccessDecision {
    const address = facts.remoteAddress;
    if (address !== undefined && this.#addressAllowed(address)) return { allowed: true, via: "address" };
    const auth = facts.authorization;
    if (auth !== undefined && this.#tokenDigest !== null) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (m?.[1] !== undefined && timingSafeEqual(digest(m[1]), this.#tokenDigest)) return { allowed: true, via: "token" };
      return { allowed: false, reason: "bad token" };
    }
    return { allowed: false, reason: "client address not allowed" };
  }

  #addressAllowed(address: string): boolean {
    if (isIPv4(address)) return this.#list.check(address, "ipv4");
    if (!isIPv6(address)) return false;
    // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d: judge it as IPv4.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped?.[1] !== undefined) return this.#list.check(mapped[1], "ipv4");
    return this.#list.check(address, "ipv6");
  }

  /** The nonce of a change request, compared in constant time. */
  nonceMatches(nonce: unknown): boolean {
    return typeof nonce === "string" && nonce.length === this.nonce.length && timingSafeEqual(Buffer.from(nonce), Buffer.from(this.nonce));
  }
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

/**
 * Same-origin check of a change request: Origin (else Referer), when present, must name the Host
 * the request was sent to. Absent both (curl), it passes: the nonce still guards it.
 */
export function isSameOrigin(headers: { readonly origin?: string | undefined; readonly referer?: string | undefined; readonly host?: string | undefined }): boolean {
  const source = headers.origin ?? headers.referer;
  if (source === undefined) return true;
  const host = headers.host;
  if (host === undefined || source === "null") return false;
  try {
    const url = new URL(source);
    return (url.protocol === "http:" || url.protocol === "https:") && url.host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}
