import { BlockList } from "node:net";
import { describe, expect, it } from "vitest";
import { CidrError, CidrMatcher, normalizeIp, parseCidr, parseCidrList, parseIp } from "../../src/util/index.js";

describe("parseIp", () => {
  it.each([
    { name: "IPv4", text: "10.1.2.3", want: "10.1.2.3" },
    { name: "IPv4-mapped IPv6 is IPv4", text: "::ffff:10.1.2.3", want: "10.1.2.3" },
    { name: "IPv4-mapped IPv6 in hex is IPv4", text: "::ffff:a01:203", want: "10.1.2.3" },
    { name: "IPv6 compressed", text: "2001:DB8::1", want: "2001:db8::1" },
    { name: "IPv6 full", text: "2001:0db8:0000:0000:0000:0000:0000:0001", want: "2001:db8::1" },
    { name: "IPv6 loopback", text: "::1", want: "::1" },
    { name: "IPv6 unspecified", text: "::", want: "::" },
    { name: "IPv6 with trailing dotted quad", text: "64:ff9b::192.0.2.1", want: "64:ff9b::c000:201" },
  ])("$name", ({ text, want }) => {
    expect(normalizeIp(text)).toBe(want);
  });

  it.each(["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.", "a.b.c.d", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1", "1:", "12345::", "fe80::1%eth0", "1.2.3.4/8", " 1.2.3.4"])("%j is not an address", (text) => {
    expect(parseIp(text)).toBeNull();
  });
});

describe("parseCidr", () => {
  it.each([
    { item: "10.1.2.3/8", text: "10.0.0.0/8" },
    { item: "10.1.2.3", text: "10.1.2.3/32" },
    { item: "0.0.0.0/0", text: "0.0.0.0/0" },
    { item: "2001:db8:ffff::/32", text: "2001:db8::/32" },
    { item: "::/0", text: "::/0" },
    { item: "::ffff:192.168.0.0/112", text: "192.168.0.0/16" },
  ])("$item -> $text", ({ item, text }) => {
    expect(parseCidr(item).text).toBe(text);
  });

  it.each(["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "::/129", "::ffff:1.2.3.4/64", "example.com/8", "10.0.0.0/8/8"])("%j is refused", (item) => {
    expect(() => parseCidr(item)).toThrow(CidrError);
  });

  it("a list is sorted and deduplicated; an empty list is refused", () => {
    expect(parseCidrList(" 10.0.0.1/8, ::1 ,10.0.0.0/8").map((c) => c.text)).toEqual(["10.0.0.0/8", "::1/128"]);
    expect(() => parseCidrList(" , ")).toThrow(CidrError);
  });
});

describe("CidrMatcher", () => {
  const m = new CidrMatcher(["10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32", "::1"]);
  it.each([
    { address: "10.200.3.4", want: true },
    { address: "11.0.0.1", want: false },
    { address: "::ffff:10.9.9.9", want: true },
    { address: "192.168.1.255", want: true },
    { address: "192.168.2.1", want: false },
    { address: "2001:db8:1::5", want: true },
    { address: "2001:db9::5", want: false },
    { address: "::1", want: true },
    { address: "::2", want: false },
    { address: "not-an-ip", want: false },
  ])("$address -> $want", ({ address, want }) => {
    expect(m.contains(address)).toBe(want);
  });

  it("0.0.0.0/0 and ::/0 match every address of their family", () => {
    const all = new CidrMatcher(["0.0.0.0/0", "::/0"]);
    expect(all.contains("1.2.3.4")).toBe(true);
    expect(all.contains("ffff::1")).toBe(true);
  });

  it("agrees with node:net BlockList on a sample (the speed comparison: test/bench/cidr-match.mjs)", () => {
    const cidrs = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "2001:db8::/32", "fd00::/8"];
    const ours = new CidrMatcher(cidrs);
    const bl = new BlockList();
    for (const c of cidrs) {
      const [a = "", p = ""] = c.split("/");
      bl.addSubnet(a, Number(p), a.includes(":") ? "ipv6" : "ipv4");
    }
    const sample = ["10.1.1.1", "172.20.0.1", "172.32.0.1", "8.8.8.8", "192.168.9.9", "100.127.255.255", "2001:db8::1", "fd12::1", "fe80::1", "2001:db7::1"];
    for (const a of sample) expect(ours.contains(a)).toBe(bl.check(a, a.includes(":") ? "ipv6" : "ipv4"));
  });
});
