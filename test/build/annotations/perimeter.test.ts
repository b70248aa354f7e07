import { describe, expect, it } from "vitest";
import { parsePerimeter, perimeterFamily, type PerimeterValue } from "../../../src/build/annotations/perimeter.js";
import { accessFamily } from "../../../src/build/annotations/access.js";
import { bodyFamily } from "../../../src/build/annotations/body.js";

const k = (name: string): string => `proxypass.io/${name}`;

describe("perimeter annotations", () => {
  it.each<{ name: string; annotations: Record<string, string>; want: Partial<PerimeterValue> }>([
    { name: "nothing set: no limits", annotations: {}, want: { maxBodyBytes: null, allowCidrs: null, denyCidrs: null, limitRps: null, limitBurst: null, limitConnections: null } },
    { name: "max-body-size in bytes", annotations: { [k("max-body-size")]: "1000" }, want: { maxBodyBytes: 1000 } },
    { name: "max-body-size with k", annotations: { [k("max-body-size")]: "512k" }, want: { maxBodyBytes: 512 * 1024 } },
    { name: "max-body-size with M (case-insensitive)", annotations: { [k("max-body-size")]: "8M" }, want: { maxBodyBytes: 8 * 1024 * 1024 } },
    { name: "max-body-size with g", annotations: { [k("max-body-size")]: "2g" }, want: { maxBodyBytes: 2 * 1024 ** 3 } },
    { name: 'max-body-size "0" is unlimited', annotations: { [k("max-body-size")]: "0" }, want: { maxBodyBytes: null } },
    { name: "CIDRs are canonical and sorted, IPv4-mapped become IPv4", annotations: { [k("allow-cidrs")]: "192.168.1.7/24, ::ffff:10.0.0.0/104,2001:DB8::/32" }, want: { allowCidrs: ["10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32"] } },
    { name: "a bare address is a /32 or /128", annotations: { [k("deny-cidrs")]: "10.1.2.3,::1" }, want: { denyCidrs: ["10.1.2.3/32", "::1/128"] } },
    { name: "limit-rps with limit-burst", annotations: { [k("limit-rps")]: "5", [k("limit-burst")]: "10" }, want: { limitRps: 5, limitBurst: 10 } },
    { name: "limit-connections", annotations: { [k("limit-connections")]: "3" }, want: { limitConnections: 3 } },
  ])("$name", ({ annotations, want }) => {
    const parsed = parsePerimeter(annotations);
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.value).toMatchObject(want);
  });

  it.each([
    { name: "max-body-size with a unit word", key: "max-body-size", value: "1MB", reason: /optional k, m or g suffix/ },
    { name: "max-body-size negative", key: "max-body-size", value: "-1", reason: /whole number/ },
    { name: "max-body-size above 64g", key: "max-body-size", value: "65g", reason: /at most 64g/ },
    { name: "allow-cidrs with a host name", key: "allow-cidrs", value: "example.com", reason: /not an IPv4 or IPv6/ },
    { name: "allow-cidrs with a bad prefix", key: "allow-cidrs", value: "10.0.0.0/33", reason: /prefix length/ },
    { name: "deny-cidrs empty", key: "deny-cidrs", value: " , ", reason: /no CIDR/ },
    { name: "deny-cidrs separated by a newline", key: "deny-cidrs", value: "10.0.0.0/8\n10.1.0.0/16", reason: /prefix length/ },
    { name: "limit-rps zero", key: "limit-rps", value: "0", reason: /1-1000000/ },
    { name: "limit-rps fractional", key: "limit-rps", value: "0.5", reason: /whole number/ },
    { name: "limit-burst negative", key: "limit-burst", value: "-2", reason: /whole number/ },
    { name: "limit-connections words", key: "limit-connections", value: "many", reason: /whole number/ },
  ])("$name is an InvalidAnnotation", ({ key, value, reason }) => {
    const parsed = parsePerimeter({ [k(key)]: value });
    expect(parsed.diagnostics).toHaveLength(1);
    expect(parsed.diagnostics[0]).toMatchObject({ severity: "error", reason: "InvalidAnnotation", key: k(key), message: expect.stringMatching(reason) });
  });

  it("owns its keys; access and body keep only the keys of other issues", () => {
    expect(perimeterFamily.implemented).toBe(true);
    expect(perimeterFamily.keys).toEqual(["max-body-size", "allow-cidrs", "deny-cidrs", "limit-rps", "limit-burst", "limit-connections"].map(k));
    for (const key of perimeterFamily.keys) {
      expect(accessFamily.keys).not.toContain(key);
      expect(bodyFamily.keys).not.toContain(key);
    }
  });
});
