// TLS section of the route table: which host names are served with which certificate, from the
// served Ingresses' `spec.tls[]` (hosts + secretName, a `kubernetes.io/tls` Secret in the
// Ingress's namespace), `--default-ssl-certificate`, and the `ssl-protocols`/`ssl-ciphers`
// ConfigMap keys.
//
// Each Secret is validated here (pure: parsing and checks only, no clock): `tls.crt` must hold one
// or more PEM certificates (leaf first, then its chain), `tls.key` one PEM private key (RSA or
// ECDSA, PKCS#1/SEC1/PKCS#8) matching the leaf. A missing, malformed or mismatched Secret is an
// error diagnostic on the Ingress (an Event) and its hosts are served with the default
// certificate; nothing else of the configuration changes. Validity dates are not judged here (the
// builder reads no clock): the data plane checks `notAfter` when it compiles a table and serves the
// default certificate for an expired one, with a warning in its log (tls.ts in the data plane).
//
// Hosts: exact or one-label wildcard, lower-case; the same host in two Ingresses goes to the oldest
// (the order of `admitted`), the other gets a warning. A `spec.tls` entry without hosts names no
// host (like ingress-nginx, it does not apply to the rules' hosts); without secretName its hosts use
// the default certificate.
//
// Results per Secret are kept in the build cache by Secret object, so a build re-parses only
// Secrets that changed.

import { Buffer } from "node:buffer";
import { X509Certificate, createHash, createPrivateKey } from "node:crypto";
import { defaultTlsSettings, type Ingress, type Secret, type TlsCertificate, type TlsHost, type TlsProtocol, type TlsSettings, type TlsTable } from "../model/index.js";
import type { DiagnosticList } from "./diagnostics.js";
import { checkRuleHost } from "./host.js";
import { compareText } from "./order.js";

export type SecretCheck = { readonly ok: true; readonly certificate: TlsCertificate } | { readonly ok: false; readonly reason: string };

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function field(secret: Secret, key: string): string | null {
  const plain = secret.stringData?.[key];
  if (plain !== undefined) return plain;
  const encoded = secret.data[key];
  if (encoded === undefined) return null;
  if (!/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(encoded)) return null;
  return Buffer.from(encoded, "base64").toString("utf8");
}

/** Validates a `kubernetes.io/tls` Secret into a certificate, or says why it cannot be used. */
export function checkTlsSecret(secret: Secret): SecretCheck {
  const ref = `${secret.metadata.namespace}/${secret.metadata.name}`;
  if (secret.type !== "kubernetes.io/tls") return { ok: false, reason: `type is ${JSON.stringify(secret.type)}, not "kubernetes.io/tls"` };
  const cert = field(secret, "tls.crt");
  const key = field(secret, "tls.key");
  if (cert === null || cert.trim() === "") return { ok: false, reason: "tls.crt is missing or not base64" };
  if (key === null || key.trim() === "") return { ok: false, reason: "tls.key is missing or not base64" };
  const pems = cert.match(PEM_CERT) ?? [];
  if (pems.length === 0) return { ok: false, reason: "tls.crt holds no PEM certificate" };
  let chain: X509Certificate[];
  try {
    chain = pems.map((p) => new X509Certificate(p));
  } catch {
    return { ok: false, reason: "tls.crt holds a certificate that does not parse" };
  }
  let privateKey;
  try {
    privateKey = createPrivateKey({ key, format: "pem" });
  } catch {
    return { ok: false, reason: "tls.key is not a PEM private key (RSA or ECDSA) without passphrase" };
  }
  const leaf = chain[0] as X509Certificate;
  if (!leaf.checkPrivateKey(privateKey)) return { ok: false, reason: "tls.key does not match the first certificate of tls.crt" };
  for (let i = 1; i < chain.length; i++) {
    if (!(chain[i - 1] as X509Certificate).checkIssued(chain[i] as X509Certificate)) return { ok: false, reason: `tls.crt: certificate ${i + 1} did not issue certificate ${i} (the chain must be leaf first, then each issuer)` };
  }
  const fingerprint = createHash("sha256").update(leaf.raw).digest("hex");
  return { ok: true, certificate: { id: ref, cert: `${pems.join("\n")}\n`, key: key.endsWith("\n") ? key : `${key}\n`, fingerprint, notAfter: leaf.validToDate.toISOString() } };
}

