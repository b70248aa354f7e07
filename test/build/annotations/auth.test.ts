import { describe, expect, it } from "vitest";
import { authFamily, parseAuth, parseHtpasswd, type AuthValue } from "../../../src/build/index.js";

const type = "proxypass.io/auth-type";
const secret = "proxypass.io/auth-secret";
const realm = "proxypass.io/auth-realm";
const url = "proxypass.io/auth-url";
const headers = "proxypass.io/auth-response-headers";
const timeout = "proxypass.io/auth-timeout";

describe("auth annotations: values", () => {
  it.each<{ name: string; annotations: Readonly<Record<string, string>>; expected: AuthValue }>([
    { name: "none: no auth", annotations: {}, expected: { basic: null, external: null } },
    { name: "basic with the default realm", annotations: { [type]: "basic", [secret]: "users" }, expected: { basic: { secret: "users", realm: "Authentication Required" }, external: null } },
    { name: "basic with namespace/name and a realm", annotations: { [type]: "basic", [secret]: "team/users", [realm]: 'Staff "only"' }, expected: { basic: { secret: "team/users", realm: 'Staff "only"' }, external: null } },
    {
      name: "external: URL normalised, header names lower-cased, de-duplicated and sorted, default timeout",
      annotations: { [url]: "HTTPS://Auth.Example.com:443/check?a=1", [headers]: "X-User, x-groups,X-USER" },
      expected: { basic: null, external: { url: "https://auth.example.com/check?a=1", responseHeaders: ["x-groups", "x-user"], timeoutMs: 5000 } },
    },
    { name: "external with auth-timeout", annotations: { [url]: "http://10.0.0.1:9000/", [timeout]: "0.25" }, expected: { basic: null, external: { url: "http://10.0.0.1:9000/", responseHeaders: [], timeoutMs: 250 } } },
    {
      name: "both kinds",
      annotations: { [type]: "basic", [secret]: "users", [url]: "http://auth/check" },
      expected: { basic: { secret: "users", realm: "Authentication Required" }, external: { url: "http://auth/check", responseHeaders: [], timeoutMs: 5000 } },
    },
  ])("$name", ({ annotations, expected }) => {
    const parsed = parseAuth(annotations);
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.value).toEqual(expected);
  });

  it.each<{ name: string; annotations: Readonly<Record<string, string>>; key: string; reason: RegExp }>([
    { name: "digest is not supported", annotations: { [type]: "digest", [secret]: "users" }, key: type, reason: /must be "basic"/ },
    { name: "auth-type without auth-secret", annotations: { [type]: "basic" }, key: type, reason: /needs proxypass.io\/auth-secret/ },
    { name: "auth-secret without auth-type (would leave the route open)", annotations: { [secret]: "users" }, key: secret, reason: /needs proxypass.io\/auth-type: basic/ },
    { name: "auth-realm without auth-type", annotations: { [realm]: "x" }, key: realm, reason: /needs proxypass.io\/auth-type/ },
    { name: "a Secret name that is not a DNS subdomain", annotations: { [type]: "basic", [secret]: "Users_1" }, key: secret, reason: /must name a Secret/ },
    { name: "a realm with a control character", annotations: { [type]: "basic", [secret]: "u", [realm]: "a\nb" }, key: realm, reason: /printable ASCII/ },
    { name: "a realm too long", annotations: { [type]: "basic", [secret]: "u", [realm]: "x".repeat(129) }, key: realm, reason: /at most 128/ },
    { name: "a relative auth-url", annotations: { [url]: "/check" }, key: url, reason: /absolute http or https URL/ },
    { name: "a non-http auth-url", annotations: { [url]: "ftp://auth/check" }, key: url, reason: /http or https/ },
    { name: "credentials in auth-url", annotations: { [url]: "http://user:pw@auth/check" }, key: url, reason: /credentials/ },
    { name: "an nginx variable in auth-url (nothing is interpolated)", annotations: { [url]: "http://auth/check?u=$request_uri" }, key: url, reason: /interpolated/ },
    { name: "spaces in auth-url", annotations: { [url]: "http://auth/a b" }, key: url, reason: /without spaces/ },
    { name: "a fragment in auth-url", annotations: { [url]: "http://auth/check#x" }, key: url, reason: /fragment/ },
    { name: "response headers without auth-url", annotations: { [headers]: "X-User" }, key: headers, reason: /needs proxypass.io\/auth-url/ },
    { name: "a response header that is not a token", annotations: { [url]: "http://auth/", [headers]: "X User" }, key: headers, reason: /not a header name/ },
    { name: "a framing response header", annotations: { [url]: "http://auth/", [headers]: "Content-Length" }, key: headers, reason: /content-length cannot be copied/ },
    { name: "Host as a response header", annotations: { [url]: "http://auth/", [headers]: "host" }, key: headers, reason: /host cannot be copied/ },
    { name: "X-Forwarded-For as a response header", annotations: { [url]: "http://auth/", [headers]: "X-Forwarded-For" }, key: headers, reason: /the proxy writes it/ },
    { name: "auth-timeout of 0", annotations: { [url]: "http://auth/", [timeout]: "0" }, key: timeout, reason: /from 0.1 to 60/ },
    { name: "auth-timeout over a minute", annotations: { [url]: "http://auth/", [timeout]: "61" }, key: timeout, reason: /from 0.1 to 60/ },
  ])("InvalidAnnotation: $name", ({ annotations, key, reason }) => {
    const parsed = parseAuth(annotations);
    expect(parsed.value).toEqual({ basic: null, external: null });
    expect(parsed.diagnostics.map((d) => ({ severity: d.severity, reason: d.reason, key: d.key }))).toEqual([{ severity: "error", reason: "InvalidAnnotation", key }]);
    expect(parsed.diagnostics[0]?.message).toMatch(reason);
  });

  it("is an implemented family with a doc row per key", () => {
    expect(authFamily.implemented).toBe(true);
    expect(authFamily.docs.map((d) => d.key)).toEqual([...authFamily.keys]);
  });
});

