// Pure parsing of manifest files: text -> raw objects -> validated ClusterView.
import { parseAllDocuments } from "yaml";
import type { z } from "zod";
import {
  compareDiagnostics,
  knownKinds,
  type ClusterView,
  type ConfigMap,
  type Diagnostic,
  type EndpointSlice,
  type Ingress,
  type IngressClass,
  type Secret,
  type Service,
} from "../model/index.js";

/** One raw document (or `List` item) of a manifest file, before validation. */
export interface ManifestObject {
  readonly file: string;
  /** Position of the object in its file, counting `List` items; orders objects inside one file. */
  readonly index: number;
  readonly value: unknown;
}

export type ParseOutcome = { readonly ok: true; readonly objects: ReadonlyArray<ManifestObject> } | { readonly ok: false; readonly error: string };

const manifestExtensions = [".yaml", ".yml", ".json"];

/** True for the file names the manifest source reads. */
export function isManifestPath(path: string): boolean {
  const lower = path.toLowerCase();
  return manifestExtensions.some((ext) => lower.endsWith(ext));
}

/**
 * Parses one file's text: JSON for `.json`, else (multi-document) YAML. `kind: List` (and `*List`)
 * objects are flattened into their items. Any syntax error fails the whole file.
 */
export function parseManifestText(text: string, file: string): ParseOutcome {
  const documents = file.toLowerCase().endsWith(".json") ? parseJson(text) : parseYaml(text);
  if (!documents.ok) return documents;
  const objects: ManifestObject[] = [];
  for (const doc of documents.values) {
    for (const value of flattenList(doc)) objects.push({ file, index: objects.length, value });
  }
  return { ok: true, objects };
}

function parseJson(text: string): { ok: true; values: unknown[] } | { ok: false; error: string } {
  try {
    const value: unknown = JSON.parse(text);
    return { ok: true, values: Array.isArray(value) ? value : [value] };
  } catch (err) {
    return { ok: false, error: `invalid JSON: ${errorText(err)}` };
  }
}

function parseYaml(text: string): { ok: true; values: unknown[] } | { ok: false; error: string } {
  const values: unknown[] = [];
  const documents = parseAllDocuments(text, { prettyErrors: true });
  if (!Array.isArray(documents)) return { ok: true, values };
  for (const [i, doc] of documents.entries()) {
    const first = doc.errors[0];
    if (first !== undefined) return { ok: false, error: `invalid YAML in document ${i + 1}: ${oneLine(first.message)}` };
    try {
      values.push(doc.toJS({ maxAliasCount: 100 }));
    } catch (err) {
      return { ok: false, error: `invalid YAML in document ${i + 1}: ${errorText(err)}` };
    }
  }
  return { ok: true, values };
}

