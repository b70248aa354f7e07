import { describe, expect, it } from "vitest";
import { parseProtocol, protocolFamily, toWebsocketIdleMs, type ProtocolValue } from "../../../src/build/annotations/protocol.js";

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

  it("documents its keys (the AJP keys are the ajp family's)", () => {
    expect(protocolFamily.implemented).toBe(true);
    expect(protocolFamily.docs.map((d) => [d.key, d.default])).toEqual([
      ["proxypass.io/backend-protocol", "HTTP"],
      ["proxypass.io/backend-tls-verify", "false"],
      ["proxypass.io/backend-ca-secret", "none (Node's bundled CAs)"],
      [key, "3600"],
    ]);
  });
});

const protocolKey = "proxypass.io/backend-protocol";
const verifyKey = "proxypass.io/backend-tls-verify";
const caKey = "proxypass.io/backend-ca-secret";

describe("protocol annotations: backend-protocol, backend-tls-verify, backend-ca-secret", () => {
  it.each<{ name: string; annotations: Readonly<Record<string, string>>; value: Partial<ProtocolValue> }>([
    { name: "absent: HTTP/1.1, no verification, no CA", annotations: {}, value: { backendProtocol: "http", tlsVerify: false, caSecret: null } },
    { name: "HTTPS", annotations: { [protocolKey]: "HTTPS" }, value: { backendProtocol: "https" } },
    { name: "values are case-insensitive (grpcs)", annotations: { [protocolKey]: "grpcs" }, value: { backendProtocol: "grpcs" } },
    { name: "H2C", annotations: { [protocolKey]: "H2C" }, value: { backendProtocol: "h2c" } },
    { name: "GRPC", annotations: { [protocolKey]: "GRPC" }, value: { backendProtocol: "grpc" } },
    { name: "verification with a CA Secret", annotations: { [protocolKey]: "HTTPS", [verifyKey]: "true", [caKey]: "backend-ca" }, value: { backendProtocol: "https", tlsVerify: true, caSecret: "backend-ca" } },
    { name: "verification without a CA Secret (Node's bundled CAs)", annotations: { [protocolKey]: "GRPCS", [verifyKey]: "true" }, value: { tlsVerify: true, caSecret: null } },
  ])("$name", ({ annotations, value }) => {
    const parsed = parseProtocol(annotations);
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.value).toMatchObject(value);
  });

  it.each<{ name: string; annotations: Readonly<Record<string, string>>; key: string; reason: RegExp }>([
    { name: "an unknown protocol is rejected", annotations: { [protocolKey]: "FCGI" }, key: protocolKey, reason: /one of HTTP, HTTPS, H2C, GRPC, GRPCS/ },
    { name: "an unknown protocol", annotations: { [protocolKey]: "FCGI" }, key: protocolKey, reason: /one of/ },
    { name: "verify must be true or false", annotations: { [protocolKey]: "HTTPS", [verifyKey]: "yes" }, key: verifyKey, reason: /"true" or "false"/ },
    { name: "a CA Secret in another namespace is rejected", annotations: { [protocolKey]: "HTTPS", [verifyKey]: "true", [caKey]: "kube-system/ca" }, key: caKey, reason: /Ingress's namespace/ },
    { name: "a CA Secret name with upper case is rejected", annotations: { [protocolKey]: "HTTPS", [verifyKey]: "true", [caKey]: "CA" }, key: caKey, reason: /RFC 1123/ },
  ])("$name", ({ annotations, key: k, reason }) => {
    const parsed = parseProtocol(annotations);
    expect(parsed.diagnostics).toHaveLength(1);
    expect(parsed.diagnostics[0]).toMatchObject({ severity: "error", reason: "InvalidAnnotation", key: k, message: expect.stringMatching(reason) });
    expect(parsed.value.backendProtocol).toBe("http");
  });

  it.each<{ name: string; annotations: Readonly<Record<string, string>>; keys: string[] }>([
    { name: "TLS keys on a cleartext protocol are ignored with a warning", annotations: { [protocolKey]: "GRPC", [verifyKey]: "true", [caKey]: "ca" }, keys: [verifyKey, caKey] },
    { name: "a CA Secret without verification is ignored with a warning", annotations: { [protocolKey]: "HTTPS", [caKey]: "ca" }, keys: [caKey] },
  ])("$name", ({ annotations, keys }) => {
    const parsed = parseProtocol(annotations);
    expect(parsed.diagnostics.map((d) => [d.severity, d.reason, d.key])).toEqual(keys.map((k) => ["warning", "AnnotationIgnored", k]));
  });
});
