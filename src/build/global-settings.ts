// Global settings: the `--configmap NS/NAME` ConfigMap sets cluster-wide defaults of the implemented
// annotations, and the server settings (logging, connection limits; server-settings.ts). Annotation
// default keys are the annotation names without `proxypass.io/`; each key is validated on its own
// (the annotation's schema, or the server setting's); an invalid value keeps the previous valid
// value of its key.
import { defaultServerSettings, type BuildSettings, type ClusterView, type Diagnostic, type RouteOptions, type ServerSettings, type SettingsMemory } from "../model/index.js";
import {
  annotationFamilies,
  annotationKey,
  annotationPrefix,
  appRootKey,
  allowConnectKey,
  authPerIngressKeys,
  canaryByCookieKey,
  canaryByHeaderKey,
  canaryKey,
  canaryWeightKey,
  healthCheckUriKey,
  hotStandbyKey,
  knownAnnotationKeys,
  parseAnnotations,
  quoteValue,
  rewriteTargetKey,
  upstreamVhostKey,
  backendProtocolKey,
  backendCaSecretKey,
  ajpSecretKey,
  ajpPacketSizeKey,
  ajpPingKey,
  type AnnotationDoc,
  type Annotations,
} from "./annotations/index.js";
import type { DiagnosticList } from "./diagnostics.js";
import { compareText } from "./order.js";
import { checkServerSetting, clientHeaderTimeoutSetting, clientRequestTimeoutSetting, isServerSettingKey, serverSettingKeys, toServerSettings } from "./server-settings.js";

/** Annotations only an Ingress can set: refused in the ConfigMap. */
const perIngressOnly: ReadonlyMap<string, string> = new Map([
  [upstreamVhostKey, "the Host sent upstream is specific to an Ingress's backends"],
  [hotStandbyKey, "a standby Service is specific to an Ingress's namespace and backends"],
  [canaryKey, "a canary is specific to an Ingress"],
  [canaryWeightKey, "a canary is specific to an Ingress"],
  [canaryByHeaderKey, "a canary is specific to an Ingress"],
  [canaryByCookieKey, "a canary is specific to an Ingress"],
  [healthCheckUriKey, "the checked path is specific to an Ingress's backends (it enables checks)"],
  [rewriteTargetKey, "a path mapping is specific to an Ingress's paths"],
  [appRootKey, "an application root is specific to an Ingress's hosts"],
  [allowConnectKey, "CONNECT is opened per Ingress, for its own hosts, never cluster-wide"],
  [backendProtocolKey, "the protocol is specific to an Ingress's backends"],
  [backendCaSecretKey, "a Secret is specific to an Ingress's namespace"],
  ...authPerIngressKeys.map((key): [string, string] => [key, "authentication is specific to an Ingress (its Secret, its auth service)"]),
  [ajpSecretKey, "a Secret is specific to an Ingress's namespace"],
  [ajpPacketSizeKey, "AJP settings go with an Ingress's backend-protocol"],
  [ajpPingKey, "AJP settings go with an Ingress's backend-protocol"],
]);

const implementedFamilies = annotationFamilies.filter((f) => f.implemented);

/** ConfigMap keys of annotation defaults (no prefix), in README order. */
export const settingKeys: ReadonlyArray<string> = implementedFamilies.flatMap((f) => f.keys.filter((k) => !perIngressOnly.has(k)).map(settingName));

const settingKeySet: ReadonlySet<string> = new Set(settingKeys);

/** Every ConfigMap key, for messages about unknown ones. */
const knownKeys = [...settingKeys, ...serverSettingKeys].join(", ");

/** One row of the README global-settings table. */
export interface SettingDoc extends AnnotationDoc {
  /** The annotation it is the default of. */
  readonly annotation: string;
}

/** Doc rows of the ConfigMap keys, derived from the annotation doc rows (same values and defaults). */
export const settingDocs: ReadonlyArray<SettingDoc> = implementedFamilies.flatMap((f) =>
  f.docs
    .filter((d) => !perIngressOnly.has(d.key))
    .map((d) => ({ ...d, key: settingName(d.key), annotation: d.key, description: `cluster-wide default of annotation ${d.key}: ${d.description}` })),
);

/** The global settings in effect after a build; exposed so the runtime can apply its own keys later. */
export interface GlobalSettings {
  /** "ns/name" of the ConfigMap read, or null (not configured, or not found). */
  readonly configMap: string | null;
  /** The value in effect of each key set in the ConfigMap (the last valid one), by key, sorted. */
  readonly values: Readonly<Record<string, string>>;
  /** Route options of an Ingress without annotations: ConfigMap values over built-in defaults. */
  readonly routeDefaults: RouteOptions;
  /** Server settings (logging, connection limits): ConfigMap values over built-in defaults. */
  readonly server: ServerSettings;
}

/** No ConfigMap: built-in defaults. */
export const defaultGlobalSettings: GlobalSettings = Object.freeze({ configMap: null, values: Object.freeze({}), routeDefaults: parseAnnotations({}).options, server: defaultServerSettings });

export interface ResolvedSettings {
  readonly global: GlobalSettings;
  /** Full annotation keys (`proxypass.io/...`) -> value: the defaults of every Ingress's annotations. */
  readonly annotationDefaults: Annotations;
  readonly memory: SettingsMemory;
}