function flattenList(value: unknown): unknown[] {
  if (!isRecord(value)) return [value];
  const kind = value["kind"];
  const items = value["items"];
  if (typeof kind === "string" && kind.endsWith("List") && Array.isArray(items)) return items.flatMap(flattenList);
  return [value];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function errorText(err: unknown): string {
  return oneLine(err instanceof Error ? err.message : String(err));
}

function oneLine(text: string): string {
  return text.split("\n")[0]?.trim() ?? "";
}

interface Buckets {
  ingresses: Ingress[];
  ingressClasses: IngressClass[];
  services: Service[];
  endpointSlices: EndpointSlice[];
  secrets: Secret[];
  configMaps: ConfigMap[];
}

type KnownKey = keyof typeof knownKinds;
type ObjectKind = Diagnostic["kind"];

function isKnownKey(key: string): key is KnownKey {
  return Object.hasOwn(knownKinds, key);
}

/**
 * Validates raw objects into a ClusterView. Unknown apiVersion/kind pairs are ignored silently;
 * known objects that fail validation are left out with an `InvalidObject` diagnostic; a second
 * object with the same kind, namespace and name is left out with a `DuplicateObject` warning.
 * Objects keep the order given (callers sort by file path, then index).
 */
/** What a raw manifest object parsed into: the model object, or why it is invalid. */
export type ParsedObject = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

/**
 * `memo` (kept by the caller across calls) maps raw objects to what they parsed into: an object of
 * an unchanged file is the same raw object, so it yields the same model object, which lets the
 * builder's cache recognise it (as it recognises the Kubernetes source's unchanged objects).
 */
export function toClusterView(objects: ReadonlyArray<ManifestObject>, memo: WeakMap<object, ParsedObject> | null = null): { view: ClusterView; diagnostics: Diagnostic[] } {
  const buckets: Buckets = { ingresses: [], ingressClasses: [], services: [], endpointSlices: [], secrets: [], configMaps: [] };
  const diagnostics: Diagnostic[] = [];
  const seen = new Map<string, ManifestObject>();
  for (const object of objects) {
    const raw = object.value;
    if (raw === null || raw === undefined) continue;
    if (!isRecord(raw)) {
      diagnostics.push(fileDiagnostic(object, "NotAnObject", `${where(object)} is not an object; it is ignored`));
      continue;
    }
    const key = `${String(raw["apiVersion"])}/${String(raw["kind"])}`;
    if (!isKnownKey(key)) continue;
    const error = addObject(key, raw, buckets, memo);
    const kind = kindOf(key);
    const ref = objectRef(raw, kind);
    if (error !== null) {
      diagnostics.push({ severity: "error", kind, object: ref ?? object.file, reason: "InvalidObject", message: `${where(object)}: invalid ${kind}: ${error}; it is ignored` });
      continue;
    }
    const identity = `${kind}|${ref ?? ""}`;
    const first = seen.get(identity);
    if (first !== undefined) {
      removeLast(key, buckets);
      diagnostics.push({ severity: "warning", kind, object: ref ?? object.file, reason: "DuplicateObject", message: `${where(object)} repeats ${kind} ${ref ?? ""} of ${where(first)}; the first one is used` });
      continue;
    }
    seen.set(identity, object);
  }
  return { view: buckets, diagnostics: diagnostics.sort(compareDiagnostics) };
}

function where(object: ManifestObject): string {
  return `${object.file} object ${object.index + 1}`;
}

function fileDiagnostic(object: ManifestObject, reason: string, message: string): Diagnostic {
  return { severity: "warning", kind: "File", object: object.file, reason, message };
}

function kindOf(key: KnownKey): ObjectKind {
  return knownKinds[key].shape.kind.value;
}

/** "namespace/name" (or "name" for IngressClass) from raw metadata, when it is well-formed. */
function objectRef(raw: Record<string, unknown>, kind: ObjectKind): string | null {
  const meta = raw["metadata"];
  if (!isRecord(meta) || typeof meta["name"] !== "string") return null;
  if (kind === "IngressClass") return meta["name"];
  const ns = typeof meta["namespace"] === "string" && meta["namespace"] !== "" ? meta["namespace"] : "default";
  return `${ns}/${meta["name"]}`;
}

/** Validates and appends to its bucket; returns the validation problem, or null. */
function addObject(key: KnownKey, raw: Record<string, unknown>, b: Buckets, memo: WeakMap<object, ParsedObject> | null): string | null {
  switch (key) {
    case "networking.k8s.io/v1/Ingress":
      return accept(knownKinds[key], raw, b.ingresses, memo);
    case "networking.k8s.io/v1/IngressClass":
      return accept(knownKinds[key], raw, b.ingressClasses, memo);
    case "v1/Service":
      return accept(knownKinds[key], raw, b.services, memo);
    case "discovery.k8s.io/v1/EndpointSlice":
      return accept(knownKinds[key], raw, b.endpointSlices, memo);
    case "v1/Secret":
      return accept(knownKinds[key], raw, b.secrets, memo);
    case "v1/ConfigMap":
      return accept(knownKinds[key], raw, b.configMaps, memo);
  }
}

function removeLast(key: KnownKey, b: Buckets): void {
  const bucket: unknown[] = {
    "networking.k8s.io/v1/Ingress": b.ingresses,
    "networking.k8s.io/v1/IngressClass": b.ingressClasses,
    "v1/Service": b.services,
    "discovery.k8s.io/v1/EndpointSlice": b.endpointSlices,
    "v1/Secret": b.secrets,
    "v1/ConfigMap": b.configMaps,
  }[key];
  bucket.pop();
}

function accept<S extends z.ZodType>(schema: S, raw: Record<string, unknown>, out: Array<z.output<S>>, memo: WeakMap<object, ParsedObject> | null): string | null {
  let parsed = memo?.get(raw);
  if (parsed === undefined) {
    const result = schema.safeParse(raw);
    parsed = result.success
      ? { ok: true, value: result.data }
      : {
          ok: false,
          error: result.error.issues
            .slice(0, 5)
            .map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join(".") : "(object)"}: ${issue.message}`)
            .join("; "),
        };
    memo?.set(raw, parsed);
  }
  if (!parsed.ok) return parsed.error;
  out.push(parsed.value as z.output<S>);
  return null;
}
