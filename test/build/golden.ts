// Shared by the golden test and the builder property tests: loads fixture manifests through the
// file loader and renders build results as YAML.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { buildSnapshot, type BuildResult } from "../../src/build/index.js";
import { parseManifestText, toClusterView } from "../../src/files/index.js";
import { compareDiagnostics, defaultBuildSettings, emptyBuildMemory, type BuildMemory, type BuildSettings, type ClusterView, type Diagnostic } from "../../src/model/index.js";

export const fixtureDir = fileURLToPath(new URL("../fixtures/build/", import.meta.url));

export interface GoldenCase {
  /** "<case>: <first comment line of the input>", the behaviour it pins down. */
  readonly name: string;
  readonly id: string;
}

/** Every `<case>.in.yaml`, sorted. */
export function goldenCases(): GoldenCase[] {
  return readdirSync(fixtureDir)
    .filter((f) => f.endsWith(".in.yaml"))
    .sort()
    .map((f) => {
      const id = f.slice(0, -".in.yaml".length);
      const first = readFileSync(`${fixtureDir}${f}`, "utf8").split("\n")[0] ?? "";
      return { id, name: `${id}: ${first.replace(/^#\s*/, "")}` };
    });
}

export function loadFixture(file: string): { view: ClusterView; diagnostics: Diagnostic[] } {
  const parsed = parseManifestText(readFileSync(`${fixtureDir}${file}`, "utf8"), file);
  if (!parsed.ok) throw new Error(`${file}: ${parsed.error}`);
  return toClusterView(parsed.objects);
}

/**
 * Settings of a case: `<case>.settings.yaml` (fields of BuildSettings, e.g. `configMap: {namespace,
 * name}`) over the defaults, else the defaults.
 */
export function settingsFor(id: string): BuildSettings {
  const file = `${fixtureDir}${id}.settings.yaml`;
  if (!existsSync(file)) return defaultBuildSettings;
  const overrides: unknown = parse(readFileSync(file, "utf8"));
  if (overrides === null || typeof overrides !== "object") throw new Error(`${file}: expected a mapping`);
  return { ...defaultBuildSettings, ...(overrides as Partial<BuildSettings>) };
}

/** Memory from building `<case>.before.yaml` (the previous state of the cluster), else empty. */
export function memoryFor(id: string): BuildMemory {
  const before = `${id}.before.yaml`;
  if (!existsSync(`${fixtureDir}${before}`)) return emptyBuildMemory;
  return buildSnapshot(loadFixture(before).view, emptyBuildMemory, settingsFor(id)).memory;
}

export function runCase(id: string): { result: BuildResult; sourceDiagnostics: Diagnostic[] } {
  const { view, diagnostics } = loadFixture(`${id}.in.yaml`);
  return { result: buildSnapshot(view, memoryFor(id), settingsFor(id)), sourceDiagnostics: diagnostics };
}

const secretKeys = new Set(["data", "stringData", "privateKey", "password", "token", "secret"]);

/** Replaces secret material with "[redacted]" anywhere in the value. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, secretKeys.has(k) && v !== null ? "[redacted]" : redact(v)]));
}

export function renderResult(result: BuildResult, sourceDiagnostics: ReadonlyArray<Diagnostic> = []): string {
  const diagnostics = [...sourceDiagnostics, ...result.diagnostics].sort(compareDiagnostics);
  const doc = { accepted: result.accepted, memory: [...result.memory.ingresses.keys()], ...globalPart(result), diagnostics, snapshot: result.snapshot };
  return stringify(redact(doc), { aliasDuplicateObjects: false, lineWidth: 0 });
}

/** Global settings, shown only when a ConfigMap was read or reported (so other goldens stay unchanged). */
function globalPart(result: BuildResult): Record<string, unknown> {
  const { globalSettings } = result;
  if (globalSettings.configMap === null && !result.diagnostics.some((d) => d.kind === "ConfigMap")) return {};
  return { globalSettings: { configMap: globalSettings.configMap, values: globalSettings.values, routeDefaults: globalSettings.routeDefaults } };
}