/** ConfigMap keys of the TLS listener (validated with the server settings' rules, server-settings.ts). */
export const sslProtocolsSetting = "ssl-protocols";
export const sslCiphersSetting = "ssl-ciphers";
export const hstsSetting = "hsts";
export const hstsMaxAgeSetting = "hsts-max-age";
export const hstsIncludeSubdomainsSetting = "hsts-include-subdomains";
export const hstsPreloadSetting = "hsts-preload";
export const sslRedirectPortSetting = "ssl-redirect-port";

/** `ssl-protocols`: space-separated, from TLSv1.2 and TLSv1.3 (ingress-nginx's syntax; older versions are refused). */
export function parseSslProtocols(value: string): ReadonlyArray<TlsProtocol> | string {
  if (!/^[A-Za-z0-9. ]*$/.test(value)) return "must be TLSv1.2 and/or TLSv1.3, separated by spaces";
  const words = value.split(/\s+/).filter((w) => w !== "");
  if (words.length === 0) return "must name at least one of TLSv1.2, TLSv1.3";
  const out = new Set<TlsProtocol>();
  for (const w of words) {
    if (w !== "TLSv1.2" && w !== "TLSv1.3") return `${JSON.stringify(w)}: only TLSv1.2 and TLSv1.3 are supported (space-separated)`;
    out.add(w);
  }
  return [...out].sort();
}

/** `ssl-ciphers`: an OpenSSL cipher list (TLS 1.2); letters, digits and `-+!:@=_.,` only. */
export function parseSslCiphers(value: string): string | { readonly error: string } {
  const v = value;
  if (v === "" || v.length > 2048 || !/^[A-Za-z0-9\-+!:@=_.,]+$/.test(v)) return { error: "must be an OpenSSL cipher list like ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256 (letters, digits and - + ! : @ = _ . , only)" };
  return v;
}

/** TLS settings from the valid ConfigMap values in effect. */
export function tlsSettingsOf(values: Readonly<Record<string, string>>): TlsSettings {
  const p = values[sslProtocolsSetting];
  const c = values[sslCiphersSetting];
  const protocols = p === undefined ? defaultTlsSettings.protocols : parseSslProtocols(p);
  const ciphers = c === undefined ? defaultTlsSettings.ciphers : parseSslCiphers(c);
  const d = defaultTlsSettings.hsts;
  const flag = (key: string, fallback: boolean): boolean => (values[key] === undefined ? fallback : values[key] === "true");
  const maxAge = values[hstsMaxAgeSetting];
  const hsts =
    values[hstsSetting] === undefined && maxAge === undefined && values[hstsIncludeSubdomainsSetting] === undefined && values[hstsPreloadSetting] === undefined
      ? d
      : {
          enabled: flag(hstsSetting, d.enabled),
          maxAge: maxAge === undefined ? d.maxAge : Number(maxAge),
          includeSubdomains: flag(hstsIncludeSubdomainsSetting, d.includeSubdomains),
          preload: flag(hstsPreloadSetting, d.preload),
        };
  const port = values[sslRedirectPortSetting];
  return {
    protocols: typeof protocols === "string" ? defaultTlsSettings.protocols : protocols,
    ciphers: typeof ciphers === "string" ? ciphers : defaultTlsSettings.ciphers,
    hsts,
    // Only when set, so tables without the key stay as they were.
    ...(port === undefined || Number(port) === 443 ? {} : { redirectPort: Number(port) }),
  };
}

/** Secret checks of the previous build, by "ns/name", reused while the Secret object is the same. */
export type SecretChecks = Map<string, { readonly secret: Secret; readonly check: SecretCheck }>;

export interface TlsInput {
  /** Served Ingresses, oldest first, with their "ns/name". */
  readonly ingresses: ReadonlyArray<{ readonly ref: string; readonly ingress: Ingress }>;
  readonly secrets: ReadonlyMap<string, Secret>;
  /** `--default-ssl-certificate` ("ns/name"), or null. */
  readonly defaultCertificate: string | null;
  readonly settings: TlsSettings;
  readonly prevChecks: SecretChecks | null;
  readonly nextChecks: SecretChecks;
  /** The build's clock (BuildSettings.now): certificates whose notAfter is not after it are refused as expired; null = not judged. */
  readonly now?: string | null;
}

