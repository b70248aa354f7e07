// Passive failover annotations: retry (httpd retry=), max-attempts (maxattempts=), fail-on-status
// (failonstatus=) and fail-on-timeout (failontimeout=).
import { z } from "zod";
import { defaultFailover, type FailoverConfig } from "../../model/index.js";
import { parseWithSchema, quoteValue, type AnnotationDoc, type AnnotationFamily, type Annotations, type AnnotationParse } from "./family.js";

export const retryKey = "proxypass.io/retry";
export const maxAttemptsKey = "proxypass.io/max-attempts";
export const failOnStatusKey = "proxypass.io/fail-on-status";
export const failOnTimeoutKey = "proxypass.io/fail-on-timeout";
export const failoverKeys: ReadonlyArray<string> = [retryKey, maxAttemptsKey, failOnStatusKey, failOnTimeoutKey];

/** Upper bound of `retry`: one day. */
export const maxRetrySeconds = 86_400;
export const maxAttemptsLimit = 100;
/** At most this many statuses in one list. */
export const maxStatuses = 64;

/** Seconds as a decimal string with at most 3 fractional digits, 0 to 86400, as milliseconds. */
const retrySchema = z
  .string()
  .regex(/^[0-9]{1,6}(\.[0-9]{1,3})?$/, 'must be seconds as a decimal number like "60" or "2.5" (at most 3 decimals)')
  .transform(Number)
  .refine((seconds) => seconds <= maxRetrySeconds, `must be at most ${maxRetrySeconds} seconds`)
  .transform((seconds) => Math.round(seconds * 1000));

const maxAttemptsSchema = z
  .string()
  .regex(/^[0-9]{1,3}$/, `must be a whole number from 0 to ${maxAttemptsLimit}`)
  .transform(Number)
  .refine((n) => n <= maxAttemptsLimit, `must be a whole number from 0 to ${maxAttemptsLimit}`);

type StatusList = { readonly ok: true; readonly statuses: ReadonlyArray<number> } | { readonly ok: false; readonly reason: string };

/** Spaces and tabs around a list item (not String.trim: CR, LF and other line breaks are refused). */
export function trimBlanks(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, "");
}

/** A comma list of HTTP statuses 100-599 (spaces around items allowed), sorted and de-duplicated; "" is the empty list. */
export function parseStatusList(text: string): StatusList {
  if (trimBlanks(text) === "") return { ok: true, statuses: [] };
  const items = text.split(",").map(trimBlanks);
  if (items.length > maxStatuses) return { ok: false, reason: `at most ${maxStatuses} statuses` };
  const statuses = new Set<number>();
  for (const item of items) {
    if (!/^[1-5][0-9]{2}$/.test(item)) return { ok: false, reason: `${quoteValue(item)} is not an HTTP status from 100 to 599` };
    statuses.add(Number(item));
  }
  return { ok: true, statuses: [...statuses].sort((a, b) => a - b) };
}

const statusListSchema = z.string().transform((text, ctx): ReadonlyArray<number> => {
  const parsed = parseStatusList(text);
  if (parsed.ok) return parsed.statuses;
  ctx.addIssue({ code: "custom", message: `must be a comma list of statuses like "500,503": ${parsed.reason}` });
  return z.NEVER;
});

export const failoverSchema = z
  .object({
    [retryKey]: retrySchema.optional(),
    [maxAttemptsKey]: maxAttemptsSchema.optional(),
    [failOnStatusKey]: statusListSchema.optional(),
    [failOnTimeoutKey]: z.enum(["true", "false"], 'must be "true" or "false"').optional(),
  })
  .transform(
    (v): FailoverConfig => ({
      maxAttempts: v[maxAttemptsKey] ?? defaultFailover.maxAttempts,
      retryMs: v[retryKey] ?? defaultFailover.retryMs,
      failOnStatus: v[failOnStatusKey] ?? defaultFailover.failOnStatus,
      failOnTimeout: v[failOnTimeoutKey] === undefined ? defaultFailover.failOnTimeout : v[failOnTimeoutKey] === "true",
    }),
  );

export const failoverDocs: ReadonlyArray<AnnotationDoc> = [
  { key: retryKey, values: 'seconds, e.g. "60" or "0.5"; "0" retries at once', default: "60", description: "time a failed member stays in error state before one trial request (httpd retry=)" },
  { key: maxAttemptsKey, values: "0-100", default: "members - 1", description: "failover tries after the first attempt when a member cannot be reached (httpd maxattempts=)" },
  { key: failOnStatusKey, values: 'comma list of statuses, e.g. "500,503"', default: "none", description: "statuses that put a member in error; the response is still relayed (httpd failonstatus=)" },
  { key: failOnTimeoutKey, values: '"true" / "false"', default: "false", description: "a response timeout puts the member in error (httpd failontimeout=)" },
];

export function parseFailover(annotations: Annotations): AnnotationParse<FailoverConfig> {
  return parseWithSchema(failoverSchema, annotations, failoverKeys, defaultFailover);
}

export const failoverFamily: AnnotationFamily<FailoverConfig> = {
  name: "failover",
  implemented: true,
  keys: failoverKeys,
  docs: failoverDocs,
  parse: parseFailover,
};
