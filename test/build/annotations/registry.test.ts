import { describe, expect, it } from "vitest";
import { notImplementedFamily, plannedDoc } from "../../../src/build/annotations/family.js";
import { annotationDocs, annotationFamilies, knownAnnotationKeys, parseAnnotations, type AnnotationFinding } from "../../../src/build/index.js";

/** Every key of CONTRACT.md's annotation table. */
const contractKeys = [
  "lbmethod", "sticky-session", "sticky-nofailover", "hot-standby", "health-check-uri", "health-check-method", "health-check-interval",
  "health-check-passes", "health-check-fails", "health-check-expect", "retry", "max-attempts", "fail-on-status", "fail-on-timeout",
  "connect-timeout", "timeout", "preserve-host", "upstream-vhost", "rewrite-target", "proxy-pass-reverse", "backend-protocol", "ajp-secret",
  "ajp-packet-size", "allow-connect", "backend-tls-verify", "backend-ca-secret", "app-root", "force-ssl-redirect", "canary", "canary-weight",
  "canary-by-header", "canary-by-cookie", "limit-rps", "limit-connections", "limit-burst", "auth-type", "auth-secret", "auth-realm", "auth-url",
  "auth-response-headers", "custom-error-pages", "ssl-redirect", "allow-cidrs", "deny-cidrs", "request-headers", "response-headers",
  "compression", "max-body-size", "websocket-idle-timeout",
  // Added since CONTRACT.md (README documents them): the auth-url subrequest's time limit, the AJP pre-request ping.
  "auth-timeout",
  "ajp-ping",
  // Added by the error pages work (README documents it): where custom-error-pages bodies come from.
  "custom-error-backend",
].map((k) => `proxypass.io/${k}`);

const none: Readonly<Record<string, string>> = {};

