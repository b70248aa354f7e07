import { describe, expect, it } from "vitest";
import { headersFamily, parseHeaderRules, parseHeaders, type HeadersValue } from "../../../src/build/index.js";

const req = "proxypass.io/request-headers";
const res = "proxypass.io/response-headers";

const none: Readonly<Record<string, string>> = {};

describe("headers annotations: values", () => {
  it.each<{ name: string; annotations: Readonly<Record<string, string>>; expected: HeadersValue }>([
    { name: "defaults: preserve host, no vhost, no rules", annotations: none, expected: { preserveHost: true, upstreamVhost: null, requestHeaders: [], responseHeaders: [] } },
    { name: "preserve-host false", annotations: { "proxypass.io/preserve-host": "false" }, expected: { preserveHost: false, upstreamVhost: null, requestHeaders: [], responseHeaders: [] } },
    { name: "preserve-host true", annotations: { "proxypass.io/preserve-host": "true" }, expected: { preserveHost: true, upstreamVhost: null, requestHeaders: [], responseHeaders: [] } },
    { name: "upstream-vhost host is lower-cased", annotations: { "proxypass.io/upstream-vhost": "API.Example.com" }, expected: { preserveHost: true, upstreamVhost: "api.example.com", requestHeaders: [], responseHeaders: [] } },
    { name: "upstream-vhost with port", annotations: { "proxypass.io/upstream-vhost": "api.internal:8443" }, expected: { preserveHost: true, upstreamVhost: "api.internal:8443", requestHeaders: [], responseHeaders: [] } },
    { name: "upstream-vhost IPv4", annotations: { "proxypass.io/upstream-vhost": "10.0.0.1:80" }, expected: { preserveHost: true, upstreamVhost: "10.0.0.1:80", requestHeaders: [], responseHeaders: [] } },
    { name: "upstream-vhost bracketed IPv6", annotations: { "proxypass.io/upstream-vhost": "[fd00::1]:8080" }, expected: { preserveHost: true, upstreamVhost: "[fd00::1]:8080", requestHeaders: [], responseHeaders: [] } },
    {
      name: "request and response rules are parsed separately",
      annotations: { [req]: "set X-A 1", [res]: "unset Server" },
      expected: { preserveHost: true, upstreamVhost: null, requestHeaders: [{ op: "set", name: "x-a", value: "1" }], responseHeaders: [{ op: "unset", name: "server", value: "" }] },
    },
  ])("$name", ({ annotations, expected }) => {
    const parsed = parseHeaders(annotations);
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.value).toEqual(expected);
  });

  it.each([
    { name: "preserve-host must be exactly true or false", key: "proxypass.io/preserve-host", value: "yes", reason: /must be "true" or "false"/ },
    { name: "preserve-host is case-sensitive", key: "proxypass.io/preserve-host", value: "True", reason: /must be "true" or "false"/ },
    { name: "upstream-vhost rejects a URL", key: "proxypass.io/upstream-vhost", value: "http://a.example.com", reason: /host/ },
    { name: "upstream-vhost rejects a path", key: "proxypass.io/upstream-vhost", value: "a.example.com/x", reason: /DNS name/ },
    { name: "upstream-vhost rejects port 0", key: "proxypass.io/upstream-vhost", value: "a.example.com:0", reason: /port must be 1-65535/ },
    { name: "upstream-vhost rejects port 70000", key: "proxypass.io/upstream-vhost", value: "a.example.com:70000", reason: /port must be 1-65535/ },
    { name: "upstream-vhost rejects CRLF injection", key: "proxypass.io/upstream-vhost", value: "a.example.com\r\nX: y", reason: /host/ },
    { name: "rules reject CR anywhere", key: req, value: "set X-A 1\r\nset X-B 2", reason: /contains CR/ },
  ])("$name", ({ key, value, reason }) => {
    const parsed = parseHeaders({ [key]: value });
    expect(parsed.diagnostics).toEqual([{ severity: "error", reason: "InvalidAnnotation", key, message: expect.stringMatching(reason), detail: expect.stringMatching(reason) }]);
    expect(parsed.value).toEqual(headersFamily.parse({}).value);
  });

  it("reports each invalid key", () => {
    const parsed = parseHeaders({ "proxypass.io/preserve-host": "no", [res]: "drop X" });
    expect(parsed.diagnostics.map((d) => d.key).sort()).toEqual(["proxypass.io/preserve-host", res]);
  });
});

