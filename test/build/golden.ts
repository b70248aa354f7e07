// Shared by the golden test and the builder property tests: loads fixture manifests through the
// file loader and renders build results as YAML.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { buildSnapshot, type BuildResult } from "../../src/build/index.js";
import { parseManifestText, toClusterView } from "../../src/files/index.js";
import { compareDiagnostics, defaultBuildSettings, type BuildMemory, type ClusterView, type Diagnostic } from "../../src/model/index.js";

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

/** Memory from building `<case>.before.yaml` (the previous state of the cluster), else empty. */
export function memoryFor(id: string): BuildMemory {
  const before = `${id}.before.yaml`;
  if (!existsSync(`${fixtureDir}${before}`)) return new Map();
  return buildSnapshot(loadFixture(before).view, new Map(), defaultBuildSettings).memory;
}

export function runCase(id: string): { result: BuildResult; sourceDiagnostics: Diagnostic[] } {
  const { view, diagnostics } = loadFixture(`${id}.in.yaml`);
  return { result: buildSnapshot(view, memoryFor(id), defaultBuildSettings), sourceDiagnostics: diagnostics };
}

const secretKeys = new Set(["data", "stringData", "privateKey", "password", "token"]);

/** Replaces secret material with "[redacted]" anywhere in the value. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, secretKeys.has(k) ? "[redacted]" : redact(v)]));
}

export function renderResult(result: BuildResult, sourceDiagnostics: ReadonlyArray<Diagnostic> = []): string {
  const diagnostics = [...sourceDiagnostics, ...result.diagnostics].sort(compareDiagnostics);
  const doc = { accepted: result.accepted, memory: [...result.memory.keys()], diagnostics, snapshot: result.snapshot };
  return stringify(redact(doc), { aliasDuplicateObjects: false, lineWidth: 0 });
}
