// Authentication of admitted Ingresses: reads the htpasswd Secret that `auth-secret` names (its
// `auth` key) into `RouteOptions.auth`. A missing Secret, a missing or undecodable key, or any line
// that is not `user:hash` with a supported hash fails CLOSED: the routes of that Ingress answer
// 503 to every request (as ingress-nginx does for a missing auth Secret) and the Ingress gets an
// error diagnostic (log line, Event, metric). Secrets are read from the Ingress's own namespace
// only: an Ingress author must not be able to put another namespace's credentials in front of
// their routes. Pure: the Secret objects come with the view.
import { Buffer } from "node:buffer";
import { z } from "zod";
import type { AuthConfig, BasicAuthConfig, Diagnostic, HtpasswdEntry, RouteOptions, Secret } from "../model/index.js";
import type { AdmittedIngress } from "./admit.js";
import type { AuthValue } from "./annotations/index.js";
import type { BuildCache } from "./cache.js";
import type { DiagnosticList } from "./diagnostics.js";

/** Key of the htpasswd text in the Secret (ingress-nginx's `auth-secret-type: auth-file`). */
export const htpasswdKey = "auth";
export const maxHtpasswdUsers = 10_000;
/** bcrypt costs above this take seconds per check in JavaScript: refused (htpasswd -B defaults to 5). */
export const maxBcryptCost = 12;

/** What one Ingress's auth resolved to, valid for the same options object and Secret object. */
export interface AuthEntry {
  readonly base: RouteOptions;
  readonly auth: AuthValue;
  readonly secret: Secret | undefined;
  readonly options: RouteOptions;
  readonly diagnostics: ReadonlyArray<Diagnostic>;
}

const bcryptPattern = /^\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{53}$/;
const apr1Pattern = /^\$apr1\$[./0-9A-Za-z]{1,8}\$[./0-9A-Za-z]{22}$/;
const shaPattern = /^\{SHA\}[A-Za-z0-9+/]{27}=$/;

/** One `user:hash` line. */
const htpasswdLineSchema = z.string().transform((line, ctx): HtpasswdEntry => {
  const fail = (message: string): never => {
    ctx.addIssue({ code: "custom", message });
    return z.NEVER;
  };
  const colon = line.indexOf(":");
  if (colon <= 0) return fail('is not "user:hash"');
  const user = line.slice(0, colon);
  const hash = line.slice(colon + 1);
  if (user.length > 255 || hasControl(user)) return fail("has a user name with control characters or longer than 255 characters");
  const bcrypt = bcryptPattern.exec(hash);
  if (bcrypt !== null) {
    const cost = Number(bcrypt[1]);
    if (cost < 4 || cost > maxBcryptCost) return fail(`user ${JSON.stringify(user)}: bcrypt cost ${cost} is outside 4-${maxBcryptCost} (a higher cost takes seconds per request)`);
    return { user, hash };
  }
  if (apr1Pattern.test(hash) || shaPattern.test(hash)) return { user, hash };
  const kind = hash.startsWith("$1$") ? "MD5-crypt ($1$)" : hash.startsWith("$5$") || hash.startsWith("$6$") ? "SHA-crypt ($5$/$6$)" : /^[./0-9A-Za-z]{13}$/.test(hash) ? "DES crypt" : "plain text or unknown";
  return fail(`user ${JSON.stringify(user)}: unsupported password hash (${kind}); use bcrypt (htpasswd -B), $apr1$ (htpasswd -m) or {SHA} (htpasswd -s)`);
});

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

type HtpasswdParse = { readonly ok: true; readonly entries: ReadonlyArray<HtpasswdEntry>; readonly duplicates: ReadonlyArray<string> } | { readonly ok: false; readonly reason: string };

/** Parses htpasswd text: one `user:hash` per line; blank lines and `#` comments skipped; the first line of a user wins (httpd). Sorted by user. */
export function parseHtpasswd(text: string): HtpasswdParse {
  const entries = new Map<string, HtpasswdEntry>();
  const duplicates = new Set<string>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const parsed = htpasswdLineSchema.safeParse(line);
    if (!parsed.success) return { ok: false, reason: `line ${i + 1} ${parsed.error.issues[0]?.message ?? "is invalid"}` };
    if (entries.has(parsed.data.user)) duplicates.add(parsed.data.user);
    else entries.set(parsed.data.user, parsed.data);
    if (entries.size > maxHtpasswdUsers) return { ok: false, reason: `more than ${maxHtpasswdUsers} users` };
  }
  if (entries.size === 0) return { ok: false, reason: "no user lines" };
  const sorted = [...entries.values()].sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
  return { ok: true, entries: sorted, duplicates: [...duplicates].sort() };
}