describe("header rule lines", () => {
  it.each([
    { name: "set NAME VALUE", text: "set X-Env prod", rules: [{ op: "set", name: "x-env", value: "prod" }] },
    { name: "add keeps inner spaces and tabs of the value", text: "add X-T  a b\tc", rules: [{ op: "add", name: "x-t", value: "a b\tc" }] },
    { name: "append", text: "append Vary Accept-Encoding", rules: [{ op: "append", name: "vary", value: "Accept-Encoding" }] },
    { name: "unset NAME", text: "unset Cookie", rules: [{ op: "unset", name: "cookie", value: "" }] },
    { name: "operations are case-insensitive", text: "SET X-A 1", rules: [{ op: "set", name: "x-a", value: "1" }] },
    { name: "a value in double quotes is unquoted", text: 'set X-A "a b"', rules: [{ op: "set", name: "x-a", value: "a b" }] },
    { name: '"" is the empty value', text: 'set X-A ""', rules: [{ op: "set", name: "x-a", value: "" }] },
    { name: "blank lines, comments and surrounding blanks are skipped", text: "\n  # note\n\tset X-A 1  \n\n", rules: [{ op: "set", name: "x-a", value: "1" }] },
    { name: "obs-text (Latin-1) values are allowed", text: "set X-A caf\u00e9", rules: [{ op: "set", name: "x-a", value: "caf\u00e9" }] },
    { name: "several lines keep their order", text: "set X-B 2\nset X-A 1", rules: [{ op: "set", name: "x-b", value: "2" }, { op: "set", name: "x-a", value: "1" }] },
  ])("$name", ({ text, rules }) => {
    expect(parseHeaderRules(text)).toEqual({ ok: true, rules });
  });

  it.each([
    { name: "an unknown operation is rejected", text: "drop X-A", reason: /line 1: expected "set NAME VALUE"/ },
    { name: "set without a value is rejected", text: "set X-A", reason: /"set" needs a value/ },
    { name: "unset with a value is rejected", text: "unset X-A 1", reason: /"unset" takes only a header name/ },
    { name: "a name that is not a token is rejected", text: "set X(A) 1", reason: /not an RFC 9110 token/ },
    { name: "a colon in the name is rejected", text: "set X-A: 1", reason: /not an RFC 9110 token/ },
    { name: "NUL in the value is rejected", text: "set X-A a\u0000b", reason: /U\+0000/ },
    { name: "other control characters are rejected", text: "set X-A a\u001bb", reason: /U\+001B/ },
    { name: "DEL is rejected", text: "set X-A a\u007fb", reason: /U\+007F/ },
    { name: "characters beyond Latin-1 are rejected", text: "set X-A \u20ac", reason: /U\+20AC/ },
    { name: "the line number is reported", text: "set X-A 1\nbogus", reason: /^line 2:/ },
    { name: "Host cannot be set; upstream-vhost is named", text: "set Host a.example.com", reason: /upstream-vhost/ },
    { name: "Content-Length cannot be changed", text: "unset Content-Length", reason: /content-length cannot be changed: it frames/ },
    { name: "Transfer-Encoding cannot be changed", text: "set Transfer-Encoding chunked", reason: /transfer-encoding cannot be changed/ },
    { name: "Connection cannot be changed", text: "set Connection close", reason: /hop-by-hop/ },
    { name: "Keep-Alive cannot be changed", text: "set Keep-Alive timeout=5", reason: /hop-by-hop/ },
    { name: "TE cannot be changed", text: "set TE trailers", reason: /hop-by-hop/ },
    { name: "Upgrade cannot be changed", text: "set Upgrade websocket", reason: /hop-by-hop/ },
    { name: "Trailer cannot be changed", text: "set Trailer X", reason: /hop-by-hop/ },
    { name: "Proxy-Connection cannot be changed", text: "set Proxy-Connection close", reason: /hop-by-hop/ },
    { name: "forbidden names match case-insensitively", text: "set CONTENT-length 1", reason: /content-length/ },
    { name: "Proxy-Authorization cannot be changed (any proxy-* header)", text: "set Proxy-Authorization Basic eA==", reason: /proxy-authorization cannot be changed: proxy-\* headers/ },
    { name: "Proxy-Authenticate cannot be unset", text: "unset Proxy-Authenticate", reason: /proxy-authenticate cannot be changed/ },
    { name: "CR alone in a value is rejected", text: "set X-A a\rb", reason: /U\+000D/ },
    { name: "LF splits lines: a second header smuggled on the next line is not a rule", text: "set X-A a\nContent-Length: 0", reason: /^line 2:/ },
    { name: "Host cannot be unset either", text: "unset Host", reason: /upstream-vhost/ },
    { name: "more than 64 rules are rejected", text: Array.from({ length: 65 }, (_, i) => `set X-${i} v`).join("\n"), reason: /at most 64 rules/ },
    { name: "values over 4096 characters are rejected", text: `set X-A ${"a".repeat(4097)}`, reason: /longer than 4096/ },
  ])("$name", ({ text, reason }) => {
    const outcome = parseHeaderRules(text);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.reason).toMatch(reason);
  });
});
