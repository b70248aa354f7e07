// Property test (fast-check): header rewriting never emits CR, LF or another character node:http
// refuses. Arbitrary request-headers/response-headers annotation text (injection attempts included)
// goes through the annotation parser; whatever it accepts is compiled into HeaderRules and applied
// to arbitrary clean header lists; every name must stay a token and every value pass node's own
// validateHeaderValue (what writeHead and undici would otherwise throw on, or worse, send).
import fc from "fast-check";
import { validateHeaderName, validateHeaderValue } from "node:http";
import { describe, expect, it } from "vitest";
import { parseAnnotations } from "../../src/build/index.js";
import { HeaderRules } from "../../src/dataplane/index.js";

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const name = fc.oneof(fc.constantFrom("X-A", "x-a", "Server", "Cache-Control", "Set-Cookie", "X-Frame-Options", "Host", "Content-Length", "Connection"), fc.string({ unit: "binary-ascii", minLength: 1, maxLength: 12 }));
const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("a\rInjected: x", "a\r\nSet-Cookie: evil=1", "a\nb", "a\u0000b", "é", "\u2028", "a\tb", " padded ", "%0d%0aX: y"),
);
const line = fc.tuple(fc.constantFrom("set", "add", "append", "unset", "SET", "edit", ""), name, text).map(([op, n, v]) => `${op} ${n} ${v}`.trimEnd());
const annotationText = fc.oneof(fc.array(line, { minLength: 1, maxLength: 5 }).map((ls) => ls.join("\n")), fc.array(line, { minLength: 1, maxLength: 3 }).map((ls) => ls.join("\r\n")), fc.string({ unit: "binary", maxLength: 60 }));
const cleanHeaders = fc.array(fc.tuple(fc.constantFrom("x-a", "server", "cache-control", "set-cookie", "accept", "x-b"), fc.stringMatching(/^[ -~]{0,20}$/)), { maxLength: 8 }).map((pairs) => pairs.flatMap(([n, v]) => [n, v.trim()]));

function assertClean(flat: ReadonlyArray<string>): void {
  expect(flat.length % 2).toBe(0);
  for (let i = 0; i < flat.length; i += 2) {
    const n = flat[i] ?? "";
    const v = flat[i + 1] ?? "";
    expect(TOKEN.test(n)).toBe(true);
    expect(() => validateHeaderName(n)).not.toThrow();
    expect(() => validateHeaderValue(n, v)).not.toThrow();
    // eslint-disable-next-line no-control-regex
    expect(/[\r\n\u0000]/.test(v)).toBe(false);
  }
}

describe("header rewriting never emits CR/LF", () => {
  it.each([
    { side: "request", key: "proxypass.io/request-headers" },
    { side: "response", key: "proxypass.io/response-headers" },
  ])("$side rules: whatever the parser accepts, applied to any clean headers, gives valid header lines", ({ side, key }) => {
    let accepted = 0;
    fc.assert(
      fc.property(annotationText, cleanHeaders, (value, headers) => {
        const parsed = parseAnnotations({ [key]: value });
        if (parsed.findings.some((f) => f.severity === "error")) return;
        accepted++;
        const rules = side === "request" ? parsed.options.requestHeaders : parsed.options.responseHeaders;
        const compiled = HeaderRules.compile(rules);
        const flat = [...headers];
        compiled?.apply(flat);
        assertClean(flat);
      }),
      { numRuns: 1500, seed: 12 },
    );
    // The property must not hold vacuously: many generated rule sets are valid ones.
    expect(accepted).toBeGreaterThan(50);
  });
});
