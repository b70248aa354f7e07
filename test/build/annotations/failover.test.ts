import { describe, expect, it } from "vitest";
import { failoverFamily, parseFailover } from "../../../src/build/index.js";
import type { FailoverConfig } from "../../../src/model/index.js";

const none: Readonly<Record<string, string>> = {};
const defaults: FailoverConfig = { maxAttempts: null, retryMs: 60_000, failOnStatus: [], failOnTimeout: false };

describe("failover annotations", () => {
  it.each<{ name: string; annotations: Readonly<Record<string, string>>; expected: FailoverConfig }>([
    { name: "absent keys give httpd's defaults (retry 60 s, maxattempts members - 1)", annotations: none, expected: defaults },
    { name: "retry in seconds becomes milliseconds", annotations: { "proxypass.io/retry": "2.5" }, expected: { ...defaults, retryMs: 2500 } },
    { name: "retry 0 retries at once", annotations: { "proxypass.io/retry": "0" }, expected: { ...defaults, retryMs: 0 } },
    { name: "retry of one day is accepted", annotations: { "proxypass.io/retry": "86400" }, expected: { ...defaults, retryMs: 86_400_000 } },
    { name: "max-attempts 0 disables failover", annotations: { "proxypass.io/max-attempts": "0" }, expected: { ...defaults, maxAttempts: 0 } },
    { name: "max-attempts 100 is the upper bound", annotations: { "proxypass.io/max-attempts": "100" }, expected: { ...defaults, maxAttempts: 100 } },
    { name: "fail-on-status is sorted and de-duplicated", annotations: { "proxypass.io/fail-on-status": "503, 500,503" }, expected: { ...defaults, failOnStatus: [500, 503] } },
    { name: "an empty fail-on-status is no statuses", annotations: { "proxypass.io/fail-on-status": "" }, expected: defaults },
    { name: "fail-on-timeout true", annotations: { "proxypass.io/fail-on-timeout": "true" }, expected: { ...defaults, failOnTimeout: true } },
  ])("$name", ({ annotations, expected }) => {
    const parsed = parseFailover(annotations);
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.value).toEqual(expected);
  });

  it.each([
    { name: "retry rejects a unit", key: "proxypass.io/retry", value: "60s", reason: /decimal number/ },
    { name: "retry rejects a negative number", key: "proxypass.io/retry", value: "-1", reason: /decimal number/ },
    { name: "retry rejects more than a day", key: "proxypass.io/retry", value: "86401", reason: /at most 86400 seconds/ },
    { name: "max-attempts rejects fractions", key: "proxypass.io/max-attempts", value: "1.5", reason: /whole number from 0 to 100/ },
    { name: "max-attempts rejects 101", key: "proxypass.io/max-attempts", value: "101", reason: /whole number from 0 to 100/ },
    { name: "fail-on-status rejects 600", key: "proxypass.io/fail-on-status", value: "500,600", reason: /"600" is not an HTTP status/ },
    { name: "fail-on-status rejects ranges", key: "proxypass.io/fail-on-status", value: "500-599", reason: /not an HTTP status/ },
    { name: "fail-on-status rejects an empty item", key: "proxypass.io/fail-on-status", value: "500,,503", reason: /not an HTTP status/ },
    { name: "fail-on-timeout rejects yes", key: "proxypass.io/fail-on-timeout", value: "yes", reason: /"true" or "false"/ },
  ])("$name", ({ key, value, reason }) => {
    const parsed = parseFailover({ [key]: value });
    expect(parsed.diagnostics).toHaveLength(1);
    expect(parsed.diagnostics[0]).toMatchObject({ severity: "error", reason: "InvalidAnnotation", key, message: expect.stringMatching(reason) });
    expect(parsed.diagnostics[0]?.message).toContain(JSON.stringify(value));
    expect(parsed.value).toEqual(defaults);
  });

  it("documents every key it parses", () => {
    expect(failoverFamily.implemented).toBe(true);
    expect(failoverFamily.docs.map((d) => d.key)).toEqual(failoverFamily.keys);
    expect(failoverFamily.docs.map((d) => d.default)).toEqual(["60", "members - 1", "none", "false"]);
  });
});
