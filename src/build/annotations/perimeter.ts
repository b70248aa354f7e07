// Perimeter annotations (issue #5): request body limit (httpd LimitRequestBody), client address
// access control (Require ip / Deny from) and rate limits (per client address, per Ingress, per
// replica). Each key is also a ConfigMap default (an Ingress's own annotation wins).
import { z } from "zod";
import { CidrError, parseCidrList } from "../../util/index.js";
import { parseWithSchema, type AnnotationDoc, type AnnotationFamily, type Annotations, type AnnotationParse } from "./family.js";

export const maxBodySizeKey = "proxypass.io/max-body-size";
export const allowCidrsKey = "proxypass.io/allow-cidrs";
export const denyCidrsKey = "proxypass.io/deny-cidrs";
export const limitRpsKey = "proxypass.io/limit-rps";
export const limitBurstKey = "proxypass.io/limit-burst";
export const limitConnectionsKey = "proxypass.io/limit-connections";
export const perimeterKeys: ReadonlyArray<string> = [maxBodySizeKey, allowCidrsKey, denyCidrsKey, limitRpsKey, limitBurstKey, limitConnectionsKey];

/** 64 GiB: far above any sane upload, well inside exact doubles. */
export const maxBodySizeLimit = 64 * 1024 ** 3;
export const maxCidrs = 256;
export const maxRps = 1_000_000;
export const maxBurst = 1_000_000;
export const maxConnections = 1_000_000;

export interface PerimeterValue {
  /** `max-body-size` in bytes; null = unlimited. */
  readonly maxBodyBytes: number | null;
  /** Canonical CIDRs (sorted); null = not set. */
  readonly allowCidrs: ReadonlyArray<string> | null;
  readonly denyCidrs: ReadonlyArray<string> | null;
  /** Requests per second per client address; null = no rate limit. */
  readonly limitRps: number | null;
  /** Requests allowed at once above limit-rps: the token bucket holds limit-rps + limit-burst; null = 0. */
  readonly limitBurst: number | null;
  /** Concurrent requests per client address; null = no limit. */
  readonly limitConnections: number | null;
}

const sizeUnits: Readonly<Record<string, number>> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Bytes with an optional k/m/g suffix (binary, case-insensitive, as nginx's client_max_body_size); "0" = unlimited. */
const sizeSchema = z
  .string()
  .regex(/^[0-9]{1,12}[kKmMgG]?$/, 'must be a whole number of bytes with an optional k, m or g suffix, e.g. "1m" or "512k"; "0" for unlimited')
  .transform((v) => {
    const last = v.charAt(v.length - 1).toLowerCase();
    const unit = sizeUnits[last] ?? 1;
    const digits = unit === 1 ? v : v.slice(0, -1);
    return Number(digits) * unit;
  })
  .refine((n) => n <= maxBodySizeLimit, `must be at most 64g`)
  .transform((n) => (n === 0 ? null : n));

const cidrsSchema = z.string().transform((text, ctx): ReadonlyArray<string> => {
  try {
    const list = parseCidrList(text);
    if (list.length > maxCidrs) {
      ctx.addIssue({ code: "custom", message: `at most ${maxCidrs} CIDRs` });
      return z.NEVER;
    }
    return list.map((c) => c.text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: err instanceof CidrError ? err.message : "must be comma-separated IPv4/IPv6 CIDRs" });
    return z.NEVER;
  }
});

function count(max: number, what: string): z.ZodType<number, string> {
  return z
    .string()
    .regex(/^[0-9]{1,7}$/, `must be a whole number of ${what}`)
    .transform(Number)
    .refine((n) => n >= 1 && n <= max, `must be 1-${max}`);
}

export const perimeterSchema = z
  .object({
    [maxBodySizeKey]: sizeSchema.optional(),
    [allowCidrsKey]: cidrsSchema.optional(),
    [denyCidrsKey]: cidrsSchema.optional(),
    [limitRpsKey]: count(maxRps, "requests per second").optional(),
    [limitBurstKey]: z
      .string()
      .regex(/^[0-9]{1,7}$/, "must be a whole number of requests")
      .transform(Number)
      .refine((n) => n <= maxBurst, `must be 0-${maxBurst}`)
      .optional(),
    [limitConnectionsKey]: count(maxConnections, "connections").optional(),
  })
  .transform(
    (v): PerimeterValue => ({
      maxBodyBytes: v[maxBodySizeKey] ?? null,
      allowCidrs: v[allowCidrsKey] ?? null,
      denyCidrs: v[denyCidrsKey] ?? null,
      limitRps: v[limitRpsKey] ?? null,
      limitBurst: v[limitBurstKey] ?? null,
      limitConnections: v[limitConnectionsKey] ?? null,
    }),
  );

export const defaultPerimeter: PerimeterValue = Object.freeze({ maxBodyBytes: null, allowCidrs: null, denyCidrs: null, limitRps: null, limitBurst: null, limitConnections: null });

export const perimeterDocs: ReadonlyArray<AnnotationDoc> = [
  {
    key: maxBodySizeKey,
    values: 'bytes, k/m/g suffixes (1024-based), e.g. "8m"; "0" unlimited',
    default: "unlimited",
    description: "larger request bodies get 413 and the connection is closed: at once by Content-Length, or when a chunked body grows past it (LimitRequestBody)",
  },
  { key: allowCidrsKey, values: "comma IPv4/IPv6 CIDRs or addresses", default: "all", description: "only these client addresses are served; others get 403 (Require ip)" },
  { key: denyCidrsKey, values: "comma IPv4/IPv6 CIDRs or addresses", default: "none", description: "these client addresses get 403, even when allow-cidrs lists them (Deny from)" },
  { key: limitRpsKey, values: "1-1000000", default: "none", description: "requests per second per client address, per Ingress, per worker (token bucket); over -> 429 with Retry-After" },
  { key: limitBurstKey, values: "0-1000000", default: "0", description: "requests a client may send at once above limit-rps: the token bucket holds limit-rps + limit-burst tokens and refills limit-rps per second" },
  { key: limitConnectionsKey, values: "1-1000000", default: "none", description: "requests, WebSocket and CONNECT tunnels in flight per client address, per Ingress, per worker; over -> 429" },
];

export function parsePerimeter(annotations: Annotations): AnnotationParse<PerimeterValue> {
  return parseWithSchema(perimeterSchema, annotations, perimeterKeys, defaultPerimeter);
}

export const perimeterFamily: AnnotationFamily<PerimeterValue> = {
  name: "perimeter",
  implemented: true,
  keys: perimeterKeys,
  docs: perimeterDocs,
  parse: parsePerimeter,
};
