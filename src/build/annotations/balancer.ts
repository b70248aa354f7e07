// Balancer annotations: lbmethod (httpd lbmethod=), sticky-session (stickysession=),
// sticky-nofailover (nofailover=On), hot-standby (a Service whose endpoints join as status=+H
// members) and the canary-* split (a loadfactor between two balancers, like ingress-nginx's canary).
import { z } from "zod";
import type { LbMethod, StickyConfig } from "../../model/index.js";
import { parseWithSchema, type AnnotationDoc, type AnnotationFamily, type AnnotationFinding, type Annotations, type AnnotationParse } from "./family.js";

export const lbmethodKey = "proxypass.io/lbmethod";
export const stickySessionKey = "proxypass.io/sticky-session";
export const stickyNoFailoverKey = "proxypass.io/sticky-nofailover";
export const hotStandbyKey = "proxypass.io/hot-standby";
export const canaryKey = "proxypass.io/canary";
export const canaryWeightKey = "proxypass.io/canary-weight";
export const canaryByHeaderKey = "proxypass.io/canary-by-header";
export const canaryByCookieKey = "proxypass.io/canary-by-cookie";
export const balancerKeys: ReadonlyArray<string> = [lbmethodKey, stickySessionKey, stickyNoFailoverKey, hotStandbyKey, canaryKey, canaryWeightKey, canaryByHeaderKey, canaryByCookieKey];
const canaryOptionKeys: ReadonlyArray<string> = [canaryWeightKey, canaryByHeaderKey, canaryByCookieKey];

/** `hot-standby: SERVICE:PORT` in the Ingress's namespace; port is a Service port number or name. */
export interface HotStandbyRef {
  readonly service: string;
  readonly port: number | string;
}

/** The canary-* annotations of an Ingress with `canary: "true"`. */
export interface CanaryValue {
  readonly weight: number;
  readonly byHeader: string | null;
  readonly byCookie: string | null;
}

export interface BalancerValue {
  readonly lbmethod: LbMethod;
  readonly sticky: StickyConfig | null;
  readonly hotStandby: HotStandbyRef | null;
  /** Non-null when the Ingress is a canary. */
  readonly canary: CanaryValue | null;
}

export const lbMethods: ReadonlyArray<LbMethod> = ["byrequests", "bytraffic", "bybusyness", "random2"];
export const maxStickySessionLength = 64;

/** RFC 9110 token (RFC 6265 cookie-name, HTTP header name). */
const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const urlParamPattern = /^[A-Za-z0-9._~-]+$/;
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const portNamePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const stickySchema = z.string().transform((text, ctx): { cookie: string; param: string | null } => {
  const bar = text.indexOf("|");
  const cookie = bar < 0 ? text : text.slice(0, bar);
  const param = bar < 0 ? null : text.slice(bar + 1);
  let reason: string | null = null;
  if (text.length > maxStickySessionLength) reason = `must be at most ${maxStickySessionLength} characters`;
  else if (!tokenPattern.test(cookie)) reason = 'must be a cookie name (an RFC 6265 token), optionally followed by "|" and a URL parameter name, e.g. "ROUTEID" or "JSESSIONID|jsessionid"';
  else if (param !== null && !urlParamPattern.test(param)) reason = "the URL parameter name after \"|\" may use only letters, digits and . _ ~ -";
  if (reason === null) return { cookie, param };
  ctx.addIssue({ code: "custom", message: reason });
  return z.NEVER;
});

const hotStandbySchema = z.string().transform((text, ctx): HotStandbyRef => {
  const m = /^([^:]*):([^:]*)$/.exec(text);
  const service = m?.[1] ?? "";
  const port = m?.[2] ?? "";
  let reason: string | null = null;
  if (m === null) reason = 'must be SERVICE:PORT, a Service in the Ingress\'s namespace and its port number or name, e.g. "web-spare:80"';
  else if (service.length > 63 || !dns1035Label.test(service)) reason = `Service name ${JSON.stringify(service)} is not a DNS-1035 label`;
  else if (/^[0-9]+$/.test(port)) {
    const n = Number(port);
    if (port.length > 5 || n < 1 || n > 65535) reason = `port ${port} is not from 1 to 65535`;
    else return { service, port: n };
  } else if (port.length > 15 || !portNamePattern.test(port) || !/[a-z]/.test(port) || port.includes("--")) reason = `port ${JSON.stringify(port)} is neither a number nor a port name`;
  if (reason === null) return { service, port };
  ctx.addIssue({ code: "custom", message: reason });
  return z.NEVER;
});

const boolSchema = z.enum(["true", "false"], 'must be "true" or "false"');