describe("annotation registry", () => {
  it("has the families of STYLE.md, then ajp and connect", () => {
    expect([...new Set(annotationFamilies.map((f) => f.name))]).toEqual(["balancer", "health", "failover", "timeouts", "headers", "rewrite", "perimeter", "access", "auth", "body", "protocol", "ajp", "connect"]);
    expect(annotationFamilies.filter((f) => f.name === "protocol" || f.name === "ajp" || f.name === "connect").map((f) => f.implemented)).toEqual([true, true, true]);
  });

  it("recognises every key of the contract, each in exactly one family", () => {
    expect([...knownAnnotationKeys].sort()).toEqual([...contractKeys].sort());
    expect(annotationFamilies.flatMap((f) => f.keys)).toHaveLength(contractKeys.length);
  });

  it("documents every key with values, default and description", () => {
    expect(annotationDocs.map((d) => d.key).sort()).toEqual([...contractKeys].sort());
    for (const doc of annotationDocs) expect(doc.description.length).toBeGreaterThan(0);
  });

  it.each<{ name: string; annotations: Readonly<Record<string, string>>; findings: Array<Pick<AnnotationFinding, "severity" | "reason" | "key">> }>([
    { name: "no annotations: default options, no findings", annotations: none, findings: [] },
    { name: "foreign prefixes are ignored", annotations: { "nginx.ingress.kubernetes.io/rewrite-target": "/", "kubernetes.io/ingress.class": "x" }, findings: [] },
    { name: "an unknown proxypass.io/ key is a warning", annotations: { "proxypass.io/lb-method": "x" }, findings: [{ severity: "warning", reason: "UnknownAnnotation", key: "proxypass.io/lb-method" }] },
    { name: "an implemented balancer key gives no finding", annotations: { "proxypass.io/lbmethod": "random2" }, findings: [] },
    { name: "an invalid balancer key is an error", annotations: { "proxypass.io/lbmethod": "roundrobin" }, findings: [{ severity: "error", reason: "InvalidAnnotation", key: "proxypass.io/lbmethod" }] },
    { name: "a health setting without health-check-uri is ignored with a warning", annotations: { "proxypass.io/health-check-interval": "5" }, findings: [{ severity: "warning", reason: "AnnotationIgnored", key: "proxypass.io/health-check-interval" }] },
    { name: "an invalid implemented key is an error", annotations: { "proxypass.io/timeout": "x" }, findings: [{ severity: "error", reason: "InvalidAnnotation", key: "proxypass.io/timeout" }] },
    {
      name: "findings are sorted by key",
      // ajp-packet-size without backend-protocol AJP: an implemented key, ignored with a warning.
      annotations: { "proxypass.io/zzz": "1", "proxypass.io/ajp-packet-size": "8192", "proxypass.io/aaa": "1" },
      findings: [
        { severity: "warning", reason: "UnknownAnnotation", key: "proxypass.io/aaa" },
        { severity: "warning", reason: "AnnotationIgnored", key: "proxypass.io/ajp-packet-size" },
        { severity: "warning", reason: "UnknownAnnotation", key: "proxypass.io/zzz" },
      ],
    },
  ])("$name", ({ annotations, findings }) => {
    const parsed = parseAnnotations(annotations);
    expect(parsed.findings.map(({ severity, reason, key }) => ({ severity, reason, key }))).toEqual(findings);
  });

  it("turns balancer, health and failover keys into balancer settings", () => {
    const parsed = parseAnnotations({ "proxypass.io/lbmethod": "bybusyness", "proxypass.io/sticky-session": "ROUTEID", "proxypass.io/retry": "5", "proxypass.io/health-check-method": "TCP", "proxypass.io/hot-standby": "spare:http" });
    expect(parsed.balancer).toEqual({
      lbmethod: "bybusyness",
      sticky: { cookie: "ROUTEID", param: null, noFailover: false },
      failover: { maxAttempts: null, retryMs: 5000, failOnStatus: [], failOnTimeout: false },
      healthCheck: { uri: "/", method: "TCP", intervalMs: 30000, passes: 1, fails: 1, expect: [[200, 399]] },
      hotStandby: { service: "spare", port: "http" },
      protocol: "http",
      tlsVerify: false,
      caSecret: null,
      ajp: { secret: null, packetSize: 8192, pingMs: 0 },
    });
    expect(parsed.canary).toBeNull();
  });

  it("global defaults apply to balancer settings without warnings about keys the Ingress does not set", () => {
    const parsed = parseAnnotations({}, { "proxypass.io/health-check-interval": "5", "proxypass.io/sticky-nofailover": "true", "proxypass.io/lbmethod": "random2" });
    expect(parsed.findings).toEqual([]);
    expect(parsed.balancer.lbmethod).toBe("random2");
    expect(parsed.balancer.healthCheck).toBeNull();
  });

  it("turns timeouts and headers into route options", () => {
    const parsed = parseAnnotations({ "proxypass.io/timeout": "0", "proxypass.io/preserve-host": "false", "proxypass.io/request-headers": "set X-A 1" });
    expect(parsed.options).toEqual({
      timeouts: { connectMs: 5000, readMs: null },
      preserveHost: false,
      upstreamVhost: null,
      requestHeaders: [{ op: "set", name: "x-a", value: "1" }],
      responseHeaders: [],
      websocketIdleMs: 3_600_000,
      rewriteTarget: null,
      appRoot: null,
      proxyPassReverse: true,
      connectPorts: null,
      compression: false,
      maxBodyBytes: null,
      allowCidrs: null,
      denyCidrs: null,
      rateLimit: null,
      limitConnections: null,
    });
  });

  it.each<{ name: string; annotations: Readonly<Record<string, string>>; defaults?: Readonly<Record<string, string>>; ms: number | null }>([
    { name: "websocket-idle-timeout sets the tunnel idle time", annotations: { "proxypass.io/websocket-idle-timeout": "90" }, ms: 90_000 },
    { name: 'websocket-idle-timeout "0" disables it', annotations: { "proxypass.io/websocket-idle-timeout": "0" }, ms: null },
    { name: "a global default applies to an Ingress without the key", annotations: {}, defaults: { "proxypass.io/websocket-idle-timeout": "30" }, ms: 30_000 },
  ])("$name", ({ annotations, defaults, ms }) => {
    const parsed = parseAnnotations(annotations, defaults);
    expect(parsed.findings).toEqual([]);
    expect(parsed.options.websocketIdleMs).toBe(ms);
  });

  it("backend-protocol and its TLS keys are balancer settings", () => {
    const parsed = parseAnnotations({ "proxypass.io/backend-protocol": "GRPCS", "proxypass.io/backend-tls-verify": "true", "proxypass.io/backend-ca-secret": "ca" });
    expect(parsed.findings).toEqual([]);
    expect(parsed.balancer).toMatchObject({ protocol: "grpcs", tlsVerify: true, caSecret: "ca" });
  });

  it("AJP keys without backend-protocol AJP are ignored with a warning; with it they are balancer settings", () => {
    const ignored = parseAnnotations({ "proxypass.io/ajp-packet-size": "16384" });
    expect(ignored.findings.map(({ severity, reason, key }) => ({ severity, reason, key }))).toEqual([{ severity: "warning", reason: "AnnotationIgnored", key: "proxypass.io/ajp-packet-size" }]);
    const used = parseAnnotations({ "proxypass.io/backend-protocol": "ajp", "proxypass.io/ajp-packet-size": "16384", "proxypass.io/ajp-secret": "tomcat-ajp", "proxypass.io/ajp-ping": "500ms" });
    expect(used.findings).toEqual([]);
    expect(used.balancer).toMatchObject({ protocol: "ajp", ajp: { secret: "tomcat-ajp", packetSize: 16384, pingMs: 500 } });
  });

  it("a planned family's keys are warnings (AnnotationNotImplemented); every key of the contract is implemented now", () => {
    const planned = notImplementedFamily("later", "issue #0", [plannedDoc("some-key", "text", "none", "a later key")]);
    expect(planned.parse({ "proxypass.io/some-key": "1" }).diagnostics.map((d) => [d.severity, d.reason, d.key])).toEqual([["warning", "AnnotationNotImplemented", "proxypass.io/some-key"]]);
    expect(annotationFamilies.filter((f) => !f.implemented).flatMap((f) => f.keys)).toEqual([]);
  });
});
