// Upstream protocol annotations (issues #6, #11). `websocket-idle-timeout` (mod_proxy_wstunnel's
// idle timeout) is implemented; the other keys belong to open issues and stay "not implemented"
// (a second family object with the same name, so the README and the ConfigMap keys tell them apart).
// Tri-state like the timeouts: absent -> 3600 s, "0" -> disabled, else explicit seconds.
import { z } from "zod";
import { notImplementedFamily, parseWithSchema, plannedDoc, type AnnotationDoc, type AnnotationFamily, type Annotations, type AnnotationParse } from "./family.js";
import { timeoutSettingSchema, type TimeoutSetting } from "./timeouts.js";

export interface ProtocolValue {
  /** `websocket-idle-timeout`: closes an upgraded tunnel after this long without bytes in either direction. */
  readonly websocketIdle: TimeoutSetting;
}

export const websocketIdleTimeoutKey = "proxypass.io/websocket-idle-timeout";
export const protocolKeys: ReadonlyArray<string> = [websocketIdleTimeoutKey];

/** One hour (httpd's ProxyWebsocketIdleTimeout is off by default; ingress-nginx cuts at its 60 s read timeout). */
export const defaultWebsocketIdleMs = 3_600_000;

const unset: TimeoutSetting = Object.freeze({ kind: "default" });

export const protocolSchema = z
  .object({ [websocketIdleTimeoutKey]: timeoutSettingSchema.default(unset) })
  .transform((v): ProtocolValue => ({ websocketIdle: v[websocketIdleTimeoutKey] }));

export const defaultProtocol: ProtocolValue = Object.freeze({ websocketIdle: unset });

export const protocolDocs: ReadonlyArray<AnnotationDoc> = [
  {
    key: websocketIdleTimeoutKey,
    values: 'seconds; "0" disables',
    default: "3600",
    description: "an upgraded connection (WebSocket tunnel) with no bytes in either direction for this long is closed (mod_proxy_wstunnel idle timeout)",
  },
];

export function parseProtocol(annotations: Annotations): AnnotationParse<ProtocolValue> {
  return parseWithSchema(protocolSchema, annotations, protocolKeys, defaultProtocol);
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

/** The protocol keys of open issues: recognised and reported, not applied. */
export const protocolPlannedFamily = notImplementedFamily("protocol", "issues #6/#11", [
  plannedDoc("backend-protocol", "HTTP, HTTPS, H2C, GRPC, GRPCS, AJP", "HTTP", "protocol to the members (http:// https:// h2c:// ajp://)"),
  plannedDoc("backend-tls-verify", '"true" / "false"', "true", "verify member certificates (SSLProxyVerify)"),
  plannedDoc("backend-ca-secret", "Secret name", "none", "Secret with ca.crt for member certificates (SSLProxyCACertificateFile)"),
  plannedDoc("ajp-secret", "Secret name", "none", "Secret with key `secret` (AJP secret=)"),
  plannedDoc("ajp-packet-size", "bytes", "8192", "AJP packet size (ProxyIOBufferSize)"),
]);
