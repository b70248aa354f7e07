import { describe, expect, it } from "vitest";
import { annotationDocs, buildSnapshot, checkSetting, defaultGlobalSettings, resolveGlobalSettings, settingDocs, settingKeys } from "../../src/build/index.js";
import { DiagnosticList } from "../../src/build/diagnostics.js";
import { defaultBuildSettings, emptyBuildMemory, emptyClusterView, type BuildSettings, type ClusterView, type ConfigMap, type SettingsMemory } from "../../src/model/index.js";

const settings: BuildSettings = { ...defaultBuildSettings, configMap: { namespace: "ingress", name: "proxypass" } };

function viewWith(data: Record<string, string> | null): ClusterView {
  const configMap: ConfigMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { namespace: "ingress", name: "proxypass", labels: {}, annotations: {} }, data: data ?? {} };
  return { ...emptyClusterView, configMaps: data === null ? [] : [configMap] };
}

function resolve(data: Record<string, string> | null, previous: SettingsMemory = emptyBuildMemory.settings, with_: BuildSettings = settings) {
  const diagnostics = new DiagnosticList();
  const resolved = resolveGlobalSettings(viewWith(data), with_, previous, diagnostics);
  return { ...resolved, diagnostics: diagnostics.sorted() };
}

describe("global settings: keys", () => {
  it("are the implemented annotations without prefix, except per-Ingress upstream-vhost, hot-standby, canary-*, health-check-uri, rewrite-target, app-root, backend-protocol, backend-ca-secret, the ajp-* keys and allow-connect", () => {
    expect(settingKeys).toEqual([
      "lbmethod", "sticky-session", "sticky-nofailover",
      "health-check-method", "health-check-interval", "health-check-passes", "health-check-fails", "health-check-expect",
      "retry", "max-attempts", "fail-on-status", "fail-on-timeout",
      "connect-timeout", "timeout", "preserve-host", "request-headers", "response-headers", "proxy-pass-reverse",
      "max-body-size", "allow-cidrs", "deny-cidrs", "limit-rps", "limit-burst", "limit-connections",
      "ssl-redirect", "force-ssl-redirect", "auth-timeout", "compression", "custom-error-pages", "custom-error-backend", "backend-tls-verify", "websocket-idle-timeout",
    ]);
  });

  it("have doc rows with the annotation's values and default", () => {
    expect(settingDocs.map((d) => d.key)).toEqual(settingKeys);
    for (const doc of settingDocs) {
      const annotation = annotationDocs.find((a) => a.key === doc.annotation);
      expect(annotation).toBeDefined();
      expect(doc).toMatchObject({ values: annotation?.values, default: annotation?.default });
    }
  });
});

