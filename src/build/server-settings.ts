// Server settings: the `--configmap` keys that are not annotation defaults but settings of the whole
// server: logging (`access-log`, `log-level`, over their flags while set) and client/upstream
// connection limits. The data plane applies them live with each route table (no restart, no
// dropped connection). Each key has its own zod schema; global-settings.ts reads them with the same
// last-valid-value rules as the annotation-default keys.
//
// `--max-header-size` is not a key: Node fixes the header limit of a server's parser when the
// server is created, so changing it would mean a new listener.
import { z, type ZodType } from "zod";
import { defaultCompressionTypes, defaultServerSettings, type HeaderRule, type ServerSettings } from "../model/index.js";
import { parseLogLevels } from "../util/index.js";
import { parseHeaderRules } from "./annotations/headers.js";
import {
  hstsIncludeSubdomainsSetting,
  hstsMaxAgeSetting,
  hstsPreloadSetting,
  hstsSetting,
  parseSslCiphers,
  parseSslProtocols,
  sslCiphersSetting,
  sslProtocolsSetting,
  sslRedirectPortSetting,
} from "./tls.js";

export const accessLogSetting = "access-log";
export const logLevelSetting = "log-level";
export const clientHeaderTimeoutSetting = "client-header-timeout";
export const clientRequestTimeoutSetting = "client-request-timeout";
export const keepAliveTimeoutSetting = "keep-alive-timeout";
export const upstreamKeepAliveTimeoutSetting = "upstream-keep-alive-timeout";
export const maxRequestsPerConnectionSetting = "max-requests-per-connection";
export const compressionTypesSetting = "compression-types";
export const compressionMinSizeSetting = "compression-min-size";
export const maxErrorPageBytes = 65_536;
export const globalResponseHeadersSetting = "global-response-headers";

