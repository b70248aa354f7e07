import { describe, expect, it } from "vitest";
import { parseTimeouts, timeoutsFamily, toTimeouts } from "../../../src/build/index.js";
import type { Timeouts } from "../../../src/model/index.js";

const none: Readonly<Record<string, string>> = {};

describe("timeouts annotations", () => {
  it.each<{ name: string; annotations: Readonly<Record<string, string>>; expected: Timeouts }>([
    { name: "absent keys give the defaults (5 s connect, 60 s read)", annotations: none, expected: { connectMs: 5000, readMs: 60000 } },
    { name: "whole seconds are explicit", annotations: { "proxypass.io/connect-timeout": "2", "proxypass.io/timeout": "120" }, expected: { connectMs: 2000, readMs: 120000 } },
    { name: "fractional seconds are milliseconds", annotations: { "proxypass.io/connect-timeout": "0.25", "proxypass.io/timeout": "1.5" }, expected: { connectMs: 250, readMs: 1500 } },
    { name: "\"0\" disables a timeout (null)", annotations: { "proxypass.io/connect-timeout": "0", "proxypass.io/timeout": "0" }, expected: { connectMs: null, readMs: null } },
    { name: "\"0.000\" also disables", annotations: { "proxypass.io/timeout": "0.000" }, expected: { connectMs: 5000, readMs: null } },
    { name: "one key leaves the other at its default", annotations: { "proxypass.io/timeout": "10" }, expected: { connectMs: 5000, readMs: 10000 } },
    { name: "the upper bound of one day is accepted", annotations: { "proxypass.io/timeout": "86400" }, expected: { connectMs: 5000, readMs: 86_400_000 } },
  ])("$name", ({ annotations, expected }) => {
    const parsed = parseTimeouts(annotations);
    expect(parsed.diagnostics).toEqual([]);
    expect(toTimeouts(parsed.value)).toEqual(expected);
  });

  it.each([
    { name: "words are rejected", key: "proxypass.io/timeout", value: "soon", reason: /decimal number/ },
    { name: "negative numbers are rejected", key: "proxypass.io/timeout", value: "-1", reason: /decimal number/ },
    { name: "units are rejected", key: "proxypass.io/connect-timeout", value: "5s", reason: /decimal number/ },
    { name: "more than 3 decimals are rejected", key: "proxypass.io/connect-timeout", value: "0.0001", reason: /at most 3 decimals/ },
    { name: "exponents are rejected", key: "proxypass.io/timeout", value: "1e3", reason: /decimal number/ },
    { name: "empty is rejected", key: "proxypass.io/timeout", value: "", reason: /decimal number/ },
    { name: "surrounding spaces are rejected", key: "proxypass.io/timeout", value: " 5", reason: /decimal number/ },
    { name: "more than a day is rejected", key: "proxypass.io/timeout", value: "86401", reason: /at most 86400 seconds/ },
  ])("$name", ({ key, value, reason }) => {
    const parsed = parseTimeouts({ [key]: value });
    expect(parsed.diagnostics).toHaveLength(1);
    expect(parsed.diagnostics[0]).toMatchObject({ severity: "error", reason: "InvalidAnnotation", key, message: expect.stringMatching(reason) });
    expect(parsed.diagnostics[0]?.message).toContain(JSON.stringify(value));
    expect(parsed.diagnostics[0]?.message).toContain(key);
  });

  it("documents every key it parses", () => {
    expect(timeoutsFamily.docs.map((d) => d.key)).toEqual(timeoutsFamily.keys);
    expect(timeoutsFamily.docs.map((d) => d.default)).toEqual(["5", "60"]);
  });
});
