// The ConfigMap's logging and limits keys (src/build/server-settings.ts): per-key validation, the
// ServerSettings they give, last-valid-value memory, and that they reach the route table (and its
// version) without touching the routes.
import { describe, expect, it } from "vitest";
import { buildSnapshot, checkSetting, checkServerSetting, resolveGlobalSettings, serverSettingDocs, serverSettingKeys, settingKeys, toServerSettings } from "../../src/build/index.js";
import { DiagnosticList } from "../../src/build/diagnostics.js";
import { defaultBuildSettings, defaultCompressionTypes, defaultServerSettings, emptyBuildMemory, emptyClusterView, type BuildSettings, type ClusterView, type ConfigMap, type ServerSettings, type SettingsMemory } from "../../src/model/index.js";

const settings: BuildSettings = { ...defaultBuildSettings, configMap: { namespace: "ingress", name: "proxypass" } };

function viewWith(data: Record<string, string>): ClusterView {
  const configMap: ConfigMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { namespace: "ingress", name: "proxypass", labels: {}, annotations: {} }, data };
  return { ...emptyClusterView, configMaps: [configMap] };
}

function resolve(data: Record<string, string>, previous: SettingsMemory = { found: true, values: {} }) {
  const diagnostics = new DiagnosticList();
  const resolved = resolveGlobalSettings(viewWith(data), settings, previous, diagnostics);
  return { ...resolved, diagnostics: diagnostics.sorted() };
}

describe("server settings: keys", () => {
  it("are the logging and limits keys, documented in this order, apart from the annotation-default keys", () => {
    expect(serverSettingKeys).toEqual(["access-log", "log-level", "client-header-timeout", "client-request-timeout", "keep-alive-timeout", "upstream-keep-alive-timeout", "max-requests-per-connection", "compression-types", "error-page-<status>", "compression-min-size", "ssl-protocols", "ssl-ciphers", "hsts", "hsts-max-age", "hsts-include-subdomains", "hsts-preload", "ssl-redirect-port", "global-response-headers", "client-body-timeout", "max-connections-per-worker"]);
    expect(serverSettingDocs.map((d) => d.key)).toEqual(serverSettingKeys);
    for (const key of serverSettingKeys) expect(settingKeys).not.toContain(key);
  });

  it("max-header-size is not a key (Node fixes it when the server is created)", () => {
    expect(checkSetting("max-header-size", "32768")).toEqual({ ok: false, reason: "not a global setting" });
  });

  it("built-in defaults are Node's client timeouts, a 4 s upstream keep-alive, unlimited requests, logging by the flags", () => {
    expect(toServerSettings({})).toEqual({ settings: defaultServerSettings, headerTimeoutCapped: false });
    expect(defaultServerSettings).toEqual({
      accessLog: null,
      logLevel: null,
      clientHeaderTimeoutMs: 60_000,
      clientRequestTimeoutMs: 300_000,
      keepAliveTimeoutMs: 5_000,
      upstreamKeepAliveTimeoutMs: 4_000,
      maxRequestsPerConnection: 0,
      compressionTypes: defaultCompressionTypes,
      compressionMinSize: 1024,
      clientBodyTimeoutMs: 60_000,
      maxConnectionsPerWorker: 16_384,
    });
  });

  it.each([
    { name: "client-body-timeout in seconds", values: { "client-body-timeout": "2.5" }, want: { clientBodyTimeoutMs: 2_500 } },
    { name: 'client-body-timeout "0" disables it', values: { "client-body-timeout": "0" }, want: { clientBodyTimeoutMs: null } },
    { name: "max-connections-per-worker", values: { "max-connections-per-worker": "100" }, want: { maxConnectionsPerWorker: 100 } },
    { name: 'max-connections-per-worker "0" is unlimited', values: { "max-connections-per-worker": "0" }, want: { maxConnectionsPerWorker: 0 } },
  ])("$name", ({ values, want }) => {
    expect(toServerSettings(values as unknown as Record<string, string>).settings).toMatchObject(want);
  });

  it.each([
    { key: "client-body-timeout", value: "forever" },
    { key: "client-body-timeout", value: "7200" },
    { key: "max-connections-per-worker", value: "-1" },
    { key: "max-connections-per-worker", value: "2000000" },
  ])("$key=$value is refused", ({ key, value }) => {
    expect(checkServerSetting(key, value).ok).toBe(false);
  });
});

