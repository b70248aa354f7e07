import { describe, expect, it } from "vitest";
import { ajpFamily } from "../../../src/build/index.js";
import { ajpSecretValue, resolveBackendAjp } from "../../../src/build/backend-ajp.js";
import { SecretLookup } from "../../../src/build/backend-tls.js";
import { parseAnnotations } from "../../../src/build/index.js";
import { emptyClusterView, type Secret } from "../../../src/model/index.js";

const secretKey = "proxypass.io/ajp-secret";
const sizeKey = "proxypass.io/ajp-packet-size";
const pingKey = "proxypass.io/ajp-ping";

describe("ajp annotations", () => {
  it.each<{ name: string; annotations: Record<string, string>; value: { secret: string | null; packetSize: number; pingMs: number } }>([
    { name: "defaults: no secret, 8192 bytes, no ping", annotations: {}, value: { secret: null, packetSize: 8192, pingMs: 0 } },
    { name: "a Secret name", annotations: { [secretKey]: "tomcat-ajp" }, value: { secret: "tomcat-ajp", packetSize: 8192, pingMs: 0 } },
    { name: "the largest packet size", annotations: { [sizeKey]: "65536" }, value: { secret: null, packetSize: 65536, pingMs: 0 } },
    { name: "ping in seconds", annotations: { [pingKey]: "2" }, value: { secret: null, packetSize: 8192, pingMs: 2000 } },
    { name: "ping in fractional seconds", annotations: { [pingKey]: "0.25" }, value: { secret: null, packetSize: 8192, pingMs: 250 } },
    { name: "ping in milliseconds", annotations: { [pingKey]: "500ms" }, value: { secret: null, packetSize: 8192, pingMs: 500 } },
    { name: 'ping "0" is off', annotations: { [pingKey]: "0" }, value: { secret: null, packetSize: 8192, pingMs: 0 } },
  ])("$name", ({ annotations, value }) => {
    const parsed = ajpFamily.parse(annotations);
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.value).toEqual(value);
  });

  it.each<{ name: string; annotations: Record<string, string>; key: string }>([
    { name: "a packet size below 8192", annotations: { [sizeKey]: "4096" }, key: sizeKey },
    { name: "a packet size above 65536", annotations: { [sizeKey]: "65537" }, key: sizeKey },
    { name: "a packet size with a unit", annotations: { [sizeKey]: "64k" }, key: sizeKey },
    { name: "a Secret in another namespace", annotations: { [secretKey]: "kube-system/ajp" }, key: secretKey },
    { name: "a Secret name with upper case", annotations: { [secretKey]: "Tomcat" }, key: secretKey },
    { name: "a ping above 60 s", annotations: { [pingKey]: "61" }, key: pingKey },
    { name: "a negative ping", annotations: { [pingKey]: "-1" }, key: pingKey },
    { name: "a ping with another unit", annotations: { [pingKey]: "1m" }, key: pingKey },
  ])("rejects $name", ({ annotations, key }) => {
    const parsed = ajpFamily.parse(annotations);
    expect(parsed.diagnostics).toMatchObject([{ severity: "error", reason: "InvalidAnnotation", key }]);
  });
});

function secret(data: Record<string, string>, stringData?: Record<string, string>): Secret {
  return { apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "default" }, type: "Opaque", data, ...(stringData === undefined ? {} : { stringData }) } as Secret;
}

describe("ajp-secret Secret value", () => {
  it.each([
    { name: "base64 data, a trailing newline dropped", s: secret({ secret: Buffer.from("s3cret\n").toString("base64") }), value: "s3cret" },
    { name: "stringData wins", s: secret({ secret: Buffer.from("old").toString("base64") }, { secret: "new-one" }), value: "new-one" },
  ])("$name", ({ s, value }) => {
    expect(ajpSecretValue(s)).toEqual({ ok: true, value });
  });

  it.each([
    { name: "no key secret", s: secret({ password: "eA==" }), reason: /no key secret/ },
    { name: "empty", s: secret({ secret: "" }), reason: /empty/ },
    { name: "not base64", s: secret({ secret: "!!!" }), reason: /base64/ },
    { name: "a space or control character", s: secret({}, { secret: "a b" }), reason: /printable/ },
  ])("refuses $name", ({ s, reason }) => {
    const r = ajpSecretValue(s);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it("resolves from the Ingress's namespace only, and a missing Secret fails closed", () => {
    const view = { ...emptyClusterView, secrets: [{ ...secret({}, { secret: "x1" }), metadata: { name: "ajp", namespace: "other" } } as Secret] };
    const settings = parseAnnotations({ "proxypass.io/backend-protocol": "AJP", [secretKey]: "ajp" }).balancer;
    const found = resolveBackendAjp(settings, "other", new SecretLookup(view), "other/t:8009");
    expect(found).toEqual({ ajp: { secret: "x1", packetSize: 8192, pingMs: 0, failClosed: false }, problem: null });
    const missing = resolveBackendAjp(settings, "default", new SecretLookup(view), "default/t:8009");
    expect(missing.ajp).toEqual({ secret: null, packetSize: 8192, pingMs: 0, failClosed: true });
    expect(missing.problem?.reason).toBe("AjpSecretNotFound");
    expect(resolveBackendAjp(parseAnnotations({}).balancer, "default", new SecretLookup(view), "x").ajp).toBeNull();
  });
});
