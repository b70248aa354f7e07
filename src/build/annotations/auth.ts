// Authentication annotations (issue #5): basic auth from an htpasswd Secret (httpd AuthType Basic,
// AuthUserFile, AuthName) and external auth (a subrequest to `auth-url`, like ingress-nginx's
// auth-url / nginx auth_request). This module validates the annotations only; the Secret named by
// `auth-secret` is read and its htpasswd parsed by ../auth.ts, which needs the cluster view.
import { z } from "zod";
import { parseWithSchema, type AnnotationDoc, type AnnotationFamily, type Annotations, type AnnotationParse } from "./family.js";

export const authTypeKey = "proxypass.io/auth-type";
export const authSecretKey = "proxypass.io/auth-secret";
export const authRealmKey = "proxypass.io/auth-realm";
export const authUrlKey = "proxypass.io/auth-url";
export const authResponseHeadersKey = "proxypass.io/auth-response-headers";
export const authTimeoutKey = "proxypass.io/auth-timeout";
export const authKeys: ReadonlyArray<string> = [authTypeKey, authSecretKey, authRealmKey, authUrlKey, authResponseHeadersKey, authTimeoutKey];
/** Keys only an Ingress can set (refused as ConfigMap defaults): a Secret or an auth service is specific to an Ingress. */
export const authPerIngressKeys: ReadonlyArray<string> = [authTypeKey, authSecretKey, authRealmKey, authUrlKey, authResponseHeadersKey];

export const defaultAuthRealm = "Authentication Required";
export const defaultAuthTimeoutMs = 5_000;
export const maxAuthTimeoutSeconds = 60;
export const maxAuthResponseHeaders = 32;
export const maxAuthUrlLength = 2048;
export const maxRealmLength = 128;

/** `auth-type: basic` + `auth-secret`, before the Secret is read. */
export interface BasicAuthValue {
  /** Secret name in the Ingress's namespace ("name", or "namespace/name" naming that same namespace: checked by ../auth.ts). */
  readonly secret: string;
  readonly realm: string;
}

export interface ExternalAuthValue {
  readonly url: string;
  readonly responseHeaders: ReadonlyArray<string>;
  readonly timeoutMs: number;
}

export interface AuthValue {
  readonly basic: BasicAuthValue | null;
  readonly external: ExternalAuthValue | null;
}

export const noAuth: AuthValue = Object.freeze({ basic: null, external: null });