/** The expiry of a certificate at `now`, as a reason, or null while it is valid (or `now` is unknown). */
function expired(certificate: TlsCertificate, now: string | null | undefined): string | null {
  if (now === undefined || now === null) return null;
  // Both are toISOString() text (fixed width, UTC): string order is time order.
  return certificate.notAfter <= now ? `certificate expired at ${certificate.notAfter}` : null;
}

export function buildTlsTable(input: TlsInput, diagnostics: DiagnosticList): TlsTable {
  const certificates = new Map<string, TlsCertificate>();
  const check = (ref: string): SecretCheck | null => {
    const secret = input.secrets.get(ref);
    if (secret === undefined) return null;
    const prev = input.prevChecks?.get(ref);
    const result = prev !== undefined && prev.secret === secret ? prev.check : checkTlsSecret(secret);
    input.nextChecks.set(ref, { secret, check: result });
    if (result.ok) certificates.set(ref, result.certificate);
    return result;
  };
  const hosts = new Map<string, { readonly host: string; readonly bundle: string | null; readonly ingress: string }>();
  for (const { ref, ingress } of input.ingresses) {
    const ns = ingress.metadata.namespace;
    for (const [i, entry] of ingress.spec.tls.entries()) {
      let secret: string | null = null;
      if (entry.secretName !== undefined && entry.secretName !== "") {
        const secretRef = `${ns}/${entry.secretName}`;
        const result = check(secretRef);
        if (result === null) diagnostics.ingress(ref, "error", "TLSSecretNotFound", `spec.tls[${i}]: Secret ${secretRef} not found; its hosts are served with the default certificate`);
        else if (!result.ok) diagnostics.ingress(ref, "error", "InvalidTLSSecret", `spec.tls[${i}]: Secret ${secretRef}: ${result.reason}; its hosts are served with the default certificate`);
        else {
          const why = expired(result.certificate, input.now);
          if (why !== null) diagnostics.ingress(ref, "error", "TLSCertificateExpired", `spec.tls[${i}]: Secret ${secretRef}: ${why}; its hosts are served with the default certificate`);
          else secret = secretRef;
        }
      }
      for (const [j, raw] of entry.hosts.entries()) {
        const checked = checkRuleHost(raw);
        if (!checked.ok) {
          diagnostics.ingress(ref, "error", "InvalidHost", `spec.tls[${i}].hosts[${j}] ${JSON.stringify(raw)}: ${checked.reason}; not served over TLS by name`);
          continue;
        }
        const host = checked.host;
        const winner = hosts.get(host);
        if (winner !== undefined) {
          if (winner.ingress !== ref && winner.bundle !== secret) diagnostics.ingress(ref, "warning", "TLSHostConflict", `spec.tls[${i}]: host ${JSON.stringify(host)} already has a certificate from Ingress ${winner.ingress} (older); this one is ignored`);
          continue;
        }
        hosts.set(host, { host, bundle: secret, ingress: ref });
      }
    }
  }
  let defaultCertificate: string | null = null;
  if (input.defaultCertificate !== null) {
    const result = check(input.defaultCertificate);
    const object = input.defaultCertificate;
    if (result === null) diagnostics.add({ severity: "error", kind: "Secret", object, reason: "DefaultCertificateNotFound", message: `--default-ssl-certificate: Secret ${object} not found; the self-signed certificate is the default` });
    else if (!result.ok) diagnostics.add({ severity: "error", kind: "Secret", object, reason: "InvalidDefaultCertificate", message: `--default-ssl-certificate: Secret ${object}: ${result.reason}; the self-signed certificate is the default` });
    else {
      const why = expired(result.certificate, input.now);
      if (why !== null) diagnostics.add({ severity: "error", kind: "Secret", object, reason: "DefaultCertificateExpired", message: `--default-ssl-certificate: Secret ${object}: ${why}; the self-signed certificate is the default` });
      else defaultCertificate = input.defaultCertificate;
    }
  }
  // Only certificates something uses.
  const used = new Set<string>();
  for (const h of hosts.values()) if (h.bundle !== null) used.add(h.bundle);
  if (defaultCertificate !== null) used.add(defaultCertificate);
  return {
    bundles: [...certificates.values()].filter((c) => used.has(c.id)).sort((a, b) => compareText(a.id, b.id)),
    hosts: [...hosts.values()].map((h): TlsHost => ({ host: h.host, bundle: h.bundle })).sort((a, b) => compareText(a.host, b.host)),
    defaultCertificate,
    settings: input.settings,
  };
}
