// Table tests of the small rule helpers behind the goldens.
import { describe, expect, it } from "vitest";
import { checkHostPort, checkPath, checkRuleHost, compareIngressAge, memberKey, sliceMembers, timestampSeconds } from "../../src/build/index.js";
import { endpointSliceSchema, ingressSchema } from "../../src/model/index.js";

describe("rule hosts", () => {
  it.each([
    { name: "exact host is lower-cased", raw: "App.Example.com", expected: { ok: true, host: "app.example.com" } },
    { name: "one-label wildcard", raw: "*.example.com", expected: { ok: true, host: "*.example.com" } },
    { name: "single-label host", raw: "localhost", expected: { ok: true, host: "localhost" } },
    { name: "a port is invalid", raw: "a.example.com:80", expected: { ok: false, reason: expect.stringContaining("no port") } },
    { name: "a trailing dot is invalid", raw: "a.example.com.", expected: { ok: false, reason: expect.any(String) } },
    { name: "a double wildcard is invalid", raw: "*.*.example.com", expected: { ok: false, reason: expect.stringContaining("wildcard") } },
    { name: "an inner wildcard is invalid", raw: "a.*.com", expected: { ok: false, reason: expect.stringContaining("wildcard") } },
    { name: "a partial-label wildcard is invalid", raw: "*a.example.com", expected: { ok: false, reason: expect.stringContaining("wildcard") } },
    { name: "a bare * is invalid", raw: "*", expected: { ok: false, reason: expect.stringContaining("wildcard") } },
    { name: "a label over 63 characters is invalid", raw: `${"a".repeat(64)}.com`, expected: { ok: false, reason: expect.any(String) } },
    { name: "a label starting with - is invalid", raw: "-a.example.com", expected: { ok: false, reason: expect.any(String) } },
  ])("$name", ({ raw, expected }) => {
    expect(checkRuleHost(raw)).toEqual(expected);
  });

  it.each([
    { name: "host only", raw: "a.example.com", ok: true },
    { name: "host and port", raw: "a.example.com:8080", ok: true },
    { name: "wildcards are not Host values", raw: "*.example.com", ok: false },
    { name: "empty", raw: "", ok: false },
    { name: "port without host", raw: ":80", ok: false },
  ])("host:port $name", ({ raw, ok }) => {
    expect(checkHostPort(raw).ok).toBe(ok);
  });
});

describe("rule paths", () => {
  it.each([
    { name: "Prefix drops a trailing slash", raw: "/foo/", type: "Prefix" as const, expected: { ok: true, path: "/foo", pathType: "Prefix" } },
    { name: "Prefix drops repeated trailing slashes", raw: "/foo//", type: "Prefix" as const, expected: { ok: true, path: "/foo", pathType: "Prefix" } },
    { name: "Prefix keeps the root", raw: "/", type: "Prefix" as const, expected: { ok: true, path: "/", pathType: "Prefix" } },
    { name: "ImplementationSpecific is Prefix", raw: "/a/", type: "ImplementationSpecific" as const, expected: { ok: true, path: "/a", pathType: "Prefix" } },
    { name: "Exact keeps a trailing slash", raw: "/foo/", type: "Exact" as const, expected: { ok: true, path: "/foo/", pathType: "Exact" } },
    { name: "absent path is the root", raw: undefined, type: "ImplementationSpecific" as const, expected: { ok: true, path: "/", pathType: "Prefix" } },
    { name: "a relative path is invalid", raw: "foo", type: "Prefix" as const, expected: { ok: false, reason: expect.stringContaining('must start with "/"') } },
    { name: "a query is invalid", raw: "/a?b", type: "Exact" as const, expected: { ok: false, reason: expect.any(String) } },
    { name: "a fragment is invalid", raw: "/a#b", type: "Exact" as const, expected: { ok: false, reason: expect.any(String) } },
    { name: "a tab is invalid", raw: "/a\tb", type: "Prefix" as const, expected: { ok: false, reason: expect.any(String) } },
  ])("$name", ({ raw, type, expected }) => {
    expect(checkPath(raw, type)).toEqual(expected);
  });
});

