// TLS to a balancer's members (`backend-protocol: HTTPS | GRPCS`): the SNI name, verification and
// the CA bundle of `backend-ca-secret`, resolved from the settings of the Ingress that sets the
// balancer's settings. Pure: the CA PEM is parsed (node:crypto X509Certificate, no I/O) only to
// reject a Secret that holds no usable certificate; expiry is the TLS handshake's business.
import { Buffer } from "node:buffer";
import { X509Certificate } from "node:crypto";
import type { BackendTlsConfig, ClusterView, Secret } from "../model/index.js";
import { backendCaSecretKey, isTlsProtocol, type BalancerSettingsValue } from "./annotations/index.js";

/** The key of the CA bundle in a `backend-ca-secret` Secret (as ingress-nginx's proxy-ssl-secret). */
export const caKey = "ca.crt";
/** A CA bundle larger than this is refused (it travels in every route table). */
export const maxCaBytes = 256 * 1024;

/** Secrets by "namespace/name", indexed on first use (most builds never look one up). */
export class SecretLookup {
  readonly #view: ClusterView;
  #index: Map<string, Secret> | null = null;

  constructor(view: ClusterView) {
    this.#view = view;
  }

  get(namespace: string, name: string): Secret | undefined {
    if (this.#index === null) {
      this.#index = new Map();
      for (const s of this.#view.secrets) this.#index.set(`${s.metadata.namespace}/${s.metadata.name}`, s);
    }
    return this.#index.get(`${namespace}/${name}`);
  }
}

export interface BackendTlsResult {
  readonly tls: BackendTlsConfig | null;
  /** What went wrong with the CA Secret (an error on the Ingress), or null. */
  readonly problem: { readonly reason: string; readonly message: string } | null;
}

const ipv4 = /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/;

/** `host[:port]` or `[v6]:port` -> the DNS name part, or null for an IP literal (SNI carries names only). */
function sniName(hostPort: string): string | null {
  if (hostPort.startsWith("[")) return null;
  const colon = hostPort.lastIndexOf(":");
  const host = (colon === -1 ? hostPort : hostPort.slice(0, colon)).toLowerCase();
  if (host === "" || ipv4.test(host)) return null;
  return host.endsWith(".") ? host.slice(0, -1) : host;
}

/** PEM certificates of a CA Secret, or why there are none. */
export function caBundle(secret: Secret): { readonly ok: true; readonly pem: string } | { readonly ok: false; readonly reason: string } {
  const plain = secret.stringData?.[caKey];
  const encoded = secret.data[caKey];
  let text: string;
  if (plain !== undefined) text = plain;
  else if (encoded !== undefined) {
    if (!/^[A-Za-z0-9+/\r\n]*={0,2}[\r\n]*$/.test(encoded)) return { ok: false, reason: `key ${caKey} is not valid base64` };
    text = Buffer.from(encoded, "base64").toString("latin1");
  } else return { ok: false, reason: `has no key ${caKey}` };
  if (text.length > maxCaBytes) return { ok: false, reason: `key ${caKey} is larger than ${maxCaBytes} bytes` };
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  if (blocks === null) return { ok: false, reason: `key ${caKey} holds no PEM certificate` };
  for (let i = 0; i < blocks.length; i++) {
    try {
      new X509Certificate(blocks[i] as string);
    } catch {
      return { ok: false, reason: `certificate ${i + 1} of key ${caKey} does not parse` };
    }
  }
  return { ok: true, pem: `${blocks.join("\n")}\n` };
}

/**
 * The TLS settings of a balancer whose settings come from an Ingress in `namespace` with these
 * annotation settings and `upstream-vhost`; null for cleartext protocols. `hostHeader` is the
 * balancer's Service DNS name (":port" unless 80) or ExternalName.
 */
export function resolveBackendTls(settings: BalancerSettingsValue, namespace: string, upstreamVhost: string | null, hostHeader: string, secrets: SecretLookup, balancerId: string): BackendTlsResult {
  if (!isTlsProtocol(settings.protocol)) return { tls: null, problem: null };
  const servername = (upstreamVhost === null ? null : sniName(upstreamVhost)) ?? sniName(hostHeader) ?? hostHeader;
  if (!settings.tlsVerify) return { tls: { servername, verify: false, ca: null, failClosed: false }, problem: null };
  if (settings.caSecret === null) return { tls: { servername, verify: true, ca: null, failClosed: false }, problem: null };
  const secret = secrets.get(namespace, settings.caSecret);
  const what = `annotation ${backendCaSecretKey}: Secret ${namespace}/${settings.caSecret}`;
  const consequence = `requests to balancer ${balancerId} fail with 502 (verification fails closed) until it is fixed`;
  if (secret === undefined) {
    return { tls: { servername, verify: true, ca: null, failClosed: true }, problem: { reason: "BackendCASecretNotFound", message: `${what} not found; ${consequence}` } };
  }
  const bundle = caBundle(secret);
  if (!bundle.ok) {
    return { tls: { servername, verify: true, ca: null, failClosed: true }, problem: { reason: "BackendCASecretInvalid", message: `${what} ${bundle.reason}; ${consequence}` } };
  }
  return { tls: { servername, verify: true, ca: bundle.pem, failClosed: false }, problem: null };
}
