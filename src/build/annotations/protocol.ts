// Upstream protocol annotations (issues #5, #6, #11). Implemented: `websocket-idle-timeout`
// (mod_proxy_wstunnel's idle timeout; tri-state like the timeouts: absent -> 3600 s, "0" ->
// disabled, else explicit seconds), `backend-protocol` (http:// https:// h2c:// in ProxyPass),
// `backend-tls-verify` (SSLProxyVerify) and `backend-ca-secret` (SSLProxyCACertificateFile);
// `backend-protocol: AJP` (ajp://) takes its settings from the ajp family (ajp.ts).
import { z } from "zod";
import type { BackendProtocol } from "../../model/index.js";
import { parseWithSchema, type AnnotationDoc, type AnnotationFamily, type AnnotationFinding, type Annotations, type AnnotationParse } from "./family.js";
import { timeoutSettingSchema, type TimeoutSetting } from "./timeouts.js";

export interface ProtocolValue {
  /** `websocket-idle-timeout`: closes an upgraded tunnel after this long without bytes in either direction. */
  readonly websocketIdle: TimeoutSetting;
  /** `backend-protocol`, lower-case. */
  readonly backendProtocol: BackendProtocol;
  /** `backend-tls-verify`: verify members' certificates (chain and name). */
  readonly tlsVerify: boolean;
  /** `backend-ca-secret`: name of a Secret in the Ingress's namespace with `ca.crt`; null = none. */
  readonly caSecret: string | null;
}

export const websocketIdleTimeoutKey = "proxypass.io/websocket-idle-timeout";
export const backendProtocolKey = "proxypass.io/backend-protocol";
export const backendTlsVerifyKey = "proxypass.io/backend-tls-verify";
export const backendCaSecretKey = "proxypass.io/backend-ca-secret";
export const protocolKeys: ReadonlyArray<string> = [backendProtocolKey, backendTlsVerifyKey, backendCaSecretKey, websocketIdleTimeoutKey];

/** `backend-protocol` values as written in annotations (upper-case, as ingress-nginx's); matched case-insensitively. */
export const backendProtocolValues: ReadonlyArray<string> = ["HTTP", "HTTPS", "H2C", "GRPC", "GRPCS", "AJP"];

/** Protocols spoken over TLS. */
export function isTlsProtocol(protocol: BackendProtocol): boolean {
  return protocol === "https" || protocol === "grpcs";
}

const backendProtocolSchema = z
  .string()
  .refine((v) => backendProtocolValues.includes(v.toUpperCase()), `must be one of ${backendProtocolValues.join(", ")}`)
  .transform((v) => v.toLowerCase() as BackendProtocol);

const booleanSchema = z.enum(["true", "false"], { error: 'must be "true" or "false"' }).transform((v) => v === "true");

/** A Secret name: RFC 1123 subdomain, in the Ingress's own namespace (no "namespace/name"). */
const secretNameSchema = z
  .string()
  .max(253, "must be at most 253 characters")
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "must be the name of a Secret in the Ingress's namespace (lower-case RFC 1123 subdomain)");

/** One hour (httpd's ProxyWebsocketIdleTimeout is off by default; ingress-nginx cuts at its 60 s read timeout). */
export const defaultWebsocketIdleMs = 3_600_000;

const unset: TimeoutSetting = Object.freeze({ kind: "default" });

export const protocolSchema = z
  .object({
    [websocketIdleTimeoutKey]: timeoutSettingSchema.default(unset),
    [backendProtocolKey]: backendProtocolSchema.optional(),
    [backendTlsVerifyKey]: booleanSchema.optional(),
    [backendCaSecretKey]: secretNameSchema.optional(),
  })
  .transform(
    (v): ProtocolValue => ({
      websocketIdle: v[websocketIdleTimeoutKey],
      backendProtocol: v[backendProtocolKey] ?? "http",
      tlsVerify: v[backendTlsVerifyKey] ?? false,
      caSecret: v[backendCaSecretKey] ?? null,
    }),
  );

export const defaultProtocol: ProtocolValue = Object.freeze({ websocketIdle: unset, backendProtocol: "http", tlsVerify: false, caSecret: null });

export const protocolDocs: ReadonlyArray<AnnotationDoc> = [
  {
    key: backendProtocolKey,
    values: "`HTTP`, `HTTPS`, `H2C`, `GRPC`, `GRPCS`, `AJP`",
    default: "HTTP",
    description:
      "protocol to the members (httpd's http:// https:// h2c:// ajp://): HTTP/1.1, HTTP/1.1 over TLS, HTTP/2 cleartext (prior knowledge), gRPC over HTTP/2 cleartext or TLS (errors as gRPC statuses, trailers, grpc-timeout), AJP/1.3 to Tomcat (see AJP); a balancer setting; see Backend protocols",
  },
  {
    key: backendTlsVerifyKey,
    values: '"true" / "false"',
    default: "false",
    description: "verify the member's certificate chain and name (SSLProxyVerify require); off by default: encrypted but not authenticated, like ingress-nginx's proxy-ssl-verify; HTTPS and GRPCS only",
  },
  {
    key: backendCaSecretKey,
    values: "Secret name (same namespace)",
    default: "none (Node's bundled CAs)",
    description: "Secret whose `ca.crt` (PEM) holds the only CAs trusted for members (SSLProxyCACertificateFile); used with backend-tls-verify; missing or invalid -> diagnostic and 502 (fail closed)",
  },
  {
    key: websocketIdleTimeoutKey,
    values: 'seconds; "0" disables',
    default: "3600",
    description: "an upgraded connection (WebSocket tunnel) with no bytes in either direction for this long is closed (mod_proxy_wstunnel idle timeout)",
  },
];

export function parseProtocol(annotations: Annotations): AnnotationParse<ProtocolValue> {
  const parsed = parseWithSchema(protocolSchema, annotations, protocolKeys, defaultProtocol);
  if (parsed.diagnostics.length !== 0) return parsed;
  const v = parsed.value;
  const warnings: AnnotationFinding[] = [];
  if (!isTlsProtocol(v.backendProtocol)) {
    for (const key of [backendTlsVerifyKey, backendCaSecretKey]) {
      if (Object.hasOwn(annotations, key)) warnings.push({ severity: "warning", reason: "AnnotationIgnored", key, message: `annotation ${key} applies only with ${backendProtocolKey} HTTPS or GRPCS; ignored` });
    }
  } else if (v.caSecret !== null && !v.tlsVerify) {
    warnings.push({ severity: "warning", reason: "AnnotationIgnored", key: backendCaSecretKey, message: `annotation ${backendCaSecretKey} is used only with ${backendTlsVerifyKey}: "true"; members are not verified` });
  }
  return warnings.length === 0 ? parsed : { value: v, diagnostics: warnings };
}

/** The idle timeout in milliseconds; null = disabled. */
export function toWebsocketIdleMs(value: ProtocolValue): number | null {
  const s = value.websocketIdle;
  switch (s.kind) {
    case "default":
      return defaultWebsocketIdleMs;
    case "disabled":
      return null;
    case "explicit":
      return s.ms;
  }
}

export const protocolFamily: AnnotationFamily<ProtocolValue> = {
  name: "protocol",
  implemented: true,
  keys: protocolKeys,
  docs: protocolDocs,
  parse: parseProtocol,
};