const weightSchema = z
  .string()
  .regex(/^[0-9]{1,3}$/, "must be a whole number from 0 to 100")
  .transform(Number)
  .refine((n) => n <= 100, "must be a whole number from 0 to 100");

const headerNameSchema = z
  .string()
  .max(64, "must be at most 64 characters")
  .regex(tokenPattern, "must be an HTTP header name (an RFC 9110 token)")
  .transform((s) => s.toLowerCase());

const cookieNameSchema = z.string().max(64, "must be at most 64 characters").regex(tokenPattern, "must be a cookie name (an RFC 6265 token)");

export const balancerSchema = z
  .object({
    [lbmethodKey]: z.enum(["byrequests", "bytraffic", "bybusyness", "random2"], "must be byrequests, bytraffic, bybusyness or random2").optional(),
    [stickySessionKey]: stickySchema.optional(),
    [stickyNoFailoverKey]: boolSchema.optional(),
    [hotStandbyKey]: hotStandbySchema.optional(),
    [canaryKey]: boolSchema.optional(),
    [canaryWeightKey]: weightSchema.optional(),
    [canaryByHeaderKey]: headerNameSchema.optional(),
    [canaryByCookieKey]: cookieNameSchema.optional(),
  })
  .transform((v): BalancerValue => {
    const sticky = v[stickySessionKey];
    return {
      lbmethod: v[lbmethodKey] ?? "byrequests",
      sticky: sticky === undefined ? null : { cookie: sticky.cookie, param: sticky.param, noFailover: v[stickyNoFailoverKey] === "true" },
      hotStandby: v[hotStandbyKey] ?? null,
      canary: v[canaryKey] === "true" ? { weight: v[canaryWeightKey] ?? 0, byHeader: v[canaryByHeaderKey] ?? null, byCookie: v[canaryByCookieKey] ?? null } : null,
    };
  });

export const defaultBalancerValue: BalancerValue = Object.freeze({ lbmethod: "byrequests", sticky: null, hotStandby: null, canary: null });

export const balancerDocs: ReadonlyArray<AnnotationDoc> = [
  { key: lbmethodKey, values: "byrequests, bytraffic, bybusyness, random2", default: "byrequests", description: "balancing method (httpd lbmethod=)" },
  { key: stickySessionKey, values: "COOKIE or COOKIE|PARAM (tokens, at most 64 characters)", default: "none", description: "sticky routes from this cookie (or URL parameter, which wins); route = endpoint's pod name (httpd stickysession=)" },
  { key: stickyNoFailoverKey, values: '"true" / "false"', default: "false", description: "a sticky request whose member is unusable gets 503 instead of moving (httpd nofailover=On)" },
  { key: hotStandbyKey, values: "SERVICE:PORT (port number or name)", default: "none", description: "that Service's endpoints join as standby members, used while no primary member is usable (httpd status=+H); per Ingress only" },
  { key: canaryKey, values: '"true" / "false"', default: "false", description: "this Ingress is the canary of the same host, path and pathType of another Ingress; per Ingress only" },
  { key: canaryWeightKey, values: "0-100", default: "0", description: "percentage of requests sent to the canary; per Ingress only" },
  { key: canaryByHeaderKey, values: "header name", default: "none", description: 'header whose value "always"/"never" selects the canary or not; per Ingress only' },
  { key: canaryByCookieKey, values: "cookie name", default: "none", description: 'cookie whose value "always"/"never" selects the canary or not; per Ingress only' },
];

export function parseBalancer(annotations: Annotations): AnnotationParse<BalancerValue> {
  const parsed = parseWithSchema(balancerSchema, annotations, balancerKeys, defaultBalancerValue);
  if (parsed.diagnostics.length > 0) return parsed;
  const ignored: AnnotationFinding[] = [];
  if (parsed.value.canary === null) {
    for (const key of canaryOptionKeys.filter((k) => Object.hasOwn(annotations, k))) {
      ignored.push({ severity: "warning", reason: "AnnotationIgnored", key, message: `annotation ${key} is ignored: this Ingress is not a canary (${canaryKey}: "true")` });
    }
  }
  if (parsed.value.sticky === null && Object.hasOwn(annotations, stickyNoFailoverKey)) {
    ignored.push({ severity: "warning", reason: "AnnotationIgnored", key: stickyNoFailoverKey, message: `annotation ${stickyNoFailoverKey} is ignored without ${stickySessionKey}` });
  }
  return { value: parsed.value, diagnostics: ignored };
}

export const balancerFamily: AnnotationFamily<BalancerValue> = {
  name: "balancer",
  implemented: true,
  keys: balancerKeys,
  docs: balancerDocs,
  parse: parseBalancer,
};
