// AJP/1.3 member settings (httpd's mod_proxy_ajp worker parameters, issue #11), used with
// `backend-protocol: AJP`: the shared secret (`secret=`, Tomcat's `secret` with `secretRequired`,
// the fix for CVE-2020-1938 "Ghostcat"), the packet size (ProxyIOBufferSize, Tomcat's
// `packetSize`) and the pre-request CPing (`ping=`). Balancer settings, like backend-protocol: the
// oldest Ingress routing to a Service decides.
import { z } from "zod";
import { parseWithSchema, type AnnotationDoc, type AnnotationFamily, type AnnotationParse, type Annotations } from "./family.js";

export interface AjpValue {
  /** `ajp-secret`: name of a Secret (key `secret`) in the Ingress's namespace; null = no secret sent. */
  readonly secret: string | null;
  /** `ajp-packet-size`: bytes, 8192-65536. */
  readonly packetSize: number;
  /** `ajp-ping`: CPing before each request, waiting this long for CPong; 0 = off. */
  readonly pingMs: number;
}

export const ajpSecretKey = "proxypass.io/ajp-secret";
export const ajpPacketSizeKey = "proxypass.io/ajp-packet-size";
export const ajpPingKey = "proxypass.io/ajp-ping";
export const ajpKeys: ReadonlyArray<string> = [ajpSecretKey, ajpPacketSizeKey, ajpPingKey];

export const defaultAjpPacketSize = 8192;
export const maxAjpPacketSize = 65536;

const secretNameSchema = z
  .string()
  .max(253, "must be at most 253 characters")
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "must be the name of a Secret in the Ingress's namespace (lower-case RFC 1123 subdomain)");

const packetSizeSchema = z
  .string()
  .regex(/^[0-9]{1,6}$/, `must be a number of bytes from ${defaultAjpPacketSize} to ${maxAjpPacketSize}`)
  .transform(Number)
  .refine((n) => n >= defaultAjpPacketSize && n <= maxAjpPacketSize, `must be a number of bytes from ${defaultAjpPacketSize} to ${maxAjpPacketSize} (Tomcat's packetSize range)`);

/** Seconds ("5", "0.5") or milliseconds ("500ms"), at most 60 s; "0" = off. */
const pingSchema = z
  .string()
  .regex(/^(?:[0-9]{1,2}(?:\.[0-9]{1,3})?|[0-9]{1,5}ms)$/, 'must be seconds ("1", "0.5") or milliseconds ("500ms"); "0" turns it off')
  .transform((v) => (v.endsWith("ms") ? Number(v.slice(0, -2)) : Math.round(Number(v) * 1000)))
  .refine((ms) => ms <= 60_000, "must be at most 60 seconds");

export const ajpSchema = z
  .object({ [ajpSecretKey]: secretNameSchema.optional(), [ajpPacketSizeKey]: packetSizeSchema.optional(), [ajpPingKey]: pingSchema.optional() })
  .transform((v): AjpValue => ({ secret: v[ajpSecretKey] ?? null, packetSize: v[ajpPacketSizeKey] ?? defaultAjpPacketSize, pingMs: v[ajpPingKey] ?? 0 }));

export const defaultAjp: AjpValue = Object.freeze({ secret: null, packetSize: defaultAjpPacketSize, pingMs: 0 });

export const ajpDocs: ReadonlyArray<AnnotationDoc> = [
  {
    key: ajpSecretKey,
    values: "Secret name (same namespace)",
    default: "none",
    description:
      "Secret whose key `secret` is sent as the AJP secret (httpd `secret=`; Tomcat `secret` with `secretRequired=\"true\"`, the CVE-2020-1938 fix): required for production; a missing Secret or key is an error diagnostic and the balancer answers 502 (fails closed); AJP only",
  },
  {
    key: ajpPacketSizeKey,
    values: "bytes, 8192-65536",
    default: "8192",
    description: "AJP packet size (httpd ProxyIOBufferSize); must equal the Tomcat connector's `packetSize`; larger request heads get 431; AJP only",
  },
  {
    key: ajpPingKey,
    values: 'seconds or `Nms`; "0" off',
    default: "0 (off)",
    description: "CPing before each request, waiting this long for CPong (httpd `ping=`); no CPong: another connection, then the member is in error and the request fails over; AJP only",
  },
];

export function parseAjp(annotations: Annotations): AnnotationParse<AjpValue> {
  return parseWithSchema(ajpSchema, annotations, ajpKeys, defaultAjp);
}

export const ajpFamily: AnnotationFamily<AjpValue> = {
  name: "ajp",
  implemented: true,
  keys: ajpKeys,
  docs: ajpDocs,
  parse: parseAjp,
};
