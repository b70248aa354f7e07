// Secure contexts of the TLS listener, compiled from each route table's TLS section.
//
// SNI: the server name is looked up as an exact host, then as a one-label wildcard ("*." + the
// name without its first label), else the default certificate (`--default-ssl-certificate`, else
// the self-signed one made at start). A host whose Secret was refused by the builder maps to the
// default certificate too.
//
// Contexts outlive snapshots (STYLE principle 10): they are kept by Secret identity and reused
// while the Secret's PEM text and the protocol settings are unchanged, so applying a route table
// creates contexts only for changed certificates. A new context serves new handshakes only;
// established connections keep the one they negotiated (rotation drops nothing).
//
// Session resumption: every context (and the server's default one) uses the same ticket keys,
// made by the primary and handed to every worker, so a ticket issued by one worker resumes in any
// other (connections are spread by the kernel, SO_REUSEPORT).

import { randomBytes } from "node:crypto";
import { createSecureContext, type SecureContext, type SecureContextOptions } from "node:tls";
import { defaultTlsSettings, type TlsSettings, type TlsTable } from "../model/index.js";
import type { PemPair } from "./certificates.js";

interface CachedContext {
  readonly cert: string;
  readonly key: string;
  readonly settingsKey: string;
  readonly context: SecureContext;
}

/** 48 random bytes: the session ticket keys (name, HMAC key, AES key) of RFC 5077 as OpenSSL wants them. */
export function createTicketKeys(): Buffer {
  return randomBytes(48);
}

function settingsKeyOf(s: TlsSettings): string {
  return `${s.protocols.join(",")}|${s.ciphers}`;
}

/** Context options common to every certificate: protocol range, ciphers, ticket keys. */
export function protocolOptions(settings: TlsSettings, ticketKeys: Buffer): SecureContextOptions {
  const protocols = settings.protocols.length === 0 ? defaultTlsSettings.protocols : settings.protocols;
  return {
    minVersion: protocols.includes("TLSv1.2") ? "TLSv1.2" : "TLSv1.3",
    maxVersion: protocols.includes("TLSv1.3") ? "TLSv1.3" : "TLSv1.2",
    ciphers: settings.ciphers,
    honorCipherOrder: true,
    ticketKeys,
  };
}

export class TlsContexts {
  readonly #ticketKeys: Buffer;
  /** The certificate used when the table names no default (self-signed, made at start). */
  readonly #fallback: PemPair;
  #settings: TlsSettings = defaultTlsSettings;
  #settingsKey = settingsKeyOf(defaultTlsSettings);
  /** Default certificate's PEM currently on the server. */
  #defaultPem: PemPair;
  #exact = new Map<string, SecureContext>();
  #wildcard = new Map<string, SecureContext>();
  /** By Secret ("ns/name"); survives snapshots. */
  #cache = new Map<string, CachedContext>();
  /** Contexts created so far (tests: reuse across snapshots). */
  created = 0;
  /** Secrets of the last table applied whose certificate had expired (served with the default certificate instead). */
  expired: ReadonlyArray<string> = [];

  constructor(fallback: PemPair, ticketKeys: Buffer) {
    this.#fallback = fallback;
    this.#defaultPem = fallback;
    this.#ticketKeys = ticketKeys;
  }

  /** Options of the server's default context (default certificate, protocols, ciphers, ticket keys). */
  defaultOptions(): SecureContextOptions {
    return { ...protocolOptions(this.#settings, this.#ticketKeys), cert: this.#defaultPem.cert, key: this.#defaultPem.key };
  }

  /** The context for an SNI server name; undefined = the server's default context. */
  select(servername: string): SecureContext | undefined {
    const name = servername.toLowerCase();
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    if (this.#wildcard.size !== 0) {
      const dot = name.indexOf(".");
      if (dot > 0) return this.#wildcard.get(name.slice(dot + 1));
    }
    return undefined;
  }

  /** The server's SNICallback. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    cb(null, this.select(servername));
  };

  /**
   * Compiles a table's TLS section (absent: no SNI hosts, default settings). Returns true when the
   * server's default context must be replaced (`defaultOptions()` changed).
   */
  apply(table: TlsTable | undefined, now: number = Date.now()): boolean {
    const expired: string[] = [];
    const settings = table?.settings ?? defaultTlsSettings;
    const settingsKey = settingsKeyOf(settings);
    const settingsChanged = settingsKey !== this.#settingsKey;
    this.#settings = settings;
    this.#settingsKey = settingsKey;
    const certificates = new Map((table?.bundles ?? []).map((c) => [c.id, c] as const));
    const next = new Map<string, CachedContext>();
    const contextOf = (secret: string): SecureContext | undefined => {
      const known = next.get(secret);
      if (known !== undefined) return known.context;
      const c = certificates.get(secret);
      if (c === undefined) return undefined;
      if (Date.parse(c.notAfter) < now) {
        // The builder reads no clock: expiry is judged here, per table applied.
        expired.push(secret);
        return undefined;
      }
      const cached = this.#cache.get(secret);
      if (cached !== undefined && cached.cert === c.cert && cached.key === c.key && cached.settingsKey === settingsKey) {
        next.set(secret, cached);
        return cached.context;
      }
      const context = createSecureContext({ ...protocolOptions(settings, this.#ticketKeys), cert: c.cert, key: c.key });
      this.created++;
      next.set(secret, { cert: c.cert, key: c.key, settingsKey, context });
      return context;
    };
    const exact = new Map<string, SecureContext>();
    const wildcard = new Map<string, SecureContext>();
    for (const h of table?.hosts ?? []) {
      if (h.bundle === null) continue; // the default certificate
      const context = contextOf(h.bundle);
      if (context === undefined) continue;
      if (h.host.startsWith("*.")) wildcard.set(h.host.slice(2), context);
      else exact.set(h.host, context);
    }
    const defaultSecret = table?.defaultCertificate ?? null;
    const defaultCert = defaultSecret === null || contextOf(defaultSecret) === undefined ? undefined : certificates.get(defaultSecret);
    const defaultPem: PemPair = defaultCert === undefined ? this.#fallback : { cert: defaultCert.cert, key: defaultCert.key };
    const defaultChanged = settingsChanged || defaultPem.cert !== this.#defaultPem.cert || defaultPem.key !== this.#defaultPem.key;
    this.#defaultPem = defaultPem;
    this.#exact = exact;
    this.#wildcard = wildcard;
    this.#cache = next;
    this.expired = expired;
    return defaultChanged;
  }
}