interface ValueCase {
  readonly name: string;
  readonly key: string;
  readonly value: string;
  readonly want: Partial<ServerSettings>;
}

describe("server settings: valid values", () => {
  it.each<ValueCase>([
    { name: "access-log false turns the access log off", key: "access-log", value: "false", want: { accessLog: false } },
    { name: "access-log true turns it on over --access-log=false", key: "access-log", value: "true", want: { accessLog: true } },
    { name: "log-level takes a pino level", key: "log-level", value: "debug", want: { logLevel: "debug" } },
    { name: "log-level takes per-component levels", key: "log-level", value: "info,proxy=debug,kube=warn", want: { logLevel: "info,proxy=debug,kube=warn" } },
    { name: "client-header-timeout in seconds with fractions", key: "client-header-timeout", value: "2.5", want: { clientHeaderTimeoutMs: 2500 } },
    { name: "client-request-timeout 0 disables it", key: "client-request-timeout", value: "0", want: { clientRequestTimeoutMs: null } },
    { name: "client-request-timeout up to one day", key: "client-request-timeout", value: "86400", want: { clientRequestTimeoutMs: 86_400_000 } },
    { name: "keep-alive-timeout as low as 0.1 s", key: "keep-alive-timeout", value: "0.1", want: { keepAliveTimeoutMs: 100 } },
    { name: "upstream-keep-alive-timeout in seconds", key: "upstream-keep-alive-timeout", value: "30", want: { upstreamKeepAliveTimeoutMs: 30_000 } },
    { name: "max-requests-per-connection 1 turns keep-alive off", key: "max-requests-per-connection", value: "1", want: { maxRequestsPerConnection: 1 } },
    { name: "max-requests-per-connection 0 is unlimited", key: "max-requests-per-connection", value: "0", want: { maxRequestsPerConnection: 0 } },
    { name: "compression-types: comma or space separated, lower-cased, sorted, unique", key: "compression-types", value: "Text/HTML, application/json text/* application/json", want: { compressionTypes: ["application/json", "text/*", "text/html"] } },
    { name: "compression-min-size in bytes", key: "compression-min-size", value: "0", want: { compressionMinSize: 0 } },
    { name: "error-page-503 is the page for 503", key: "error-page-503", value: "<h1>soon</h1>", want: { errorPages: { "503": "<h1>soon</h1>" } } },
    {
      name: "global-response-headers: header rule lines",
      key: "global-response-headers",
      value: "set X-Content-Type-Options nosniff\n# comment\nappend Vary Origin\nunset X-Powered-By",
      want: {
        globalResponseHeaders: [
          { op: "set", name: "x-content-type-options", value: "nosniff" },
          { op: "append", name: "vary", value: "Origin" },
          { op: "unset", name: "x-powered-by", value: "" },
        ],
      },
    },
    { name: "global-response-headers: blank lines only set nothing", key: "global-response-headers", value: "\n# none\n", want: {} },
  ])("$name", ({ key, value, want }) => {
    expect(checkServerSetting(key, value)).toEqual({ ok: true });
    expect(checkSetting(key, value)).toEqual({ ok: true });
    const result = resolve({ [key]: value });
    expect(result.diagnostics).toEqual([]);
    expect(result.global.server).toEqual({ ...defaultServerSettings, ...want });
    // Not an annotation default.
    expect(result.annotationDefaults).toEqual({});
  });
});

