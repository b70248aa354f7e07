// Header annotations: preserve-host (ProxyPreserveHost), upstream-vhost, request-headers
// (RequestHeader) and response-headers (Header always).
import { z } from "zod";
import type { HeaderRule } from "../../model/index.js";
import { checkHostPort } from "../host.js";
import { parseWithSchema, type AnnotationDoc, type AnnotationFamily, type Annotations, type AnnotationParse } from "./family.js";

export interface HeadersValue {
  readonly preserveHost: boolean;
  readonly upstreamVhost: string | null;
  readonly requestHeaders: ReadonlyArray<HeaderRule>;
  readonly responseHeaders: ReadonlyArray<HeaderRule>;
}

export const preserveHostKey = "proxypass.io/preserve-host";
export const upstreamVhostKey = "proxypass.io/upstream-vhost";
export const requestHeadersKey = "proxypass.io/request-headers";
export const responseHeadersKey = "proxypass.io/response-headers";
export const headersKeys: ReadonlyArray<string> = [preserveHostKey, upstreamVhostKey, requestHeadersKey, responseHeadersKey];

export const maxHeaderRules = 64;
export const maxHeaderValueLength = 4096;

/** RFC 9110 token. */
const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A character outside what Node accepts in a field: HTAB, SP, visible ASCII, obs-text. Catches CR, LF, NUL, DEL. */
const badCharacter = /[^\t\x20-\x7e\x80-\xff]/;

/** Names the proxy owns: hop-by-hop and message framing (RFC 9110 §7.6.1, §8.6, RFC 9112 §6). */
const forbiddenNames: ReadonlyMap<string, string> = new Map([
  ["host", "set the Host sent upstream with proxypass.io/upstream-vhost"],
  ["content-length", "it frames the message and is managed by the proxy"],
  ["transfer-encoding", "it frames the message and is managed by the proxy"],
  ["connection", "it is a hop-by-hop header managed by the proxy"],
  ["keep-alive", "it is a hop-by-hop header managed by the proxy"],
  ["proxy-connection", "it is a hop-by-hop header managed by the proxy"],
  ["te", "it is a hop-by-hop header managed by the proxy"],
  ["trailer", "it is a hop-by-hop header managed by the proxy"],
  ["upgrade", "it is a hop-by-hop header managed by the proxy"],
]);

type RulesOutcome = { readonly ok: true; readonly rules: ReadonlyArray<HeaderRule> } | { readonly ok: false; readonly reason: string };

/**
 * Parses header rule lines: `set NAME VALUE`, `add NAME VALUE`, `append NAME VALUE`, `unset NAME`.
 * Blank lines and lines starting with `#` are skipped. Names are lower-cased. A value wholly in
 * double quotes is unquoted.
 */
export function parseHeaderRules(text: string): RulesOutcome {
  const rules: HeaderRule[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.replace(/^[ \t]+|[ \t]+$/g, "");
    if (line === "" || line.startsWith("#")) continue;
    const rule = parseRuleLine(line);
    if (typeof rule === "string") return { ok: false, reason: `line ${i + 1}: ${rule}` };
    rules.push(rule);
  }
  if (rules.length > maxHeaderRules) return { ok: false, reason: `at most ${maxHeaderRules} rules` };
  return { ok: true, rules };
}