describe("htpasswd", () => {
  const bcrypt = "$2y$05$8LdFxMY.RirjIoX/zfS7T.la9XEImG3aClrA9pWc8jCpolkF9KU1.";
  const apr1 = "$apr1$26rQOMbq$.gPyGISN3ovkqjc7naiZa0";
  const sha = "{SHA}z0jT3TdveclVlHs5WCpg5cPeIe8=";

  it("parses bcrypt, apr1 and {SHA} lines, skips blanks, comments and CR, sorts by user, first line of a user wins", () => {
    const parsed = parseHtpasswd(`# users\r\nzed:${sha}\r\n\namy:${apr1}\nbob:${bcrypt}\nzed:${apr1}\n`);
    expect(parsed).toEqual({ ok: true, entries: [{ user: "amy", hash: apr1 }, { user: "bob", hash: bcrypt }, { user: "zed", hash: sha }], duplicates: ["zed"] });
  });

  it.each([
    { name: "DES crypt", text: "old:rv2pkBlkgxiEc", reason: /unsupported password hash \(DES crypt\)/ },
    { name: "MD5-crypt", text: "u:$1$abc$0123456789012345678901", reason: /MD5-crypt/ },
    { name: "SHA-512 crypt", text: "u:$6$salt$hash", reason: /SHA-crypt/ },
    { name: "plain text", text: "u:password", reason: /plain text or unknown/ },
    { name: "no colon", text: "just-a-user", reason: /is not "user:hash"/ },
    { name: "empty user", text: `:${sha}`, reason: /is not "user:hash"/ },
    { name: "bcrypt cost above 12", text: "u:$2y$13$8LdFxMY.RirjIoX/zfS7T.la9XEImG3aClrA9pWc8jCpolkF9KU1.", reason: /cost 13 is outside 4-12/ },
    { name: "only comments", text: "# nobody\n\n", reason: /no user lines/ },
    { name: "a bad line after good ones", text: `amy:${apr1}\nbad line`, reason: /^line 2 / },
  ])("refuses $name", ({ text, reason }) => {
    const parsed = parseHtpasswd(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });
});