const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The text of a Secret's key: `data` (base64, as the API server gives it), else `stringData` (manifest files). */
export function secretText(secret: Secret, key: string): { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: string } {
  const encoded = secret.data[key];
  if (encoded !== undefined) {
    const compact = encoded.replace(/\s+/g, "");
    if (compact.length % 4 !== 0 || !base64Pattern.test(compact)) return { ok: false, reason: `key ${JSON.stringify(key)} is not valid base64` };
    try {
      return { ok: true, text: utf8.decode(Buffer.from(compact, "base64")) };
    } catch {
      return { ok: false, reason: `key ${JSON.stringify(key)} is not UTF-8 text` };
    }
  }
  const plain = secret.stringData?.[key];
  if (plain !== undefined) return { ok: true, text: plain };
  return { ok: false, reason: `has no ${JSON.stringify(key)} key` };
}

/** Secrets by "namespace/name". */
export function indexSecrets(secrets: ReadonlyArray<Secret>): ReadonlyMap<string, Secret> {
  const map = new Map<string, Secret>();
  for (const s of secrets) map.set(`${s.metadata.namespace}/${s.metadata.name}`, s);
  return map;
}

/**
 * The admitted Ingresses with `options.auth` resolved; the others unchanged (same objects). An
 * Ingress whose options and Secret are the previous build's objects keeps its resolved options
 * object (so its routes are reused too).
 */
export function resolveAuth(admitted: ReadonlyArray<AdmittedIngress>, secrets: ReadonlyArray<Secret>, diagnostics: DiagnosticList, prev: BuildCache | null, next: BuildCache): AdmittedIngress[] {
  let index: ReadonlyMap<string, Secret> | null = null;
  const out: AdmittedIngress[] = [];
  for (const a of admitted) {
    const auth = a.auth;
    if (auth.basic === null && auth.external === null) {
      out.push(a);
      continue;
    }
    const ns = a.ingress.metadata.namespace;
    const ref = auth.basic === null ? null : secretRef(ns, auth.basic.secret);
    index ??= indexSecrets(secrets);
    const secret = ref === null || ref.key === null ? undefined : index.get(ref.key);
    const known = prev?.auth.get(a.ref);
    const entry = known !== undefined && known.base === a.options && known.auth === auth && known.secret === secret ? known : resolveOne(a, auth, ref, secret);
    next.auth.set(a.ref, entry);
    for (const d of entry.diagnostics) diagnostics.add(d);
    out.push({ ...a, options: entry.options });
  }
  return out;
}

interface SecretRef {
  /** "namespace/name", or null when the reference names another namespace. */
  readonly key: string | null;
  readonly text: string;
}

function secretRef(ns: string, value: string): SecretRef {
  const slash = value.indexOf("/");
  if (slash === -1) return { key: `${ns}/${value}`, text: `${ns}/${value}` };
  return { key: value.slice(0, slash) === ns ? value : null, text: value };
}

function resolveOne(a: AdmittedIngress, auth: AuthValue, ref: SecretRef | null, secret: Secret | undefined): AuthEntry {
  const diagnostics: Diagnostic[] = [];
  const report = (severity: Diagnostic["severity"], reason: string, message: string): void => void diagnostics.push({ severity, kind: "Ingress", object: a.ref, reason, message });
  let basic: BasicAuthConfig | null = null;
  if (auth.basic !== null && ref !== null) {
    const closed = "; its routes answer 503 until it is fixed (fail closed)";
    let htpasswd: ReadonlyArray<HtpasswdEntry> | null = null;
    if (ref.key === null) {
      report("error", "AuthSecretInvalid", `auth-secret ${JSON.stringify(ref.text)} names another namespace; only Secrets of the Ingress's own namespace are read${closed}`);
    } else if (secret === undefined) {
      report("error", "AuthSecretNotFound", `auth-secret Secret ${ref.key} not found${closed}`);
    } else {
      const text = secretText(secret, htpasswdKey);
      const parsed = text.ok ? parseHtpasswd(text.text) : null;
      if (!text.ok) report("error", "AuthSecretInvalid", `auth-secret Secret ${ref.key} ${text.reason}${closed}`);
      else if (parsed !== null && !parsed.ok) report("error", "AuthSecretInvalid", `auth-secret Secret ${ref.key}, key "auth": ${parsed.reason}${closed}`);
      else if (parsed !== null && parsed.ok) {
        htpasswd = parsed.entries;
        if (parsed.duplicates.length > 0) report("warning", "AuthDuplicateUser", `auth-secret Secret ${ref.key}: users listed more than once (the first line wins): ${parsed.duplicates.map((u) => JSON.stringify(u)).join(", ")}`);
      }
    }
    basic = { realm: auth.basic.realm, htpasswd };
  }
  const config: AuthConfig = { basic, external: auth.external };
  return { base: a.options, auth, secret, options: { ...a.options, auth: config }, diagnostics };
}
