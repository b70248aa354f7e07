import { describe, expect, it } from "vitest";
import { healthFamily, parseHealth, parseStatusRanges } from "../../../src/build/index.js";
import type { HealthCheckConfig } from "../../../src/model/index.js";

const none: Readonly<Record<string, string>> = {};
const uri = { "proxypass.io/health-check-uri": "/healthz" };
const defaults: HealthCheckConfig = { uri: "/healthz", method: "GET", intervalMs: 30_000, passes: 1, fails: 1, expect: [[200, 399]] };

describe("health annotations", () => {
  it.each<{ name: string; annotations: Readonly<Record<string, string>>; expected: HealthCheckConfig | null }>([
    { name: "no keys: no active checks", annotations: none, expected: null },
    { name: "health-check-uri alone enables GET checks every 30 s expecting 200-399", annotations: uri, expected: defaults },
    { name: "a uri with a query is accepted", annotations: { "proxypass.io/health-check-uri": "/status?full=1" }, expected: { ...defaults, uri: "/status?full=1" } },
    { name: "method HEAD", annotations: { ...uri, "proxypass.io/health-check-method": "HEAD" }, expected: { ...defaults, method: "HEAD" } },
    { name: "method TCP needs no uri (uri then /)", annotations: { "proxypass.io/health-check-method": "TCP" }, expected: { ...defaults, uri: "/", method: "TCP" } },
    { name: "a fractional interval becomes milliseconds", annotations: { ...uri, "proxypass.io/health-check-interval": "0.5" }, expected: { ...defaults, intervalMs: 500 } },
    { name: "interval bounds 0.1 and 3600 are accepted", annotations: { ...uri, "proxypass.io/health-check-interval": "3600" }, expected: { ...defaults, intervalMs: 3_600_000 } },
    { name: "passes and fails", annotations: { ...uri, "proxypass.io/health-check-passes": "3", "proxypass.io/health-check-fails": "100" }, expected: { ...defaults, passes: 3, fails: 100 } },
    { name: "expect statuses are merged into sorted ranges", annotations: { ...uri, "proxypass.io/health-check-expect": "204, 200,201-203,300-399,350" }, expected: { ...defaults, expect: [[200, 204], [300, 399]] } },
    { name: "expect a single status", annotations: { ...uri, "proxypass.io/health-check-expect": "200" }, expected: { ...defaults, expect: [[200, 200]] } },
  ])("$name", ({ annotations, expected }) => {
    const parsed = parseHealth(annotations);
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.value).toEqual(expected);
  });

  it.each([
    { name: "a uri must start with /", key: "proxypass.io/health-check-uri", value: "healthz", reason: /must start with "\/"/ },
    { name: "a uri with a space is rejected", key: "proxypass.io/health-check-uri", value: "/a b", reason: /visible ASCII/ },
    { name: "a uri with CRLF is rejected", key: "proxypass.io/health-check-uri", value: "/a\r\nX: y", reason: /visible ASCII/ },
    { name: "a uri longer than 1024 characters is rejected", key: "proxypass.io/health-check-uri", value: `/${"a".repeat(1024)}`, reason: /at most 1024/ },
    { name: "method POST is rejected", key: "proxypass.io/health-check-method", value: "POST", reason: /GET, HEAD, OPTIONS or TCP/ },
    { name: "lower-case methods are rejected", key: "proxypass.io/health-check-method", value: "get", reason: /GET, HEAD, OPTIONS or TCP/ },
    { name: "interval below 0.1 s is rejected", key: "proxypass.io/health-check-interval", value: "0.05", reason: /from 0.1 to 3600/ },
    { name: "interval above an hour is rejected", key: "proxypass.io/health-check-interval", value: "3601", reason: /from 0.1 to 3600/ },
    { name: "passes 0 is rejected", key: "proxypass.io/health-check-passes", value: "0", reason: /from 1 to 100/ },
    { name: "fails 101 is rejected", key: "proxypass.io/health-check-fails", value: "101", reason: /from 1 to 100/ },
    { name: "expect rejects a reversed range", key: "proxypass.io/health-check-expect", value: "399-200", reason: /ends before it starts/ },
    { name: "expect rejects 600", key: "proxypass.io/health-check-expect", value: "600", reason: /not a status from 100 to 599/ },
    { name: "expect rejects an expression", key: "proxypass.io/health-check-expect", value: "%{REQUEST_STATUS} =~ /^[234]/", reason: /not a status/ },
  ])("$name", ({ key, value, reason }) => {
    const parsed = parseHealth({ ...uri, [key]: value });
    expect(parsed.diagnostics).toHaveLength(1);
    expect(parsed.diagnostics[0]).toMatchObject({ severity: "error", reason: "InvalidAnnotation", key, message: expect.stringMatching(reason) });
    expect(parsed.value).toBeNull();
  });

  it("settings without health-check-uri are ignored with a warning each", () => {
    const parsed = parseHealth({ "proxypass.io/health-check-interval": "5", "proxypass.io/health-check-fails": "3" });
    expect(parsed.value).toBeNull();
    expect(parsed.diagnostics.map((d) => [d.severity, d.reason, d.key])).toEqual([
      ["warning", "AnnotationIgnored", "proxypass.io/health-check-interval"],
      ["warning", "AnnotationIgnored", "proxypass.io/health-check-fails"],
    ]);
  });

  it("parseStatusRanges merges adjacent ranges", () => {
    expect(parseStatusRanges("200-299,300")).toEqual({ ok: true, ranges: [[200, 300]] });
  });

  it("documents every key it parses", () => {
    expect(healthFamily.implemented).toBe(true);
    expect(healthFamily.docs.map((d) => d.key)).toEqual(healthFamily.keys);
    expect(healthFamily.docs.map((d) => d.default)).toEqual(["none", "GET", "30", "1", "1", "200-399"]);
  });
});
