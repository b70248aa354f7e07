import { describe, expect, it } from "vitest";
import { parseAnnotations, rewriteFamily } from "../../../src/build/index.js";

const T = "proxypass.io/rewrite-target";
const R = "proxypass.io/proxy-pass-reverse";
const A = "proxypass.io/app-root";

describe("rewrite annotations", () => {
  it.each<{ name: string; annotations: Record<string, string>; want: { rewriteTarget: string | null; appRoot: string | null; proxyPassReverse: boolean } }>([
    { name: "none: no mapping, ProxyPassReverse off", annotations: {}, want: { rewriteTarget: null, appRoot: null, proxyPassReverse: false } },
    { name: "rewrite-target turns ProxyPassReverse on", annotations: { [T]: "/" }, want: { rewriteTarget: "/", appRoot: null, proxyPassReverse: true } },
    { name: "percent-encoded bytes are accepted as written", annotations: { [T]: "/a%2Fb/%C3%A9" }, want: { rewriteTarget: "/a%2Fb/%C3%A9", appRoot: null, proxyPassReverse: true } },
    { name: "proxy-pass-reverse false wins", annotations: { [T]: "/v2", [R]: "false" }, want: { rewriteTarget: "/v2", appRoot: null, proxyPassReverse: false } },
    { name: "upstream-vhost turns it on", annotations: { "proxypass.io/upstream-vhost": "in.local" }, want: { rewriteTarget: null, appRoot: null, proxyPassReverse: true } },
    { name: 'preserve-host "false" turns it on', annotations: { "proxypass.io/preserve-host": "false" }, want: { rewriteTarget: null, appRoot: null, proxyPassReverse: true } },
    { name: "explicitly on without a mapping", annotations: { [R]: "true" }, want: { rewriteTarget: null, appRoot: null, proxyPassReverse: true } },
    { name: "app-root with a query", annotations: { [A]: "/app/?tab=a/b" }, want: { rewriteTarget: null, appRoot: "/app/?tab=a/b", proxyPassReverse: false } },
  ])("$name", ({ annotations, want }) => {
    const parsed = parseAnnotations(annotations);
    expect(parsed.findings).toEqual([]);
    expect({ rewriteTarget: parsed.options.rewriteTarget, appRoot: parsed.options.appRoot, proxyPassReverse: parsed.options.proxyPassReverse }).toEqual(want);
  });

  it.each([
    { name: "a capture group is refused with the Prefix way to write it", key: T, value: "/$2", message: /capture groups like \$1\/\$2 are ingress-nginx regex syntax.*pathType Prefix/ },
    { name: "a relative path", key: T, value: "new", message: /must be a path starting with "\/"/ },
    { name: "a query in rewrite-target", key: T, value: "/a?b", message: /without "\?query"/ },
    { name: "a host-naming //", key: T, value: "//evil.example/x", message: /must not start with "\/\/"/ },
    { name: "a space", key: T, value: "/a b", message: /contains " "/ },
    { name: "a bad percent escape", key: T, value: "/a%zz", message: /two hex digits/ },
    { name: "a dot segment", key: T, value: "/a/../b", message: /"\." or "\.\." segments/ },
    { name: "CR/LF", key: A, value: "/a\r\nx: y", message: /not allowed/ },
    { name: "a fragment", key: A, value: "/a#b", message: /not allowed/ },
    { name: "proxy-pass-reverse not a boolean", key: R, value: "yes", message: /"true" or "false"/ },
  ])("$name is an InvalidAnnotation", ({ key, value, message }) => {
    const parsed = rewriteFamily.parse({ [key]: value });
    expect(parsed.diagnostics).toHaveLength(1);
    expect(parsed.diagnostics[0]).toMatchObject({ severity: "error", reason: "InvalidAnnotation", key });
    expect(parsed.diagnostics[0]?.message).toMatch(message);
  });
});
