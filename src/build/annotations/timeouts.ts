// Timeout annotations: connect-timeout (httpd connectiontimeout=) and timeout (timeout=/ProxyTimeout).
// Tri-state: absent -> the default, "0" -> disabled, else explicit seconds.
import { z } from "zod";
import type { Timeouts } from "../../model/index.js";
import { parseWithSchema, type AnnotationDoc, type AnnotationFamily, type Annotations, type AnnotationParse } from "./family.js";

export type TimeoutSetting = { readonly kind: "default" } | { readonly kind: "disabled" } | { readonly kind: "explicit"; readonly ms: number };

export interface TimeoutsValue {
  readonly connect: TimeoutSetting;
  readonly read: TimeoutSetting;
}

export const connectTimeoutKey = "proxypass.io/connect-timeout";
export const timeoutKey = "proxypass.io/timeout";
export const timeoutsKeys: ReadonlyArray<string> = [connectTimeoutKey, timeoutKey];

export const defaultConnectMs = 5_000;
export const defaultReadMs = 60_000;
/** Upper bound of an explicit timeout: one day. Longer waits are "0" (disabled). */
export const maxTimeoutSeconds = 86_400;

const unset: TimeoutSetting = Object.freeze({ kind: "default" });
const disabled: TimeoutSetting = Object.freeze({ kind: "disabled" });

/** Seconds as a decimal string with at most 3 fractional digits; "0" disables. */
export const timeoutSettingSchema = z
  .string()
  .regex(/^[0-9]{1,6}(\.[0-9]{1,3})?$/, 'must be seconds as a decimal number like "5" or "2.5" (at most 3 decimals), or "0" to disable')
  .transform(Number)
  .refine((seconds) => seconds <= maxTimeoutSeconds, `must be at most ${maxTimeoutSeconds} seconds; use "0" to disable`)
  .transform((seconds): TimeoutSetting => (seconds === 0 ? disabled : { kind: "explicit", ms: Math.round(seconds * 1000) }));

export const timeoutsSchema = z
  .object({
    [connectTimeoutKey]: timeoutSettingSchema.default(unset),
    [timeoutKey]: timeoutSettingSchema.default(unset),
  })
  .transform((v): TimeoutsValue => ({ connect: v[connectTimeoutKey], read: v[timeoutKey] }));

export const defaultTimeouts: TimeoutsValue = Object.freeze({ connect: unset, read: unset });

export const timeoutsDocs: ReadonlyArray<AnnotationDoc> = [
  { key: connectTimeoutKey, values: 'seconds, e.g. "5" or "0.5"; "0" disables', default: "5", description: "TCP connect to a member (httpd connectiontimeout=); exceeded -> 504" },
  { key: timeoutKey, values: 'seconds; "0" disables', default: "60", description: "time to response headers, and idle time between body chunks (httpd timeout=/ProxyTimeout); exceeded -> 504" },
];

export function parseTimeouts(annotations: Annotations): AnnotationParse<TimeoutsValue> {
  return parseWithSchema(timeoutsSchema, annotations, timeoutsKeys, defaultTimeouts);
}

/** Resolves the tri-state settings to milliseconds (null = disabled). */
export function toTimeouts(value: TimeoutsValue): Timeouts {
  return { connectMs: resolve(value.connect, defaultConnectMs), readMs: resolve(value.read, defaultReadMs) };
}

function resolve(setting: TimeoutSetting, defaultMs: number): number | null {
  switch (setting.kind) {
    case "default":
      return defaultMs;
    case "disabled":
      return null;
    case "explicit":
      return setting.ms;
  }
}

export const timeoutsFamily: AnnotationFamily<TimeoutsValue> = {
  name: "timeouts",
  implemented: true,
  keys: timeoutsKeys,
  docs: timeoutsDocs,
  parse: parseTimeouts,
};