interface InvalidCase {
  readonly name: string;
  readonly key: string;
  readonly value: string;
  readonly reason: RegExp;
}

describe("server settings: invalid values", () => {
  it.each<InvalidCase>([
    { name: "access-log rejects on", key: "access-log", value: "on", reason: /"true" or "false"/ },
    { name: "log-level rejects an unknown level", key: "log-level", value: "verbose", reason: /pino level/ },
    { name: "log-level rejects a bad component name", key: "log-level", value: "Proxy=debug", reason: /component=level/ },
    { name: "log-level rejects an empty value", key: "log-level", value: "", reason: /pino level/ },
    { name: "client-header-timeout rejects 0 (headers must time out)", key: "client-header-timeout", value: "0", reason: /0\.1-3600 seconds/ },
    { name: "client-header-timeout rejects a unit", key: "client-header-timeout", value: "10s", reason: /seconds as a decimal/ },
    { name: "client-request-timeout rejects more than a day", key: "client-request-timeout", value: "90000", reason: /"0" or 0\.1-86400 seconds/ },
    { name: "keep-alive-timeout rejects 0 (Node would keep idle connections forever)", key: "keep-alive-timeout", value: "0", reason: /0\.1-3600 seconds/ },
    { name: "upstream-keep-alive-timeout rejects a negative value", key: "upstream-keep-alive-timeout", value: "-4", reason: /seconds as a decimal/ },
    { name: "max-requests-per-connection rejects a fraction", key: "max-requests-per-connection", value: "1.5", reason: /whole number/ },
    { name: "max-requests-per-connection rejects more than a million", key: "max-requests-per-connection", value: "2000000", reason: /at most 1000000/ },
    { name: "compression-types rejects text/event-stream (events must not wait)", key: "compression-types", value: "text/html,text/event-stream", reason: /never compressed/ },
    { name: "compression-types rejects a non-type", key: "compression-types", value: "html", reason: /not a media type/ },
    { name: "compression-types rejects an empty list", key: "compression-types", value: " , ", reason: /at least one/ },
    { name: "compression-min-size rejects a unit", key: "compression-min-size", value: "1k", reason: /whole number of bytes/ },
    { name: "error-page rejects an empty page", key: "error-page-404", value: "", reason: /must not be empty/ },
    { name: "error-page rejects more than 64 KiB", key: "error-page-404", value: "x".repeat(65_537), reason: /at most 65536 bytes/ },
    { name: "hsts rejects yes", key: "hsts", value: "yes", reason: /"true" or "false"/ },
    { name: "hsts-max-age rejects a unit", key: "hsts-max-age", value: "1y", reason: /whole number of seconds/ },
    { name: "hsts-max-age rejects more than ten years", key: "hsts-max-age", value: "999999999", reason: /at most 315360000/ },
    { name: "hsts-preload rejects 1", key: "hsts-preload", value: "1", reason: /"true" or "false"/ },
    { name: "ssl-redirect-port rejects 0", key: "ssl-redirect-port", value: "0", reason: /port number/ },
    { name: "ssl-redirect-port rejects 70000", key: "ssl-redirect-port", value: "70000", reason: /port number/ },
    { name: "global-response-headers rejects CR/LF injection", key: "global-response-headers", value: "set X-A a\rSet-Cookie: x=1", reason: /control/ },
    { name: "global-response-headers rejects framing headers", key: "global-response-headers", value: "set Content-Length 0", reason: /cannot be changed/ },
    { name: "global-response-headers rejects an unknown operation", key: "global-response-headers", value: "replace X-A b", reason: /expected "set NAME VALUE"/ },
  ])("$name", ({ key, value, reason }) => {
    const check = checkServerSetting(key, value);
    expect(check.ok).toBe(false);
    expect(check.ok ? "" : check.reason).toMatch(reason);
    const result = resolve({ [key]: value }, { found: true, values: {} });
    expect(result.global.server).toEqual(defaultServerSettings);
    expect(result.diagnostics).toEqual([expect.objectContaining({ severity: "error", kind: "ConfigMap", object: "ingress/proxypass", reason: "InvalidSetting" })]);
  });

  it("an invalid value keeps its key's previous valid value, and other keys apply", () => {
    const result = resolve({ "keep-alive-timeout": "soon", "access-log": "false" }, { found: true, values: { "keep-alive-timeout": "2" } });
    expect(result.global.server).toEqual({ ...defaultServerSettings, keepAliveTimeoutMs: 2000, accessLog: false });
    expect(result.memory.values).toEqual({ "keep-alive-timeout": "2", "access-log": "false" });
    expect(result.diagnostics.map((d) => d.message)).toEqual(['key keep-alive-timeout: invalid value "soon": must be seconds as a decimal number like "5" or "2.5" (at most 3 decimals); the previous valid value "2" stays in effect']);
  });

  it("a header timeout above the request timeout is capped to it, with a warning", () => {
    const result = resolve({ "client-header-timeout": "90", "client-request-timeout": "30" });
    expect(result.global.server).toMatchObject({ clientHeaderTimeoutMs: 30_000, clientRequestTimeoutMs: 30_000 });
    expect(result.diagnostics.map((d) => [d.severity, d.reason])).toEqual([["warning", "SettingCapped"]]);
  });

  it("a header timeout is not capped when the request timeout is disabled", () => {
    const result = resolve({ "client-header-timeout": "900", "client-request-timeout": "0" });
    expect(result.global.server).toMatchObject({ clientHeaderTimeoutMs: 900_000, clientRequestTimeoutMs: null });
    expect(result.diagnostics).toEqual([]);
  });
});