describe("global settings: checkSetting (the annotation schemas)", () => {
  it.each([
    { name: "connect-timeout accepts seconds with fractions", key: "connect-timeout", value: "0.25" },
    { name: "connect-timeout accepts 0 (disabled)", key: "connect-timeout", value: "0" },
    { name: "timeout accepts one day", key: "timeout", value: "86400" },
    { name: "preserve-host accepts false", key: "preserve-host", value: "false" },
    { name: "request-headers accepts rule lines", key: "request-headers", value: "set X-A 1\nunset X-B\n" },
    { name: "response-headers accepts an empty value (no rules)", key: "response-headers", value: "" },
    { name: "lbmethod accepts bybusyness", key: "lbmethod", value: "bybusyness" },
    { name: "health-check-interval accepts seconds without a uri (a default, not a warning)", key: "health-check-interval", value: "5" },
  ])("$name", ({ key, value }) => {
    expect(checkSetting(key, value)).toEqual({ ok: true });
  });

  it.each([
    { name: "timeout rejects a unit suffix", key: "timeout", value: "5s", reason: /seconds as a decimal/ },
    { name: "connect-timeout rejects more than one day", key: "connect-timeout", value: "90000", reason: /at most 86400/ },
    { name: "preserve-host rejects yes", key: "preserve-host", value: "yes", reason: /"true" or "false"/ },
    { name: "request-headers rejects Host", key: "request-headers", value: "set Host x", reason: /header host cannot be changed/ },
    { name: "response-headers rejects CRLF", key: "response-headers", value: "set X-A 1\r\nset X-B 2", reason: /contains CR/ },
    { name: "upstream-vhost is not a global setting", key: "upstream-vhost", value: "a.example.com", reason: /not a global setting/ },
    { name: "lbmethod rejects an unknown method", key: "lbmethod", value: "roundrobin", reason: /byrequests, bytraffic/ },
    { name: "hot-standby is not a global setting", key: "hot-standby", value: "spare:80", reason: /not a global setting/ },
    { name: "canary-weight is not a global setting", key: "canary-weight", value: "10", reason: /not a global setting/ },
    { name: "health-check-uri is not a global setting", key: "health-check-uri", value: "/healthz", reason: /not a global setting/ },
    { name: "an unknown key is not a global setting", key: "proxy-read-timeout", value: "5", reason: /not a global setting/ },
  ])("$name", ({ key, value, reason }) => {
    const check = checkSetting(key, value);
    expect(check.ok).toBe(false);
    expect(check.ok ? "" : check.reason).toMatch(reason);
  });
});

interface ResolveCase {
  readonly name: string;
  readonly data: Record<string, string> | null;
  readonly previous: SettingsMemory;
  readonly values: Record<string, string>;
  readonly reasons: string[];
}