/** A rule, or the reason the line is invalid. */
function parseRuleLine(line: string): HeaderRule | string {
  const control = badCharacter.exec(line);
  if (control !== null) return `contains a control or non-Latin-1 character (U+${control[0].charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()})`;
  const match = /^(\S+)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
  const opText = match?.[1]?.toLowerCase() ?? line.toLowerCase();
  const name = match?.[2];
  const value = unquote(match?.[3] ?? "");
  if (!isOp(opText)) return `expected "set NAME VALUE", "add NAME VALUE", "append NAME VALUE" or "unset NAME"`;
  if (name === undefined) return `"${opText}" needs a header name`;
  if (!tokenPattern.test(name)) return `header name ${JSON.stringify(name)} is not an RFC 9110 token`;
  const lower = name.toLowerCase();
  const why = forbiddenNames.get(lower) ?? (lower.startsWith("proxy-") ? "proxy-* headers are hop-by-hop (Proxy-Authorization, Proxy-Connection...) and managed by the proxy" : undefined);
  if (why !== undefined) return `header ${lower} cannot be changed: ${why}`;
  if (opText === "unset" && match?.[3] !== undefined) return `"unset" takes only a header name`;
  if (opText !== "unset" && match?.[3] === undefined) return `"${opText}" needs a value (use "" for an empty one)`;
  if (value.length > maxHeaderValueLength) return `value of ${lower} is longer than ${maxHeaderValueLength} characters`;
  return { op: opText, name: lower, value };
}

/** Like httpd, a value wholly in double quotes is taken without them ("" is the empty value). */
function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

function isOp(op: string): op is HeaderRule["op"] {
  return op === "set" || op === "add" || op === "append" || op === "unset";
}

const headerRulesSchema = z.string().transform((text, ctx): ReadonlyArray<HeaderRule> => {
  if (text.includes("\r")) {
    ctx.addIssue({ code: "custom", message: "contains CR; put one rule per line separated by LF only" });
    return z.NEVER;
  }
  const outcome = parseHeaderRules(text);
  if (outcome.ok) return outcome.rules;
  ctx.addIssue({ code: "custom", message: outcome.reason });
  return z.NEVER;
});

const upstreamVhostSchema = z.string().transform((text, ctx): string => {
  const checked = checkHostPort(text);
  if (checked.ok) return checked.host;
  ctx.addIssue({ code: "custom", message: checked.reason });
  return z.NEVER;
});

const noRules: ReadonlyArray<HeaderRule> = Object.freeze([]);

export const headersSchema = z
  .object({
    [preserveHostKey]: z.enum(["true", "false"], 'must be "true" or "false"').default("true"),
    [upstreamVhostKey]: upstreamVhostSchema.optional(),
    [requestHeadersKey]: headerRulesSchema.default(noRules),
    [responseHeadersKey]: headerRulesSchema.default(noRules),
  })
  .transform(
    (v): HeadersValue => ({
      preserveHost: v[preserveHostKey] === "true",
      upstreamVhost: v[upstreamVhostKey] ?? null,
      requestHeaders: v[requestHeadersKey],
      responseHeaders: v[responseHeadersKey],
    }),
  );

export const defaultHeaders: HeadersValue = Object.freeze({ preserveHost: true, upstreamVhost: null, requestHeaders: noRules, responseHeaders: noRules });

const ruleSyntax = "lines: set NAME VALUE, add NAME VALUE, append NAME VALUE, unset NAME";

export const headersDocs: ReadonlyArray<AnnotationDoc> = [
  { key: preserveHostKey, values: '"true" / "false"', default: "true", description: "send the client's Host upstream (ProxyPreserveHost); false sends SERVICE.NS.svc.CLUSTER-DOMAIN[:port] (or the ExternalName)" },
  { key: upstreamVhostKey, values: "host[:port]", default: "none", description: "Host sent upstream; overrides preserve-host" },
  { key: requestHeadersKey, values: ruleSyntax, default: "none", description: "edit request headers sent upstream (RequestHeader); Host, Content-Length and hop-by-hop headers are refused" },
  { key: responseHeadersKey, values: ruleSyntax, default: "none", description: "edit response headers sent to the client, on every status (Header always)" },
];

export function parseHeaders(annotations: Annotations): AnnotationParse<HeadersValue> {
  return parseWithSchema(headersSchema, annotations, headersKeys, defaultHeaders);
}

export const headersFamily: AnnotationFamily<HeadersValue> = {
  name: "headers",
  implemented: true,
  keys: headersKeys,
  docs: headersDocs,
  parse: parseHeaders,
};
