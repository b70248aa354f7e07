import { describe, expect, it } from "vitest";
import { FlagError, parseFlags } from "../../cmd/flags.js";

describe("parseFlags", () => {
  it.each([
    { name: "defaults match CONTRACT.md", argv: ["--manifests", "x"], expect: { "http-port": 8080, "https-port": 8443, "admin-port": 10254, "bind-address": "0.0.0.0", "ingress-class": "proxypass", "access-log": true } },
    { name: "--flag=value form", argv: ["--manifests=x", "--http-port=9000"], expect: { manifests: "x", "http-port": 9000 } },
    { name: "bare boolean means true", argv: ["--access-log"], expect: { "access-log": true } },
    { name: "--access-log=false turns access logs off", argv: ["--access-log=false"], expect: { "access-log": false } },
    { name: "boolean with separate value", argv: ["--access-log", "false", "--workers", "2"], expect: { "access-log": false, workers: 2 } },
    { name: "--max-header-size sets the 431 limit", argv: ["--max-header-size", "32768"], expect: { "max-header-size": 32768 } },
    { name: "per-component log levels", argv: ["--log-level", "info,proxy=debug"], expect: { "log-level": "info,proxy=debug" } },
    { name: "--zone names the topology zone", argv: ["--zone", "eu-west-1a"], expect: { zone: "eu-west-1a" } },
    { name: "--admin-allow-cidrs parses IPv4 and IPv6", argv: ["--admin-allow-cidrs", "10.0.0.0/8,fd00::/8"], expect: { "admin-allow-cidrs": [{ address: "10.0.0.0", prefix: 8, family: "ipv4" }, { address: "fd00::", prefix: 8, family: "ipv6" }] } },
    { name: "--admin-token-file names a file", argv: ["--admin-token-file", "/etc/token"], expect: { "admin-token-file": "/etc/token" } },
    { name: "--runtime-configmap is NS/NAME", argv: ["--runtime-configmap", "ingress/pp-runtime"], expect: { "runtime-configmap": { namespace: "ingress", name: "pp-runtime" } } },
    { name: "--state-file names a file", argv: ["--state-file", "/var/lib/pp/state.json"], expect: { "state-file": "/var/lib/pp/state.json" } },
  ])("$name", ({ argv, expect: want }) => {
    expect(parseFlags(argv)).toMatchObject(want);
  });

  it.each([
    { name: "unknown flag", argv: ["--nope"], message: /unknown flag --nope/ },
    { name: "port out of range", argv: ["--http-port", "70000"], message: /invalid --http-port "70000"/ },
    { name: "non-numeric workers", argv: ["--workers", "many"], message: /invalid --workers/ },
    { name: "zero workers", argv: ["--workers", "0"], message: /invalid --workers/ },
    { name: "bad bind address", argv: ["--bind-address", "localhost"], message: /must be an IP address/ },
    { name: "bad log level", argv: ["--log-level", "loud"], message: /invalid --log-level/ },
    { name: "missing value", argv: ["--manifests"], message: /needs a value/ },
    { name: "positional argument", argv: ["serve"], message: /unexpected argument/ },
    { name: "duplicate flag", argv: ["--workers", "1", "--workers", "2"], message: /given twice/ },
    { name: "tiny max header size", argv: ["--max-header-size", "10"], message: /invalid --max-header-size/ },
    { name: "bad ingress class", argv: ["--ingress-class", "Bad_Class"], message: /DNS-1123/ },
    { name: "a zone with a space", argv: ["--zone", "eu west"], message: /invalid --zone/ },
    { name: "a host name in --admin-allow-cidrs", argv: ["--admin-allow-cidrs", "localhost"], message: /invalid --admin-allow-cidrs "localhost": "localhost" is not an IPv4 or IPv6/ },
    { name: "an IPv4 prefix over 32", argv: ["--admin-allow-cidrs", "10.0.0.0/40"], message: /prefix length must be 0-32/ },
    { name: "--runtime-configmap without namespace", argv: ["--runtime-configmap", "runtime"], message: /NAMESPACE\/NAME/ },
  ])("rejects $name", ({ argv, message }) => {
    expect(() => parseFlags(argv)).toThrow(FlagError);
    expect(() => parseFlags(argv)).toThrow(message);
  });
});

describe("--zone", () => {
  it("is absent by default (the node label decides, or no zone)", () => {
    expect(parseFlags([]).zone).toBeUndefined();
  });
});

describe("admin flags", () => {
  it("default to loopback only, no token, in-memory state", () => {
    const f = parseFlags([]);
    expect(f["admin-allow-cidrs"]).toBeUndefined();
    expect(f["admin-token-file"]).toBeUndefined();
    expect(f["runtime-configmap"]).toBeUndefined();
    expect(f["state-file"]).toBeUndefined();
  });
});