describe("server settings: in the route table", () => {
  const ingress = {
    apiVersion: "networking.k8s.io/v1" as const,
    kind: "Ingress" as const,
    metadata: { name: "a", namespace: "default", labels: {}, annotations: {}, creationTimestamp: "2024-01-01T00:00:00Z" },
    spec: { ingressClassName: "proxypass", rules: [{ host: "a.test", http: { paths: [{ path: "/", pathType: "Prefix" as const, backend: { service: { name: "a", port: { number: 80 } } } }] } }], tls: [] },
  };
  const build = (data: Record<string, string>, memory = emptyBuildMemory) => buildSnapshot({ ...viewWith(data), ingresses: [ingress] }, memory, settings);

  it("a change of only server settings changes the route table version and nothing else of it", () => {
    const before = build({ timeout: "30" });
    const after = build({ timeout: "30", "keep-alive-timeout": "1" }, before.memory);
    expect(after.snapshot.routes.version).not.toBe(before.snapshot.routes.version);
    expect(after.snapshot.routes.server).toEqual({ ...defaultServerSettings, keepAliveTimeoutMs: 1000 });
    expect(after.snapshot.routes.virtualHosts).toEqual(before.snapshot.routes.virtualHosts);
    expect(after.snapshot.routes.balancers).toEqual(before.snapshot.routes.balancers);
    expect(after.snapshot.endpoints.version).toBe(before.snapshot.endpoints.version);
    expect(after.accepted).toEqual(before.accepted);
  });

  it("an invalid value across builds keeps the first valid one, and the version stays", () => {
    const first = build({ "log-level": "debug" });
    const second = build({ "log-level": "loud" }, first.memory);
    expect(second.snapshot.routes.server?.logLevel).toBe("debug");
    expect(second.snapshot.routes.version).toBe(first.snapshot.routes.version);
    expect(second.diagnostics.filter((d) => d.kind === "ConfigMap").map((d) => d.reason)).toEqual(["InvalidSetting"]);
  });

  it("removing a key goes back to the built-in default (the flag, for logging)", () => {
    const first = build({ "log-level": "debug", "access-log": "false" });
    const second = build({}, first.memory);
    expect(second.snapshot.routes.server).toEqual(defaultServerSettings);
  });
});
