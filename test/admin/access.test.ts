// The admin ACL: CIDR parsing, address and token decisions, nonce and same-origin checks.
import { describe, expect, it } from "vitest";
import { AdminAccess, AdminCidrError, isSameOrigin, parseCidrs } from "../../src/admin/index.js";

describe("parseCidrs", () => {
  it.each([
    { name: "IPv4 CIDR", text: "10.0.0.0/8", want: [{ address: "10.0.0.0", prefix: 8, family: "ipv4" }] },
    { name: "bare IPv4 is a /32", text: "192.168.1.7", want: [{ address: "192.168.1.7", prefix: 32, family: "ipv4" }] },
    { name: "IPv6 CIDR", text: "fd00::/8", want: [{ address: "fd00::", prefix: 8, family: "ipv6" }] },
    { name: "bare IPv6 is a /128", text: "::1", want: [{ address: "::1", prefix: 128, family: "ipv6" }] },
    { name: "comma list with spaces", text: "10.0.0.0/8, ::1", want: [{ address: "10.0.0.0", prefix: 8, family: "ipv4" }, { address: "::1", prefix: 128, family: "ipv6" }] },
  ])("$name", ({ text, want }) => {
    expect(parseCidrs(text)).toEqual(want);
  });

  it.each([
    { name: "a host name", text: "localhost" },
    { name: "prefix too long for IPv4", text: "10.0.0.0/33" },
    { name: "prefix too long for IPv6", text: "::/129" },
    { name: "non-numeric prefix", text: "10.0.0.0/x" },
    { name: "empty list", text: " , " },
  ])("refuses $name", ({ text }) => {
    expect(() => parseCidrs(text)).toThrow(AdminCidrError);
  });
});

describe("AdminAccess.check", () => {
  const loopbackOnly = new AdminAccess();
  const office = new AdminAccess({ allow: parseCidrs("10.0.0.0/8,fd00::/8"), token: "tok" });
  it.each([
    { name: "loopback IPv4 by default", access: loopbackOnly, address: "127.0.0.1", auth: undefined, allowed: true },
    { name: "any 127/8 address by default", access: loopbackOnly, address: "127.3.2.1", auth: undefined, allowed: true },
    { name: "loopback IPv6 by default", access: loopbackOnly, address: "::1", auth: undefined, allowed: true },
    { name: "IPv4-mapped loopback by default", access: loopbackOnly, address: "::ffff:127.0.0.1", auth: undefined, allowed: true },
    { name: "a pod address is refused by default", access: loopbackOnly, address: "10.1.2.3", auth: undefined, allowed: false },
    { name: "a token without a configured token file is refused", access: loopbackOnly, address: "10.1.2.3", auth: "Bearer tok", allowed: false },
    { name: "the allow-list replaces loopback", access: office, address: "127.0.0.1", auth: undefined, allowed: false },
    { name: "an allowed IPv4 network", access: office, address: "10.9.8.7", auth: undefined, allowed: true },
    { name: "an allowed IPv6 network", access: office, address: "fd12::5", auth: undefined, allowed: true },
    { name: "IPv4-mapped address judged as IPv4", access: office, address: "::ffff:10.0.0.1", auth: undefined, allowed: true },
    { name: "outside the list", access: office, address: "192.168.0.1", auth: undefined, allowed: false },
    { name: "outside the list with the token", access: office, address: "192.168.0.1", auth: "Bearer tok", allowed: true },
    { name: "outside the list with a wrong token", access: office, address: "192.168.0.1", auth: "Bearer tok2", allowed: false },
    { name: "unknown address", access: office, address: undefined, auth: undefined, allowed: false },
  ])("$name", ({ access, address, auth, allowed }) => {
    expect(access.check({ remoteAddress: address, authorization: auth }).allowed).toBe(allowed);
  });

  it("has a random per-process nonce and compares it exactly", () => {
    const a = new AdminAccess();
    expect(a.nonce).toMatch(/^[0-9a-f-]{36}$/);
    expect(new AdminAccess().nonce).not.toBe(a.nonce);
    expect(a.nonceMatches(a.nonce)).toBe(true);
    expect(a.nonceMatches(a.nonce.toUpperCase())).toBe(false);
    expect(a.nonceMatches(undefined)).toBe(false);
    expect(a.nonceMatches(1)).toBe(false);
  });
});

describe("isSameOrigin", () => {
  it.each([
    { name: "no Origin or Referer", headers: { host: "h:1" }, want: true },
    { name: "Origin equal to Host", headers: { host: "h:1", origin: "http://h:1" }, want: true },
    { name: "https Origin equal to Host", headers: { host: "h:1", origin: "https://h:1" }, want: true },
    { name: "Origin of another host", headers: { host: "h:1", origin: "http://evil:1" }, want: false },
    { name: "Origin of another port", headers: { host: "h:1", origin: "http://h:2" }, want: false },
    { name: "Origin null (sandboxed page)", headers: { host: "h:1", origin: "null" }, want: false },
    { name: "Referer from the page itself", headers: { host: "h:1", referer: "http://h:1/balancer-manager" }, want: true },
    { name: "Referer of another site", headers: { host: "h:1", referer: "http://evil/x" }, want: false },
    { name: "Origin wins over Referer", headers: { host: "h:1", origin: "http://evil", referer: "http://h:1/" }, want: false },
    { name: "not a URL", headers: { host: "h:1", origin: "garbage" }, want: false },
    { name: "a javascript: URL", headers: { host: "h:1", referer: "javascript:alert(1)" }, want: false },
  ])("$name", ({ headers, want }) => {
    expect(isSameOrigin(headers)).toBe(want);
  });
});