/** A media type (RFC 9110 token "/" token) or "type/*". */
const mediaTypePattern = /^[a-z0-9!#$&^_.+-]+\/(\*|[a-z0-9!#$&^_.+-]+)$/;
const maxCompressionTypes = 200;

/** `compression-types`: comma or space separated media types, lower-cased, sorted, unique. */
const compressionTypesSchema = z.string().transform((text, ctx): ReadonlyArray<string> => {
  const types = [...new Set(text.toLowerCase().split(/[ \t\n,]+/).filter((t) => t !== ""))].sort();
  if (types.length === 0) {
    ctx.addIssue({ code: "custom", message: "must list at least one media type (turn compression off with the compression key instead)" });
    return z.NEVER;
  }
  if (types.length > maxCompressionTypes) {
    ctx.addIssue({ code: "custom", message: `must list at most ${maxCompressionTypes} media types` });
    return z.NEVER;
  }
  for (const t of types) {
    if (!mediaTypePattern.test(t)) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(t)} is not a media type like text/html or text/*` });
      return z.NEVER;
    }
    if (t === "text/event-stream") {
      ctx.addIssue({ code: "custom", message: "text/event-stream is never compressed: every event must reach the client at once (see README, Compression)" });
      return z.NEVER;
    }
  }
  return types;
});
export const clientBodyTimeoutSetting = "client-body-timeout";
export const maxConnectionsPerWorkerSetting = "max-connections-per-worker";

const trueFalse = z.enum(["true", "false"], 'must be "true" or "false"');

/** Seconds as a decimal string with at most 3 fractional digits (as the timeout annotations). */
const secondsPattern = /^[0-9]{1,6}(\.[0-9]{1,3})?$/;

/** Seconds in [min, max] -> milliseconds; with `zeroDisables`, "0" -> null. */
function seconds(min: number, max: number, zeroDisables: true): ZodType<number | null, string>;
function seconds(min: number, max: number, zeroDisables: false): ZodType<number, string>;
function seconds(min: number, max: number, zeroDisables: boolean): ZodType<number | null, string> {
  const shape = `seconds as a decimal number like "5" or "2.5" (at most 3 decimals)${zeroDisables ? ', or "0" to disable' : ""}`;
  const range = zeroDisables ? `"0" or ${min}-${max} seconds` : `${min}-${max} seconds`;
  return z
    .string()
    .regex(secondsPattern, `must be ${shape}`)
    .transform(Number)
    .refine((s) => (zeroDisables && s === 0) || (s >= min && s <= max), `must be ${range}`)
    .transform((s) => (s === 0 ? null : Math.round(s * 1000)));
}

const maxRequests = 1_000_000;
const maxWorkerConnections = 1_000_000;

/** The zod schema of each key's value (a ConfigMap value is a string). */
const schemas = {
  [accessLogSetting]: z.enum(["true", "false"], 'must be "true" or "false"').transform((v) => v === "true"),
  [logLevelSetting]: z
    .string()
    .max(1024, "must be at most 1024 characters")
    .refine((v) => v.trim() !== "" && parseLogLevels(v) !== undefined, "must be a pino level (fatal, error, warn, info, debug, trace, silent) or a component=level list, e.g. info,proxy=debug"),
  [clientHeaderTimeoutSetting]: seconds(0.1, 3600, false),
  [clientRequestTimeoutSetting]: seconds(0.1, 86_400, true),
  [keepAliveTimeoutSetting]: seconds(0.1, 3600, false),
  [upstreamKeepAliveTimeoutSetting]: seconds(0.1, 3600, false),
  [maxRequestsPerConnectionSetting]: z
    .string()
    .regex(/^[0-9]{1,7}$/, 'must be a whole number; "0" for unlimited')
    .transform(Number)
    .refine((n) => n <= maxRequests, `must be at most ${maxRequests}; "0" for unlimited`),
  [compressionTypesSetting]: compressionTypesSchema,
  [compressionMinSizeSetting]: z
    .string()
    .regex(/^[0-9]{1,9}$/, "must be a whole number of bytes")
    .transform(Number),
  // TLS listener (read by tls.ts into the route table's TLS section).
  [sslProtocolsSetting]: z.string().superRefine((v, ctx) => {
    const p = parseSslProtocols(v);
    if (typeof p === "string") ctx.addIssue({ code: "custom", message: p });
  }),
  [sslCiphersSetting]: z.string().superRefine((v, ctx) => {
    const c = parseSslCiphers(v);
    if (typeof c !== "string") ctx.addIssue({ code: "custom", message: c.error });
  }),
  [hstsSetting]: trueFalse,
  [hstsMaxAgeSetting]: z
    .string()
    .regex(/^[0-9]{1,9}$/, "must be a whole number of seconds")
    .transform(Number)
    .refine((n) => n <= 315_360_000, "must be at most 315360000 (10 years)"),
  [hstsIncludeSubdomainsSetting]: trueFalse,
  [hstsPreloadSetting]: trueFalse,
  [sslRedirectPortSetting]: z
    .string()
    .regex(/^[0-9]{1,5}$/, "must be a port number (1-65535)")
    .transform(Number)
    .refine((n) => n >= 1 && n <= 65535, "must be a port number (1-65535)"),
  [globalResponseHeadersSetting]: z.string().transform((text, ctx): ReadonlyArray<HeaderRule> => {
    const r = parseHeaderRules(text);
    if (!r.ok) {
      ctx.addIssue({ code: "custom", message: r.reason });
      return z.NEVER;
    }
    return r.rules;
  }),
  [clientBodyTimeoutSetting]: seconds(0.1, 3600, true),
  [maxConnectionsPerWorkerSetting]: z
    .string()
    .regex(/^[0-9]{1,7}$/, 'must be a whole number; "0" for unlimited')
    .transform(Number)
    .refine((n) => n <= maxWorkerConnections, `must be at most ${maxWorkerConnections}; "0" for unlimited`),
} as const;

type ServerSettingKey = keyof typeof schemas;

/** One row of the README server-settings table. */
export interface ServerSettingDoc {
  readonly key: string;
  readonly values: string;
  readonly default: string;
  readonly description: string;
}

export const serverSettingDocs: ReadonlyArray<ServerSettingDoc> = [
  { key: accessLogSetting, values: '"true" / "false"', default: "`--access-log`", description: "one line per request (component access); while set, overrides `--access-log` in every worker" },
  {
    key: logLevelSetting,
    values: "pino level, or per component: info,proxy=debug",
    default: "`--log-level`",
    description: "while set, replaces `--log-level` for the controller's and every worker's loggers; removing the key goes back to the flag",
  },
  {
    key: clientHeaderTimeoutSetting,
    values: "seconds, 0.1-3600",
    default: "60",
    description: "time for a client to send a request's headers (Node headersTimeout); exceeded -> 408, connection closed; capped by client-request-timeout",
  },
  {
    key: clientRequestTimeoutSetting,
    values: 'seconds, 0.1-86400; "0" disables',
    default: "300",
    description: "time for a client to send a whole request, body included (Node requestTimeout); exceeded -> 408; \"0\" for slow large uploads",
  },
  {
    key: keepAliveTimeoutSetting,
    values: "seconds, 0.1-3600",
    default: "5",
    description: "idle time of a client keep-alive connection before it is closed (Node keepAliveTimeout, plus Node's 1 s buffer); applies from a connection's next response",
  },
  {
    key: upstreamKeepAliveTimeoutSetting,
    values: "seconds, 0.1-3600",
    default: "4",
    description: "idle time of an upstream keep-alive connection (undici keepAliveTimeout; an upstream's `Keep-Alive: timeout=N` hint, less 2 s, wins); applies to members' connection pools created after the change",
  },
  {
    key: maxRequestsPerConnectionSetting,
    values: `0-${maxRequests}`,
    default: "0 (unlimited)",
    description: 'requests served on one client connection, then it is closed (Node maxRequestsPerSocket); "1" turns keep-alive off',
  },
  {
    key: compressionTypesSetting,
    values: "media types, comma or space separated; type/* wildcards",
    default: `${defaultCompressionTypes.length} text types (README, Compression)`,
    description: "Content-Types compressed on routes with compression on (ingress-nginx gzip-types); text/event-stream is refused",
  },
  {
    key: "error-page-<status>",
    values: `HTML, at most ${maxErrorPageBytes} bytes; status 400-599, e.g. error-page-503`,
    default: "none",
    description: "body (text/html) served, with the status kept, for that status on routes that list it in custom-error-pages (ProxyErrorOverride)",
  },
  {
    key: compressionMinSizeSetting,
    values: "bytes",
    default: String(defaultServerSettings.compressionMinSize),
    description: "responses whose Content-Length is smaller are not compressed (ingress-nginx gzip-min-length); responses without one are",
  },
  {
    key: sslProtocolsSetting,
    values: "space-separated: TLSv1.2, TLSv1.3",
    default: "TLSv1.2 TLSv1.3",
    description: "TLS versions of the TLS listener (older ones are refused); applies to new handshakes",
  },
  {
    key: sslCiphersSetting,
    values: "OpenSSL cipher list (TLS 1.2)",
    default: "ECDHE with AES-GCM or ChaCha20-Poly1305 (Mozilla intermediate)",
    description: "TLS 1.2 cipher suites of the TLS listener, server preference; TLS 1.3 suites are OpenSSL's; applies to new handshakes",
  },
  { key: hstsSetting, values: '"true" / "false"', default: '"true"', description: "`Strict-Transport-Security` on every proxied response over TLS for hosts listed in some Ingress's `spec.tls`" },
  { key: hstsMaxAgeSetting, values: "seconds, 0-315360000", default: "31536000", description: "HSTS `max-age` (one year by default); `0` tells browsers to forget the host" },
  { key: hstsIncludeSubdomainsSetting, values: '"true" / "false"', default: '"false"', description: "adds `includeSubDomains` to HSTS (every subdomain must then serve https)" },
  { key: hstsPreloadSetting, values: '"true" / "false"', default: '"false"', description: "adds `preload` to HSTS (for browsers' preload lists; needs includeSubDomains and a max-age of a year or more)" },
  {
    key: sslRedirectPortSetting,
    values: "port, 1-65535",
    default: "443",
    description: "port of the https URL that ssl-redirect and force-ssl-redirect send clients to (omitted from the URL when 443): the port clients reach the TLS listener on, not `--https-port`",
  },
  {
    key: globalResponseHeadersSetting,
    values: "lines: `set|add|append NAME VALUE`, `unset NAME`",
    default: "none",
    description:
      "header rules applied to every response, proxied or generated (errors, redirects), after a route's own response-headers: for security headers such as X-Content-Type-Options; the same allow-list as the response-headers annotation",
  },
  {
    key: clientBodyTimeoutSetting,
    values: 'seconds, 0.1-3600; "0" disables',
    default: "60",
    description: "longest wait for the next bytes of a request body (nginx client_body_timeout), against slow-loris uploads; exceeded -> 408 (if the response has not started), upstream request aborted, connection closed",
  },
  {
    key: maxConnectionsPerWorkerSetting,
    values: `0-${maxWorkerConnections}`,
    default: "16384",
    description: 'open client connections per worker (net.Server maxConnections); further connections are closed at once and counted in proxypass_connections_dropped_total; "0" for unlimited',
  },
];

/** The `error-page-<status>` values in effect, by status ("404"), sorted. */
function errorPagesOf(values: Readonly<Record<string, string>>): Readonly<Record<string, string>> | null {
  let pages: Record<string, string> | null = null;
  for (const key of Object.keys(values).sort()) {
    if (isErrorPageKey(key)) (pages ??= {})[key.slice("error-page-".length)] = values[key] as string;
  }
  return pages;
}

/** ConfigMap keys of the server settings, in README order. */
export const serverSettingKeys: ReadonlyArray<string> = serverSettingDocs.map((d) => d.key);

export function isServerSettingKey(name: string): boolean {
  return Object.hasOwn(schemas, name) || isErrorPageKey(name);
}

/** `error-page-<status>`, status 400-599. */
export function isErrorPageKey(name: string): boolean {
  return /^error-page-[45][0-9][0-9]$/.test(name);
}

const errorPageSchema = z
  .string()
  .refine((v) => v.length > 0, "must not be empty")
  .refine((v) => Buffer.byteLength(v) <= maxErrorPageBytes, `must be at most ${maxErrorPageBytes} bytes`);

type Check = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Validates one value of a server-settings key. */
export function checkServerSetting(name: string, value: string): Check {
  if (!isServerSettingKey(name)) return { ok: false, reason: "not a server setting" };
  const parsed = (isErrorPageKey(name) ? errorPageSchema : schemas[name as ServerSettingKey]).safeParse(value);
  return parsed.success ? { ok: true } : { ok: false, reason: parsed.error.issues[0]?.message ?? "invalid" };
}

export interface ServerSettingsResult {
  readonly settings: ServerSettings;
  /** The header timeout was above the (enabled) request timeout and was lowered to it. */
  readonly headerTimeoutCapped: boolean;
}

/**
 * The server settings of the valid values in effect (`values`: key -> value, keys of other
 * settings ignored); unset keys keep the built-in defaults. Values must have passed checkServerSetting.
 */
export function toServerSettings(values: Readonly<Record<string, string>>): ServerSettingsResult {
  const read = <K extends ServerSettingKey>(key: K): z.output<(typeof schemas)[K]> | undefined => {
    const value = values[key];
    if (value === undefined) return undefined;
    const parsed = schemas[key].safeParse(value);
    if (!parsed.success) throw new Error(`server setting ${key}: unchecked value ${JSON.stringify(value)}`);
    return parsed.data as z.output<(typeof schemas)[K]>;
  };
  const d = defaultServerSettings;
  const requestMs = read(clientRequestTimeoutSetting);
  const clientRequestTimeoutMs = requestMs === undefined ? d.clientRequestTimeoutMs : requestMs;
  let clientHeaderTimeoutMs = read(clientHeaderTimeoutSetting) ?? d.clientHeaderTimeoutMs;
  // Node enforces headers <= request (the request timeout covers the headers too).
  const headerTimeoutCapped = clientRequestTimeoutMs !== null && clientHeaderTimeoutMs > clientRequestTimeoutMs;
  if (headerTimeoutCapped) clientHeaderTimeoutMs = clientRequestTimeoutMs;
  const settings: ServerSettings = {
    accessLog: read(accessLogSetting) ?? d.accessLog,
    logLevel: read(logLevelSetting) ?? d.logLevel,
    clientHeaderTimeoutMs,
    clientRequestTimeoutMs,
    keepAliveTimeoutMs: read(keepAliveTimeoutSetting) ?? d.keepAliveTimeoutMs,
    upstreamKeepAliveTimeoutMs: read(upstreamKeepAliveTimeoutSetting) ?? d.upstreamKeepAliveTimeoutMs,
    maxRequestsPerConnection: read(maxRequestsPerConnectionSetting) ?? d.maxRequestsPerConnection,
    compressionTypes: read(compressionTypesSetting) ?? d.compressionTypes,
    compressionMinSize: read(compressionMinSizeSetting) ?? d.compressionMinSize,
    clientBodyTimeoutMs: values[clientBodyTimeoutSetting] === undefined ? d.clientBodyTimeoutMs : (read(clientBodyTimeoutSetting) ?? null),
    maxConnectionsPerWorker: read(maxConnectionsPerWorkerSetting) ?? d.maxConnectionsPerWorker,
  };
  const errorPages = errorPagesOf(values);
  const globalHeaders = read(globalResponseHeadersSetting);
  let out: ServerSettings = settings;
  // Each written only when set, so tables without them keep their versions.
  if (errorPages !== null) out = { ...out, errorPages };
  if (globalHeaders !== undefined && globalHeaders.length !== 0) out = { ...out, globalResponseHeaders: globalHeaders };
  return { settings: out, headerTimeoutCapped };
}
