// `/config`: the live snapshot as JSON — route table (virtual hosts, routes, server settings),
// balancer configs and their members — sanitized so no Secret data or key material ever leaves
// the process. The TLS section carries certificates and keys from Secrets: any field whose name
// says it holds secret material, and any string that looks like PEM, becomes "[redacted]"; so do a route's basic-auth `htpasswd` entries
// (test/dataplane/tls-sni.test.ts checks no key material is shown).
import type { EndpointTable, RouteTable, RuntimeState } from "../model/index.js";

export const CONFIG_PATH = "/config";
export const REDACTED = "[redacted]";

/**
 * Field names whose values are secret material (certificates and keys, passwords, tokens, AJP
 * secrets, htpasswd data). Member identities named `key` ("address:port") are not secret and
 * stay. Matched case-insensitively against the whole name.
 */
const SECRET_FIELD = /^(?:.*(?:secret|password|passwd|token|htpasswd|private|credential)s?.*|cert|certs|certificate|certificates|crt|tls\.crt|tls\.key|ca\.crt|ca|cabundle|chain|pem|privatekey|keydata|keypem|keymaterial|auth)$/i;
const PEM = /-----BEGIN [A-Z0-9 ]+-----/;
/** A field name (not a data key such as a balancer id "ns/svc:80" or a member "10.0.0.1:8080"). */
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;
/** Header rules (`request-headers`) setting credentials: their value is redacted, the rule stays. */
const SENSITIVE_HEADER = /authorization|cookie|token|secret|password|api-?key/i;

/** A deep copy of `value` with secret fields and PEM-looking strings redacted. */
export function sanitize(value: unknown): unknown {
  if (typeof value === "string") return PEM.test(value) ? REDACTED : value;
  if (Array.isArray(value)) return value.map((v) => sanitize(v));
  if (value === null || typeof value !== "object") return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return REDACTED; // key material in a buffer
  const record = value as Record<string, unknown>;
  const header = typeof record["op"] === "string" && typeof record["name"] === "string" && "value" in record && SENSITIVE_HEADER.test(record["name"]);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) {
    // A route's `auth` settings object is shown (realm, auth-url), its `htpasswd` entries are not;
    // an `auth` string (an htpasswd file) is redacted.
    const settings = k === "auth" && typeof v === "object" && !Array.isArray(v) && !ArrayBuffer.isView(v);
    if (v !== null && !settings && ((FIELD_NAME.test(k) && SECRET_FIELD.test(k)) || (header && k === "value" && v !== ""))) out[k] = REDACTED;
    else out[k] = sanitize(v);
  }
  return out;
}

export interface ConfigViewSource {
  /** The live snapshot (Reconciler.published fits); null before the first. */
  snapshot(): { readonly version: string; readonly routes: RouteTable; readonly endpoints: EndpointTable } | null;
  /** balancer-manager overrides in effect (RuntimeStateStore.current fits); absent = not shown. */
  runtime?(): RuntimeState;
}

/** The /config document: members grouped under their balancer's config. */
export function renderConfig(source: ConfigViewSource): string {
  const snapshot = source.snapshot();
  if (snapshot === null) return `${JSON.stringify({ live: false }, null, 1)}\n`;
  const members = new Map(snapshot.endpoints.balancers.map((b) => [b.balancer, b.members] as const));
  const doc = {
    live: true,
    version: snapshot.version,
    routes: {
      version: snapshot.routes.version,
      server: snapshot.routes.server ?? null,
      tls: snapshot.routes.tls ?? null,
      virtualHosts: snapshot.routes.virtualHosts,
      defaultRoute: snapshot.routes.defaultRoute,
    },
    endpoints: { version: snapshot.endpoints.version },
    balancers: snapshot.routes.balancers.map((b) => ({ ...b, members: members.get(b.id) ?? [] })),
    ...(source.runtime !== undefined ? { runtime: source.runtime() } : {}),
  };
  return `${JSON.stringify(sanitize(doc), null, 1)}\n`;
}