type Check = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Validates one value of a ConfigMap key with its annotation family's schema, or its server setting's. */
export function checkSetting(name: string, value: string): Check {
  if (isServerSettingKey(name)) return checkServerSetting(name, value);
  const key = annotationKey(name);
  const family = implementedFamilies.find((f) => f.keys.includes(key));
  if (family === undefined || perIngressOnly.has(key)) return { ok: false, reason: "not a global setting" };
  const invalid = family.parse({ [key]: value }).diagnostics.find((d) => d.severity === "error");
  return invalid === undefined ? { ok: true } : { ok: false, reason: invalid.detail ?? invalid.message };
}

/**
 * Reads the configured ConfigMap from the view. Every key is checked on its own: an invalid value
 * keeps the previous valid value of that key (from `previous`), else the built-in default; unknown
 * keys are reported and ignored. A ConfigMap that is absent gives built-in defaults.
 */
export function resolveGlobalSettings(view: ClusterView, settings: BuildSettings, previous: SettingsMemory, diagnostics: DiagnosticList): ResolvedSettings {
  const wanted = settings.configMap;
  if (wanted === null) return resolved(null, {}, { found: false, values: {} }, diagnostics);
  const ref = `${wanted.namespace}/${wanted.name}`;
  const configMap = view.configMaps.find((c) => c.metadata.namespace === wanted.namespace && c.metadata.name === wanted.name);
  if (configMap === undefined) {
    if (!previous.found) {
      add(diagnostics, ref, "warning", "ConfigMapNotFound", `ConfigMap ${ref} (--configmap) not found; built-in defaults apply until it exists`);
    }
    return resolved(null, {}, { found: previous.found, values: {} }, diagnostics);
  }
  const values: Record<string, string> = {};
  for (const name of Object.keys(configMap.data).sort(compareText)) {
    const value = configMap.data[name] ?? "";
    const kept = readSetting(ref, name, value, previous.values[name], diagnostics);
    if (kept !== null) values[name] = kept;
  }
  return resolved(ref, values, { found: true, values }, diagnostics);
}

/** The value in effect for key `name`, or null (built-in default); reports problems. */
function readSetting(ref: string, name: string, value: string, previous: string | undefined, diagnostics: DiagnosticList): string | null {
  const key = annotationKey(name);
  const why = perIngressOnly.get(key);
  if (why !== undefined) {
    add(diagnostics, ref, "error", "SettingPerIngressOnly", `key ${name}: refused: ${why}, so only the annotation ${key} on an Ingress can set it; the key is ignored`);
    return null;
  }
  if (!settingKeySet.has(name) && !isServerSettingKey(name)) {
    reportUnknown(ref, name, diagnostics);
    return null;
  }
  const check = checkSetting(name, value);
  if (check.ok) return value;
  const outcome = previous === undefined ? "the built-in default applies" : `the previous valid value ${quoteValue(previous)} stays in effect`;
  add(diagnostics, ref, "error", "InvalidSetting", `key ${name}: invalid value ${quoteValue(value)}: ${check.reason}; ${outcome}`);
  return previous ?? null;
}

function reportUnknown(ref: string, name: string, diagnostics: DiagnosticList): void {
  if (knownAnnotationKeys.has(annotationKey(name))) {
    add(diagnostics, ref, "warning", "SettingNotImplemented", `key ${name}: the annotation ${annotationKey(name)} is not implemented yet; the key is ignored`);
  } else if (name.startsWith(annotationPrefix)) {
    add(diagnostics, ref, "warning", "UnknownSetting", `key ${name} is unknown and ignored; keys have no ${annotationPrefix} prefix (${knownKeys})`);
  } else {
    add(diagnostics, ref, "warning", "UnknownSetting", `key ${name} is unknown and ignored; known keys: ${knownKeys}`);
  }
}

function resolved(configMap: string | null, values: Readonly<Record<string, string>>, memory: SettingsMemory, diagnostics: DiagnosticList): ResolvedSettings {
  const annotationDefaults: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) if (settingKeySet.has(name)) annotationDefaults[annotationKey(name)] = value;
  const routeDefaults = parseAnnotations({}, annotationDefaults).options;
  const server = toServerSettings(values);
  if (configMap !== null && server.headerTimeoutCapped) {
    const request = server.settings.clientRequestTimeoutMs ?? 0;
    add(
      diagnostics,
      configMap,
      "warning",
      "SettingCapped",
      `key ${clientHeaderTimeoutSetting}: longer than ${clientRequestTimeoutSetting}, which covers the headers too; ${request / 1000} seconds apply`,
    );
  }
  return { global: { configMap, values, routeDefaults, server: withNotFoundPage(server.settings, routeDefaults) }, annotationDefaults, memory };
}

/**
 * The ConfigMap's `custom-error-pages` with 404 also covers requests no route matches, when there is
 * something to serve: a `custom-error-backend` that names its namespace, or an `error-page-404`.
 */
function withNotFoundPage(server: ServerSettings, defaults: RouteOptions): ServerSettings {
  if (defaults.customErrorPages === undefined || !defaults.customErrorPages.includes(404)) return server;
  const backend = defaults.customErrorBackend !== undefined && defaults.customErrorBackend.includes("/") ? defaults.customErrorBackend : null;
  if (backend === null && server.errorPages?.["404"] === undefined) return server;
  return { ...server, notFoundPage: { backend } };
}

function add(diagnostics: DiagnosticList, ref: string, severity: Diagnostic["severity"], reason: string, message: string): void {
  diagnostics.add({ severity, kind: "ConfigMap", object: ref, reason, message });
}

function settingName(key: string): string {
  return key.slice(annotationPrefix.length);
}
