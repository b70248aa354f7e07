// Active health-check annotations (mod_proxy_hcheck): health-check-uri (hcuri), -method (hcmethod),
// -interval (hcinterval), -passes (hcpasses), -fails (hcfails), -expect (hcexpr, as status ranges).
// Checks are enabled by health-check-uri, or by health-check-method TCP (which needs no uri).
import { z } from "zod";
import type { HealthCheckConfig } from "../../model/index.js";
import { trimBlanks } from "./failover.js";
import { parseWithSchema, quoteValue, type AnnotationDoc, type AnnotationFamily, type AnnotationFinding, type Annotations, type AnnotationParse } from "./family.js";

export const healthCheckUriKey = "proxypass.io/health-check-uri";
export const healthCheckMethodKey = "proxypass.io/health-check-method";
export const healthCheckIntervalKey = "proxypass.io/health-check-interval";
export const healthCheckPassesKey = "proxypass.io/health-check-passes";
export const healthCheckFailsKey = "proxypass.io/health-check-fails";
export const healthCheckExpectKey = "proxypass.io/health-check-expect";
export const healthKeys: ReadonlyArray<string> = [healthCheckUriKey, healthCheckMethodKey, healthCheckIntervalKey, healthCheckPassesKey, healthCheckFailsKey, healthCheckExpectKey];

export const maxHealthCheckUriLength = 1024;
export const defaultHealthIntervalMs = 30_000;
export const defaultExpect: ReadonlyArray<readonly [number, number]> = Object.freeze([Object.freeze([200, 399] as const)]);
const maxExpectItems = 64;

const uriSchema = z
  .string()
  .max(maxHealthCheckUriLength, `must be at most ${maxHealthCheckUriLength} characters`)
  .regex(/^\//, 'must start with "/"')
  .regex(/^[\x21-\x7e]+$/, "must be visible ASCII only (no spaces or control characters; percent-encode others)");

const intervalSchema = z
  .string()
  .regex(/^[0-9]{1,4}(\.[0-9]{1,3})?$/, 'must be seconds as a decimal number like "30" or "0.5" (at most 3 decimals)')
  .transform(Number)
  .refine((s) => s >= 0.1 && s <= 3600, "must be from 0.1 to 3600 seconds")
  .transform((s) => Math.round(s * 1000));

const countSchema = z
  .string()
  .regex(/^[0-9]{1,3}$/, "must be a whole number from 1 to 100")
  .transform(Number)
  .refine((n) => n >= 1 && n <= 100, "must be a whole number from 1 to 100");

type Ranges = { readonly ok: true; readonly ranges: ReadonlyArray<readonly [number, number]> } | { readonly ok: false; readonly reason: string };

/** "200,204,300-399": statuses 100-599 and inclusive ranges, merged into sorted non-overlapping ranges. */
export function parseStatusRanges(text: string): Ranges {
  const items = text.split(",").map(trimBlanks);
  if (items.length > maxExpectItems) return { ok: false, reason: `at most ${maxExpectItems} items` };
  const ranges: Array<[number, number]> = [];
  for (const item of items) {
    const m = /^([1-5][0-9]{2})(?:-([1-5][0-9]{2}))?$/.exec(item);
    if (m === null) return { ok: false, reason: `${quoteValue(item)} is not a status from 100 to 599 or a range like 200-399` };
    const low = Number(m[1]);
    const high = m[2] === undefined ? low : Number(m[2]);
    if (high < low) return { ok: false, reason: `range ${item} ends before it starts` };
    ranges.push([low, high]);
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: Array<[number, number]> = [];
  for (const r of ranges) {
    const last = merged.at(-1);
    if (last !== undefined && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return { ok: true, ranges: merged };
}

const expectSchema = z.string().transform((text, ctx): ReadonlyArray<readonly [number, number]> => {
  const parsed = parseStatusRanges(text);
  if (parsed.ok) return parsed.ranges;
  ctx.addIssue({ code: "custom", message: `must be a comma list of statuses and ranges like "200-399" or "200,204": ${parsed.reason}` });
  return z.NEVER;
});

export const healthSchema = z
  .object({
    [healthCheckUriKey]: uriSchema.optional(),
    [healthCheckMethodKey]: z.enum(["GET", "HEAD", "OPTIONS", "TCP"], "must be GET, HEAD, OPTIONS or TCP").optional(),
    [healthCheckIntervalKey]: intervalSchema.optional(),
    [healthCheckPassesKey]: countSchema.optional(),
    [healthCheckFailsKey]: countSchema.optional(),
    [healthCheckExpectKey]: expectSchema.optional(),
  })
  .transform((v): HealthCheckConfig | null => {
    const method = v[healthCheckMethodKey] ?? "GET";
    const uri = v[healthCheckUriKey];
    if (uri === undefined && method !== "TCP") return null;
    return {
      uri: uri ?? "/",
      method,
      intervalMs: v[healthCheckIntervalKey] ?? defaultHealthIntervalMs,
      passes: v[healthCheckPassesKey] ?? 1,
      fails: v[healthCheckFailsKey] ?? 1,
      expect: v[healthCheckExpectKey] ?? defaultExpect,
    };
  });

export const healthDocs: ReadonlyArray<AnnotationDoc> = [
  { key: healthCheckUriKey, values: "path starting with /, visible ASCII, at most 1024 characters", default: "none", description: "enables active checks of every member at this path (httpd hcuri); per Ingress only" },
  { key: healthCheckMethodKey, values: "GET, HEAD, OPTIONS, TCP", default: "GET", description: "check method (httpd hcmethod); TCP only connects and needs no health-check-uri" },
  { key: healthCheckIntervalKey, values: "seconds, 0.1-3600", default: "30", description: "time between checks (httpd hcinterval)" },
  { key: healthCheckPassesKey, values: "1-100", default: "1", description: "consecutive passes that mark a member healthy again (httpd hcpasses)" },
  { key: healthCheckFailsKey, values: "1-100", default: "1", description: "consecutive failures that mark a member unhealthy (httpd hcfails)" },
  { key: healthCheckExpectKey, values: "statuses and ranges, e.g. 200,204 or 200-399", default: "200-399", description: "statuses that pass (httpd hcexpr)" },
];

export function parseHealth(annotations: Annotations): AnnotationParse<HealthCheckConfig | null> {
  const parsed = parseWithSchema(healthSchema, annotations, healthKeys, null);
  if (parsed.diagnostics.length > 0 || parsed.value !== null) return parsed;
  // Valid, but no checks: settings without health-check-uri (and not TCP) do nothing.
  const ignored = healthKeys
    .filter((key) => key !== healthCheckUriKey && Object.hasOwn(annotations, key))
    .map((key): AnnotationFinding => ({ severity: "warning", reason: "AnnotationIgnored", key, message: `annotation ${key} is ignored: active health checks need ${healthCheckUriKey} (or ${healthCheckMethodKey}: TCP)` }));
  return { value: null, diagnostics: ignored };
}

export const healthFamily: AnnotationFamily<HealthCheckConfig | null> = {
  name: "health",
  implemented: true,
  keys: healthKeys,
  docs: healthDocs,
  parse: parseHealth,
};
