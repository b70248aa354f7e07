// Path mapping annotations (issue #6): rewrite-target (ProxyPass /public/ http://member/target/),
// app-root (RedirectMatch ^/$), proxy-pass-reverse (ProxyPassReverse, ProxyPassReverseCookiePath and
// ProxyPassReverseCookieDomain). No value ever becomes a regex (STYLE 7): rewrite-target is a plain
// prefix that replaces the matched Prefix path; ingress-nginx's capture groups (`/$2`) are refused
// with a message that says how to write the same mapping with a Prefix path.
import { z } from "zod";
import { parseWithSchema, type AnnotationDoc, type AnnotationFamily, type Annotations, type AnnotationParse } from "./family.js";

export interface RewriteValue {
  readonly rewriteTarget: string | null;
  readonly appRoot: string | null;
  /** null = not set: on when the path is mapped or the Host sent upstream differs from the client's. */
  readonly proxyPassReverse: boolean | null;
}

export const rewriteTargetKey = "proxypass.io/rewrite-target";
export const proxyPassReverseKey = "proxypass.io/proxy-pass-reverse";
export const appRootKey = "proxypass.io/app-root";
export const rewriteKeys: ReadonlyArray<string> = [rewriteTargetKey, proxyPassReverseKey, appRootKey];

export const maxPathLength = 1024;

/** RFC 3986 pchar plus "/", without "%" (checked separately) and "$" (refused with its own message). */
const pathCharacter = /^[A-Za-z0-9\-._~!&'()*+,;=:@/]$/;

const captureGroupHelp =
  "capture groups like $1/$2 are ingress-nginx regex syntax and proxypass-ingress has no regex paths; " +
  "put the part to strip in the rule's path with pathType Prefix and give the replacement prefix here: " +
  "path /api/users (Prefix) with rewrite-target / sends /api/users/42 as /42, like path /api/users(/|$)(.*) with rewrite-target /$2";

/** Why `value` is not an absolute path we can send upstream, or null. `query`: a "?query" part is allowed. */
export function checkUrlPath(value: string, query: boolean): string | null {
  if (!value.startsWith("/")) return 'must be a path starting with "/"';
  if (value.length > maxPathLength) return `must be at most ${maxPathLength} characters`;
  if (value.startsWith("//")) return 'must not start with "//" (that would name a host)';
  const q = value.indexOf("?");
  if (q !== -1 && !query) return 'must be a path without "?query"';
  const path = q === -1 ? value : value.slice(0, q);
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === "$") return captureGroupHelp;
    if (c === "%") {
      if (!/^%[0-9A-Fa-f]{2}$/.test(value.slice(i, i + 3))) return 'has a "%" that is not followed by two hex digits';
      continue;
    }
    if (q !== -1 && i >= q && (c === "?" || c === "/")) continue; // RFC 3986 query characters
    if (!pathCharacter.test(c)) return `contains ${JSON.stringify(c)}, which is not allowed in a URL path (percent-encode it)`;
  }
  for (const segment of path.split("/")) {
    if (segment === "." || segment === "..") return 'must not contain "." or ".." segments';
  }
  return null;
}

function pathSchema(query: boolean) {
  return z.string().transform((text, ctx): string => {
    const why = checkUrlPath(text, query);
    if (why === null) return text;
    ctx.addIssue({ code: "custom", message: why });
    return z.NEVER;
  });
}

export const rewriteSchema = z
  .object({
    [rewriteTargetKey]: pathSchema(false).optional(),
    [proxyPassReverseKey]: z.enum(["true", "false"], 'must be "true" or "false"').optional(),
    [appRootKey]: pathSchema(true).optional(),
  })
  .transform(
    (v): RewriteValue => ({
      rewriteTarget: v[rewriteTargetKey] ?? null,
      appRoot: v[appRootKey] ?? null,
      proxyPassReverse: v[proxyPassReverseKey] === undefined ? null : v[proxyPassReverseKey] === "true",
    }),
  );

export const defaultRewrite: RewriteValue = Object.freeze({ rewriteTarget: null, appRoot: null, proxyPassReverse: null });

export const rewriteDocs: ReadonlyArray<AnnotationDoc> = [
  {
    key: rewriteTargetKey,
    values: "path starting with / (no $ capture groups, no query)",
    default: "none",
    description:
      "path that replaces the matched Prefix upstream, query and percent-encoding kept as sent (ProxyPass /a/ http://b/x/); an Exact path is replaced whole; X-Forwarded-Prefix tells the member the public prefix; per Ingress only",
  },
  {
    key: proxyPassReverseKey,
    values: '"true" / "false"',
    default: "true when the path is mapped or the Host sent upstream is changed",
    description: "map member URLs in Location, Content-Location, URI and Refresh, and Set-Cookie Path and Domain, back to the public ones (ProxyPassReverse, ProxyPassReverseCookiePath/Domain)",
  },
  { key: appRootKey, values: "path starting with /, optional ?query", default: "none", description: "a request for exactly / on the Ingress's hosts is redirected there with 302; per Ingress only" },
];

export function parseRewrite(annotations: Annotations): AnnotationParse<RewriteValue> {
  return parseWithSchema(rewriteSchema, annotations, rewriteKeys, defaultRewrite);
}

export const rewriteFamily: AnnotationFamily<RewriteValue> = {
  name: "rewrite",
  implemented: true,
  keys: rewriteKeys,
  docs: rewriteDocs,
  parse: parseRewrite,
};
