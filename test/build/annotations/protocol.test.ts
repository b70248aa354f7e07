import { describe, expect, it } from "vitest";
import { parseProtocol, protocolFamily, protocolPlannedFamily, toWebsocketIdleMs } from "../../../src/build/annotations/protocol.js";

const key = "proxypass.io/websocket-idle-timeout";

describe("protocol annotations: websocket-idle-timeout", () => {
  it.each<{ name: string; annotations: Readonly<Record<string, string>>; ms: number | null }>([
    { name: "absent: one hour", annotations: {}, ms: 3_600_000 },
    { name: "whole seconds are explicit", annotations: { [key]: "300" }, ms: 300_000 },
    { name: "fractional seconds are milliseconds", annotations: { [key]: "0.25" }, ms: 250 },
    { name: '"0" disables the idle timeout (null)', annotations: { [key]: "0" }, ms: null },
    { name: "the upper bound of one day is accepted", annotations: { [key]: "86400" }, ms: 86_400_000 },
    { name: "other protocol keys do not change it", annotations: { "proxypass.io/backend-protocol": "HTTPS" }, ms: 3_600_000 },
  ])("$name", ({ annotations, ms }) => {
    const parsed = parseProtocol(annotations);
    expect(parsed.diagnostics).toEqual([]);
    expect(toWebsocketIdleMs(parsed.value)).toBe(ms);
  });

  it.each([
    { name: "words are rejected", value: "forever", reason: /decimal number/ },
    { name: "units are rejected", value: "60s", reason: /decimal number/ },
    { name: "negative numbers are rejected", value: "-5", reason: /decimal number/ },
    { name: "more than a day is rejected", value: "86401", reason: /at most 86400 seconds/ },
    { name: "control characters are rejected", value: "5\n", reason: /decimal number/ },
  ])("$name", ({ value, reason }) => {
    const parsed = parseProtocol({ [key]: value });
    expect(parsed.diagnostics).toHaveLength(1);
    expect(parsed.diagnostics[0]).toMatchObject({ severity: "error", reason: "InvalidAnnotation", key, message: expect.stringMatching(reason) });
    expect(toWebsocketIdleMs(parsed.value)).toBe(3_600_000);
  });

  it("documents its key; the other protocol keys are a separate, not implemented family", () => {
    expect(protocolFamily.implemented).toBe(true);
    expect(protocolFamily.docs.map((d) => [d.key, d.default])).toEqual([[key, "3600"]]);
    expect(protocolPlannedFamily.implemented).toBe(false);
    expect(protocolPlannedFamily.keys).not.toContain(key);
    expect(protocolPlannedFamily.keys).toContain("proxypass.io/backend-protocol");
    expect(protocolPlannedFamily.parse({ "proxypass.io/ajp-secret": "s" }).diagnostics).toMatchObject([{ severity: "warning", reason: "AnnotationNotImplemented" }]);
  });
});
