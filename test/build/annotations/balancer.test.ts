import { describe, expect, it } from "vitest";
import { balancerFamily, parseBalancer, type BalancerValue } from "../../../src/build/index.js";

const none: Readonly<Record<string, string>> = {};
const defaults: BalancerValue = { lbmethod: "byrequests", sticky: null, hotStandby: null, canary: null };

describe("balancer annotations", () => {
  it.each<{ name: string; annotations: Readonly<Record<string, string>>; expected: BalancerValue }>([
    { name: "no keys: byrequests, no stickiness, no standby, not a canary", annotations: none, expected: defaults },
    ...(["byrequests", "bytraffic", "bybusyness", "random2"] as const).map((m) => ({ name: `lbmethod ${m}`, annotations: { "proxypass.io/lbmethod": m }, expected: { ...defaults, lbmethod: m } })),
    { name: "sticky-session with a cookie name", annotations: { "proxypass.io/sticky-session": "ROUTEID" }, expected: { ...defaults, sticky: { cookie: "ROUTEID", param: null, noFailover: false } } },
    { name: "sticky-session COOKIE|param", annotations: { "proxypass.io/sticky-session": "JSESSIONID|jsessionid" }, expected: { ...defaults, sticky: { cookie: "JSESSIONID", param: "jsessionid", noFailover: false } } },
    { name: "sticky-nofailover with a sticky session", annotations: { "proxypass.io/sticky-session": "ROUTEID", "proxypass.io/sticky-nofailover": "true" }, expected: { ...defaults, sticky: { cookie: "ROUTEID", param: null, noFailover: true } } },
    { name: "hot-standby with a port number", annotations: { "proxypass.io/hot-standby": "web-spare:8080" }, expected: { ...defaults, hotStandby: { service: "web-spare", port: 8080 } } },
    { name: "hot-standby with a port name", annotations: { "proxypass.io/hot-standby": "web-spare:http" }, expected: { ...defaults, hotStandby: { service: "web-spare", port: "http" } } },
    { name: "canary alone: weight 0, no header, no cookie", annotations: { "proxypass.io/canary": "true" }, expected: { ...defaults, canary: { weight: 0, byHeader: null, byCookie: null } } },
    {
      name: "canary with weight, header (lower-cased) and cookie",
      annotations: { "proxypass.io/canary": "true", "proxypass.io/canary-weight": "100", "proxypass.io/canary-by-header": "X-Canary", "proxypass.io/canary-by-cookie": "canary_me" },
      expected: { ...defaults, canary: { weight: 100, byHeader: "x-canary", byCookie: "canary_me" } },
    },
    { name: "canary false is not a canary", annotations: { "proxypass.io/canary": "false" }, expected: defaults },
  ])("$name", ({ annotations, expected }) => {
    const parsed = parseBalancer(annotations);
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.value).toEqual(expected);
  });

  it.each([
    { name: "an unknown lbmethod", key: "proxypass.io/lbmethod", value: "roundrobin", reason: /byrequests, bytraffic, bybusyness or random2/ },
    { name: "heartbeat is not offered", key: "proxypass.io/lbmethod", value: "heartbeat", reason: /byrequests/ },
    { name: "a cookie name with a space", key: "proxypass.io/sticky-session", value: "ROUTE ID", reason: /cookie name/ },
    { name: "a cookie name with ;", key: "proxypass.io/sticky-session", value: "A;B", reason: /cookie name/ },
    { name: "an empty cookie name", key: "proxypass.io/sticky-session", value: "|p", reason: /cookie name/ },
    { name: "a URL parameter with =", key: "proxypass.io/sticky-session", value: "A|b=c", reason: /URL parameter/ },
    { name: "a sticky-session longer than 64 characters", key: "proxypass.io/sticky-session", value: "A".repeat(65), reason: /at most 64/ },
    { name: "sticky-nofailover yes", key: "proxypass.io/sticky-nofailover", value: "yes", reason: /"true" or "false"/ },
    { name: "hot-standby without a port", key: "proxypass.io/hot-standby", value: "spare", reason: /SERVICE:PORT/ },
    { name: "hot-standby in another namespace", key: "proxypass.io/hot-standby", value: "other/spare:80", reason: /DNS-1035/ },
    { name: "hot-standby Service starting with a digit", key: "proxypass.io/hot-standby", value: "1spare:80", reason: /DNS-1035/ },
    { name: "hot-standby port 0", key: "proxypass.io/hot-standby", value: "spare:0", reason: /from 1 to 65535/ },
    { name: "hot-standby port 65536", key: "proxypass.io/hot-standby", value: "spare:65536", reason: /from 1 to 65535/ },
    { name: "hot-standby port name with upper case", key: "proxypass.io/hot-standby", value: "spare:HTTP", reason: /neither a number nor a port name/ },
    { name: "canary yes", key: "proxypass.io/canary", value: "yes", reason: /"true" or "false"/ },
    { name: "canary-weight 101", key: "proxypass.io/canary-weight", value: "101", reason: /0 to 100/ },
    { name: "canary-weight with a percent sign", key: "proxypass.io/canary-weight", value: "50%", reason: /0 to 100/ },
    { name: "canary-by-header with a colon", key: "proxypass.io/canary-by-header", value: "X-Canary:", reason: /header name/ },
    { name: "canary-by-cookie with a space", key: "proxypass.io/canary-by-cookie", value: "a b", reason: /cookie name/ },
  ])("$name is rejected", ({ key, value, reason }) => {
    const annotations = key.startsWith("proxypass.io/canary-") ? { "proxypass.io/canary": "true", [key]: value } : { [key]: value };
    const parsed = parseBalancer(annotations);
    expect(parsed.diagnostics).toHaveLength(1);
    expect(parsed.diagnostics[0]).toMatchObject({ severity: "error", reason: "InvalidAnnotation", key, message: expect.stringMatching(reason) });
    expect(parsed.value).toEqual(defaults);
  });

  it.each<{ name: string; annotations: Readonly<Record<string, string>>; keys: string[] }>([
    { name: "canary-* without canary: true are ignored with a warning", annotations: { "proxypass.io/canary-weight": "10", "proxypass.io/canary-by-header": "x-c" }, keys: ["proxypass.io/canary-weight", "proxypass.io/canary-by-header"] },
    { name: "sticky-nofailover without sticky-session is ignored with a warning", annotations: { "proxypass.io/sticky-nofailover": "true" }, keys: ["proxypass.io/sticky-nofailover"] },
  ])("$name", ({ annotations, keys }) => {
    const parsed = parseBalancer(annotations);
    expect(parsed.value).toEqual(defaults);
    expect(parsed.diagnostics.map((d) => [d.severity, d.reason, d.key])).toEqual(keys.map((k) => ["warning", "AnnotationIgnored", k]));
  });

  it("documents every key it parses", () => {
    expect(balancerFamily.implemented).toBe(true);
    expect(balancerFamily.docs.map((d) => d.key)).toEqual(balancerFamily.keys);
    expect(balancerFamily.docs.map((d) => d.default)).toEqual(["byrequests", "none", "false", "none", "false", "0", "none", "none"]);
  });
});