describe("Ingress age", () => {
  const ingress = (name: string, creationTimestamp?: string, namespace = "default") =>
    ingressSchema.parse({ apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: { name, namespace, ...(creationTimestamp ? { creationTimestamp } : {}) } });

  it.each([
    { name: "older timestamp first", a: ingress("b", "2024-01-01T00:00:00Z"), b: ingress("a", "2024-01-02T00:00:00Z"), sign: -1 },
    { name: "offsets are honoured", a: ingress("a", "2024-01-01T01:00:00+02:00"), b: ingress("b", "2024-01-01T00:00:00Z"), sign: -1 },
    { name: "equal age: namespace/name decides", a: ingress("a", "2024-01-01T00:00:00Z", "ns-b"), b: ingress("b", "2024-01-01T00:00:00Z", "ns-a"), sign: 1 },
    { name: "absent timestamp sorts after a present one", a: ingress("a"), b: ingress("z", "2099-01-01T00:00:00Z"), sign: 1 },
    { name: "unparseable timestamp counts as absent", a: ingress("a", "yesterday"), b: ingress("z", "2099-01-01T00:00:00Z"), sign: 1 },
    { name: "two absent: namespace/name decides", a: ingress("a"), b: ingress("b"), sign: -1 },
  ])("$name", ({ a, b, sign }) => {
    expect(Math.sign(compareIngressAge(a, b))).toBe(sign);
    expect(Math.sign(compareIngressAge(b, a))).toBe(-sign);
  });

  it.each([
    { name: "the epoch", text: "1970-01-01T00:00:00Z", seconds: 0 },
    { name: "a leap day", text: "2024-02-29T12:00:00Z", seconds: 1709208000 },
    { name: "fractions", text: "2024-02-29T12:00:00.5Z", seconds: 1709208000.5 },
    { name: "a negative offset", text: "2024-02-29T07:00:00-05:00", seconds: 1709208000 },
    { name: "garbage", text: "2024-02-29", seconds: null },
  ])("timestamp $name", ({ text, seconds }) => {
    expect(timestampSeconds(text)).toBe(seconds);
  });
});

describe("EndpointSlice members", () => {
  const slice = (name: string, portName: string | undefined, endpoints: unknown[]) =>
    endpointSliceSchema.parse({ apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice", metadata: { name }, ports: [{ ...(portName === undefined ? {} : { name: portName }), port: 8080 }], endpoints });

  it.each([
    { name: "ready unset counts as ready", endpoints: [{ addresses: ["10.0.0.1"] }], ready: [true] },
    { name: "ready false and not serving is dropped", endpoints: [{ addresses: ["10.0.0.1"], conditions: { ready: false, serving: true } }], ready: [] },
    { name: "serving and terminating is a not-ready member", endpoints: [{ addresses: ["10.0.0.1"], conditions: { ready: false, serving: true, terminating: true } }], ready: [false] },
    { name: "terminating but not serving is dropped", endpoints: [{ addresses: ["10.0.0.1"], conditions: { ready: false, serving: false, terminating: true } }], ready: [] },
  ])("$name", ({ endpoints, ready }) => {
    expect(sliceMembers([slice("s", "http", endpoints)], "http").map((m) => m.ready)).toEqual(ready);
  });

  it("uses only slices with the port name, unnamed matching unnamed", () => {
    const named = slice("a", "http", [{ addresses: ["10.0.0.1"] }]);
    const unnamed = slice("b", undefined, [{ addresses: ["10.0.0.2"] }]);
    expect(sliceMembers([named, unnamed], "").map((m) => m.address)).toEqual(["10.0.0.2"]);
    expect(sliceMembers([named, unnamed], "http").map((m) => m.address)).toEqual(["10.0.0.1"]);
  });

  it("prefers the ready copy of a duplicated address", () => {
    const draining = slice("a", "http", [{ addresses: ["10.0.0.1"], conditions: { ready: false, serving: true, terminating: true }, targetRef: { name: "old" } }]);
    const ready = slice("b", "http", [{ addresses: ["10.0.0.1"], targetRef: { name: "new" } }]);
    expect(sliceMembers([draining, ready], "http")).toEqual([{ key: "10.0.0.1:8080", address: "10.0.0.1", port: 8080, route: "new", zone: null, ready: true, standby: false, lbset: 0 }]);
  });

  it.each([
    { name: "IPv4", address: "10.0.0.1", key: "10.0.0.1:80" },
    { name: "IPv6 is bracketed", address: "fd00::1", key: "[fd00::1]:80" },
    { name: "DNS name", address: "a.example.com", key: "a.example.com:80" },
  ])("member key $name", ({ address, key }) => {
    expect(memberKey(address, 80)).toBe(key);
  });
});
