// AJP settings of a balancer (`backend-protocol: AJP`): packet size and ping from the annotations,
// and the shared secret from the `ajp-secret` Secret's `secret` key, resolved from the settings of
// the Ingress that sets the balancer's settings. Pure. A named Secret that is missing or unusable
// is an error on that Ingress and the balancer fails closed (502): a request is never sent to a
// `secretRequired` connector without its secret, nor with a guessed one.
import { Buffer } from "node:buffer";
import type { AjpBackendConfig, Secret } from "../model/index.js";
import { ajpSecretKey, backendProtocolKey, type BalancerSettingsValue } from "./annotations/index.js";
import type { SecretLookup } from "./backend-tls.js";

/** The key of the secret in an `ajp-secret` Secret. */
export const ajpSecretDataKey = "secret";
/** Longer secrets are refused (Tomcat compares them as strings; httpd caps worker parameters too). */
export const maxAjpSecretBytes = 1024;

export interface BackendAjpResult {
  readonly ajp: AjpBackendConfig | null;
  /** What went wrong with the Secret (an error on the Ingress), no secret at all (a warning), or null. */
  readonly problem: { readonly severity: "error" | "warning"; readonly reason: string; readonly message: string } | null;
}

/** The secret value of an `ajp-secret` Secret, or why there is none. */
export function ajpSecretValue(secret: Secret): { readonly ok: true; readonly value: string } | { readonly ok: false; readonly reason: string } {
  const plain = secret.stringData?.[ajpSecretDataKey];
  const encoded = secret.data[ajpSecretDataKey];
  let text: string;
  if (plain !== undefined) text = plain;
  else if (encoded !== undefined) {
    if (!/^[A-Za-z0-9+/\r\n]*={0,2}[\r\n]*$/.test(encoded)) return { ok: false, reason: `key ${ajpSecretDataKey} is not valid base64` };
    text = Buffer.from(encoded, "base64").toString("latin1");
  } else return { ok: false, reason: `has no key ${ajpSecretDataKey}` };
  // A trailing newline (echo "s3cret" | base64) is not part of the secret.
  text = text.replace(/\r?\n$/, "");
  if (text === "") return { ok: false, reason: `key ${ajpSecretDataKey} is empty` };
  if (text.length > maxAjpSecretBytes) return { ok: false, reason: `key ${ajpSecretDataKey} is longer than ${maxAjpSecretBytes} bytes` };
  if (!/^[\x21-\x7e]+$/.test(text)) return { ok: false, reason: `key ${ajpSecretDataKey} must be printable ASCII without spaces` };
  return { ok: true, value: text };
}

/** The AJP settings of a balancer whose settings come from an Ingress in `namespace`; null for other protocols. */
export function resolveBackendAjp(settings: BalancerSettingsValue, namespace: string, secrets: SecretLookup, balancerId: string): BackendAjpResult {
  if (settings.protocol !== "ajp") return { ajp: null, problem: null };
  const { packetSize, pingMs } = settings.ajp;
  const name = settings.ajp.secret;
  if (name === null) {
    // Served (Tomcat decides: a secretRequired connector answers 403), but said loudly: an AJP
    // connector without a secret is the CVE-2020-1938 ("Ghostcat") exposure.
    const message = `${backendProtocolKey}: AJP without ${ajpSecretKey}: requests to balancer ${balancerId} carry no AJP secret; set ${ajpSecretKey} (and Tomcat's secretRequired="true") in production (CVE-2020-1938, Ghostcat)`;
    return { ajp: { secret: null, packetSize, pingMs, failClosed: false }, problem: { severity: "warning", reason: "AjpSecretNotSet", message } };
  }
  const what = `annotation ${ajpSecretKey}: Secret ${namespace}/${name}`;
  const consequence = `requests to balancer ${balancerId} fail with 502 until it is fixed`;
  const secret = secrets.get(namespace, name);
  if (secret === undefined) return { ajp: { secret: null, packetSize, pingMs, failClosed: true }, problem: { severity: "error", reason: "AjpSecretNotFound", message: `${what} not found; ${consequence}` } };
  const value = ajpSecretValue(secret);
  if (!value.ok) return { ajp: { secret: null, packetSize, pingMs, failClosed: true }, problem: { severity: "error", reason: "AjpSecretInvalid", message: `${what} ${value.reason}; ${consequence}` } };
  return { ajp: { secret: value.value, packetSize, pingMs, failClosed: false }, problem: null };
}