describe("global settings: resolveGlobalSettings", () => {
  it.each<ResolveCase>([
    {
      name: "valid keys apply",
      data: { timeout: "30", "preserve-host": "false" },
      previous: { found: true, values: {} },
      values: { timeout: "30", "preserve-host": "false" },
      reasons: [],
    },
    {
      name: "an invalid value keeps the previous valid value of its key",
      data: { timeout: "later" },
      previous: { found: true, values: { timeout: "30" } },
      values: { timeout: "30" },
      reasons: ["InvalidSetting"],
    },
    {
      name: "an invalid value without a previous one falls back to the built-in default",
      data: { timeout: "later" },
      previous: { found: true, values: {} },
      values: {},
      reasons: ["InvalidSetting"],
    },
    {
      name: "each key is validated on its own",
      data: { timeout: "later", "connect-timeout": "2" },
      previous: { found: true, values: { timeout: "30", "connect-timeout": "1" } },
      values: { timeout: "30", "connect-timeout": "2" },
      reasons: ["InvalidSetting"],
    },
    {
      name: "a key removed from the ConfigMap goes back to the built-in default",
      data: { "connect-timeout": "2" },
      previous: { found: true, values: { timeout: "30", "connect-timeout": "2" } },
      values: { "connect-timeout": "2" },
      reasons: [],
    },
    {
      name: "unknown keys are warnings and ignored",
      data: { "proxy-read-timeout": "20" },
      previous: { found: false, values: {} },
      values: {},
      reasons: ["UnknownSetting"],
    },
    {
      name: "rewrite-target and app-root are refused with an error each",
      data: { "rewrite-target": "/", "app-root": "/app" },
      previous: { found: false, values: {} },
      values: {},
      reasons: ["SettingPerIngressOnly", "SettingPerIngressOnly"],
    },
    {
      name: "upstream-vhost is refused with an error",
      data: { "upstream-vhost": "a.example.com" },
      previous: { found: false, values: {} },
      values: {},
      reasons: ["SettingPerIngressOnly"],
    },
    {
      name: "hot-standby and canary keys are refused with an error each",
      data: { "hot-standby": "spare:80", canary: "true" },
      previous: { found: false, values: {} },
      values: {},
      reasons: ["SettingPerIngressOnly", "SettingPerIngressOnly"],
    },
    {
      name: "a balancer key applies",
      data: { lbmethod: "bybusyness" },
      previous: { found: true, values: {} },
      values: { lbmethod: "bybusyness" },
      reasons: [],
    },
    {
      name: "configured but never found: built-in defaults and a warning",
      data: null,
      previous: { found: false, values: {} },
      values: {},
      reasons: ["ConfigMapNotFound"],
    },
    {
      name: "found before, now deleted: built-in defaults, no diagnostic",
      data: null,
      previous: { found: true, values: { timeout: "30" } },
      values: {},
      reasons: [],
    },
  ])("$name", ({ data, previous, values, reasons }) => {
    const result = resolve(data, previous);
    expect(result.global.values).toEqual(values);
    expect(result.memory.values).toEqual(values);
    expect(result.diagnostics.map((d) => d.reason)).toEqual(reasons);
    for (const d of result.diagnostics) expect(d).toMatchObject({ kind: "ConfigMap", object: "ingress/proxypass" });
  });

  it("names key, value and reason in an InvalidSetting error", () => {
    const [d] = resolve({ "preserve-host": "yes" }, { found: true, values: { "preserve-host": "false" } }).diagnostics;
    expect(d?.severity).toBe("error");
    expect(d?.message).toBe('key preserve-host: invalid value "yes": must be "true" or "false"; the previous valid value "false" stays in effect');
  });

  it("remembers that the ConfigMap was found", () => {
    expect(resolve({}).memory.found).toBe(true);
    expect(resolve(null, { found: true, values: {} }).memory.found).toBe(true);
    expect(resolve(null).memory.found).toBe(false);
  });

  it("without --configmap ignores every ConfigMap and reports nothing", () => {
    const result = resolve({ timeout: "later" }, emptyBuildMemory.settings, defaultBuildSettings);
    expect(result.diagnostics).toEqual([]);
    expect(result.global).toEqual(defaultGlobalSettings);
  });

  it("routeDefaults resolve the ConfigMap values over built-in defaults", () => {
    const { global } = resolve({ "connect-timeout": "0", timeout: "2.5" });
    expect(global.routeDefaults.timeouts).toEqual({ connectMs: null, readMs: 2500 });
    expect(global.routeDefaults.preserveHost).toBe(true);
  });

  it("a balancer key is the default of the balancers of Ingresses that do not set it", () => {
    const ingress = (name: string, annotations: Record<string, string>) => ({
      apiVersion: "networking.k8s.io/v1" as const,
      kind: "Ingress" as const,
      metadata: { name, namespace: "default", labels: {}, annotations, creationTimestamp: `2024-01-0${name === "a" ? 1 : 2}T00:00:00Z` },
      spec: { ingressClassName: "proxypass", rules: [{ host: `${name}.test`, http: { paths: [{ path: "/", pathType: "Prefix" as const, backend: { service: { name, port: { number: 80 } } } }] } }], tls: [] },
    });
    const view = { ...viewWith({ lbmethod: "bybusyness", "sticky-session": "ROUTEID" }), ingresses: [ingress("a", {}), ingress("b", { "proxypass.io/lbmethod": "random2" })] };
    const { snapshot } = buildSnapshot(view, emptyBuildMemory, settings);
    expect(snapshot.routes.balancers.map((b) => [b.id, b.settingsFrom, b.lbmethod, b.sticky?.cookie])).toEqual([
      ["default/a:80", "default/a", "bybusyness", "ROUTEID"],
      ["default/b:80", "default/b", "random2", "ROUTEID"],
    ]);
  });

  it("an invalid value reported across builds keeps the value of the first valid build", () => {
    const first = buildSnapshot(viewWith({ timeout: "30" }), emptyBuildMemory, settings);
    const second = buildSnapshot(viewWith({ timeout: "soon" }), first.memory, settings);
    const third = buildSnapshot(viewWith({ timeout: "later" }), second.memory, settings);
    expect(third.globalSettings.values).toEqual({ timeout: "30" });
    expect(third.globalSettings.routeDefaults.timeouts.readMs).toBe(30_000);
  });
});