/** RFC 9110 token. */
const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** DNS-1123 subdomain (a Secret name), optionally "namespace/" before it. */
const secretRefPattern = /^(?:[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/)?[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** Headers the proxy owns (framing, hop-by-hop, routing) or that identify the client to the member: never taken from an auth response. */
const refusedResponseHeaders: ReadonlyMap<string, string> = new Map([
  ["host", "it routes the request"],
  ["content-length", "it frames the message"],
  ["transfer-encoding", "it frames the message"],
  ["connection", "it is hop-by-hop"],
  ["keep-alive", "it is hop-by-hop"],
  ["proxy-connection", "it is hop-by-hop"],
  ["te", "it is hop-by-hop"],
  ["trailer", "it is hop-by-hop"],
  ["upgrade", "it is hop-by-hop"],
  ["proxy-authenticate", "it is hop-by-hop"],
  ["proxy-authorization", "it is hop-by-hop"],
  ["x-forwarded-for", "the proxy writes it"],
  ["x-forwarded-proto", "the proxy writes it"],
  ["x-forwarded-host", "the proxy writes it"],
  ["x-forwarded-port", "the proxy writes it"],
  ["x-request-id", "the proxy writes it"],
  ["via", "the proxy writes it"],
]);

const secretSchema = z
  .string()
  .transform((s) => s.trim())
  .pipe(z.string().regex(secretRefPattern, 'must name a Secret: "name" (in the Ingress\'s namespace) or "namespace/name" of that same namespace'));

const realmSchema = z
  .string()
  .max(maxRealmLength, `must be at most ${maxRealmLength} characters`)
  .regex(/^[\x20-\x7e]*$/, "must be printable ASCII (no control characters)");

const urlSchema = z.string().transform((text, ctx): string => {
  const fail = (message: string): never => {
    ctx.addIssue({ code: "custom", message });
    return z.NEVER;
  };
  const value = text.trim();
  if (value.length > maxAuthUrlLength) return fail(`must be at most ${maxAuthUrlLength} characters`);
  if (!/^[\x21-\x7e]+$/.test(value)) return fail("must be an absolute http or https URL without spaces or control characters");
  if (value.includes("$")) return fail('"$" is refused: the URL is used as written, nothing is interpolated (no nginx variables)');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail("must be an absolute http or https URL, e.g. http://auth.auth-system.svc.cluster.local/check");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return fail("must be an http or https URL");
  if (url.username !== "" || url.password !== "") return fail("must not carry credentials (user:password@); the auth service gets the client's Authorization header");
  if (url.hash !== "") return fail("must not have a #fragment");
  if (url.hostname === "") return fail("must name a host");
  return url.href;
});

const responseHeadersSchema = z.string().transform((text, ctx): ReadonlyArray<string> => {
  const names = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const fail = (message: string): never => {
    ctx.addIssue({ code: "custom", message });
    return z.NEVER;
  };
  if (names.length > maxAuthResponseHeaders) return fail(`at most ${maxAuthResponseHeaders} header names`);
  const out = new Set<string>();
  for (const name of names) {
    if (name.length > 64 || !tokenPattern.test(name)) return fail(`${JSON.stringify(name.slice(0, 64))} is not a header name (an RFC 9110 token of at most 64 characters)`);
    const lower = name.toLowerCase();
    const why = refusedResponseHeaders.get(lower);
    if (why !== undefined) return fail(`header ${lower} cannot be copied from the auth response: ${why}`);
    out.add(lower);
  }
  return [...out].sort();
});

const timeoutSchema = z
  .string()
  .regex(/^[0-9]{1,2}(\.[0-9]{1,3})?$/, `must be seconds as a decimal number like "5" or "0.5", from 0.1 to ${maxAuthTimeoutSeconds}`)
  .transform(Number)
  .refine((s) => s >= 0.1 && s <= maxAuthTimeoutSeconds, `must be from 0.1 to ${maxAuthTimeoutSeconds} seconds`)
  .transform((s) => Math.round(s * 1000));

export const authSchema = z
  .object({
    [authTypeKey]: z.enum(["basic"], 'must be "basic" (digest authentication is not supported)').optional(),
    [authSecretKey]: secretSchema.optional(),
    [authRealmKey]: realmSchema.optional(),
    [authUrlKey]: urlSchema.optional(),
    [authResponseHeadersKey]: responseHeadersSchema.optional(),
    [authTimeoutKey]: timeoutSchema.optional(),
  })
  .superRefine((v, ctx) => {
    // Half a configuration would leave the route open while its author believes it protected: refuse it.
    if (v[authTypeKey] !== undefined && v[authSecretKey] === undefined) ctx.addIssue({ code: "custom", path: [authTypeKey], message: `needs ${authSecretKey} (the Secret with the htpasswd "auth" key)` });
    if (v[authTypeKey] === undefined && v[authSecretKey] !== undefined) ctx.addIssue({ code: "custom", path: [authSecretKey], message: `needs ${authTypeKey}: basic` });
    if (v[authTypeKey] === undefined && v[authRealmKey] !== undefined) ctx.addIssue({ code: "custom", path: [authRealmKey], message: `needs ${authTypeKey}: basic` });
    if (v[authUrlKey] === undefined && v[authResponseHeadersKey] !== undefined) ctx.addIssue({ code: "custom", path: [authResponseHeadersKey], message: `needs ${authUrlKey}` });
  })
  .transform((v): AuthValue => {
    const type = v[authTypeKey];
    const secret = v[authSecretKey];
    const url = v[authUrlKey];
    if (type === undefined && url === undefined) return noAuth;
    return {
      basic: type === "basic" && secret !== undefined ? { secret, realm: v[authRealmKey] ?? defaultAuthRealm } : null,
      external: url === undefined ? null : { url, responseHeaders: v[authResponseHeadersKey] ?? [], timeoutMs: v[authTimeoutKey] ?? defaultAuthTimeoutMs },
    };
  });

export const authDocs: ReadonlyArray<AnnotationDoc> = [
  { key: authTypeKey, values: "basic", default: "none", description: "HTTP basic authentication (httpd AuthType Basic) against the htpasswd of auth-secret; 401 with WWW-Authenticate without valid credentials; per Ingress only" },
  {
    key: authSecretKey,
    values: "Secret name (or NAMESPACE/NAME of the Ingress's own namespace)",
    default: "none",
    description: "Secret whose `auth` key is an htpasswd file (bcrypt, $apr1$ MD5, {SHA}) (AuthUserFile); missing or invalid -> 503 for every request and an Event; per Ingress only",
  },
  { key: authRealmKey, values: "printable ASCII, at most 128 characters", default: defaultAuthRealm, description: "realm in WWW-Authenticate (AuthName); per Ingress only" },
  {
    key: authUrlKey,
    values: "absolute http(s) URL, no credentials, nothing interpolated",
    default: "none",
    description: "external auth: a GET subrequest per request with X-Original-URL/-Method and the client's Authorization and Cookie; 2xx admits, 401/403 are passed to the client, anything else (or no answer) -> 503; per Ingress only",
  },
  { key: authResponseHeadersKey, values: "comma header names", default: "none", description: "headers of the auth service's 2xx answer set on the upstream request (the client's own are removed); per Ingress only" },
  { key: authTimeoutKey, values: "seconds, 0.1-60", default: "5", description: "time for the auth-url subrequest (connect and response headers); exceeded -> 503" },
];

export function parseAuth(annotations: Annotations): AnnotationParse<AuthValue> {
  return parseWithSchema(authSchema, annotations, authKeys, noAuth);
}

export const authFamily: AnnotationFamily<AuthValue> = {
  name: "auth",
  implemented: true,
  keys: authKeys,
  docs: authDocs,
  parse: parseAuth,
};
