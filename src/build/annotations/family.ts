// Shared shape of an annotation family module.
import type { ZodType } from "zod";

/** Ingress annotations (metadata.annotations). */
export type Annotations = Readonly<Record<string, string>>;

export const annotationPrefix = "proxypass.io/";

/** A finding about one annotation; the builder turns it into a Diagnostic on the Ingress. */
export interface AnnotationFinding {
  readonly severity: "error" | "warning";
  /** `InvalidAnnotation` (error: the Ingress version is rejected), `AnnotationNotImplemented`, `UnknownAnnotation`. */
  readonly reason: string;
  readonly key: string;
  readonly message: string;
  /** For `InvalidAnnotation`: why the value is invalid, without key and value (reused for ConfigMap keys). */
  readonly detail?: string;
}

/** One row of the README annotation table. */
export interface AnnotationDoc {
  readonly key: string;
  readonly values: string;
  readonly default: string;
  readonly description: string;
}

export interface AnnotationParse<T> {
  readonly value: T;
  readonly diagnostics: ReadonlyArray<AnnotationFinding>;
}

export interface AnnotationFamily<T> {
  readonly name: string;
  /** False while the family's issue is open: its keys are recognised and reported, not applied. */
  readonly implemented: boolean;
  /** Full keys, `proxypass.io/...`. */
  readonly keys: ReadonlyArray<string>;
  readonly docs: ReadonlyArray<AnnotationDoc>;
  parse(annotations: Annotations): AnnotationParse<T>;
}

export function annotationKey(name: string): string {
  return `${annotationPrefix}${name}`;
}

const maxQuoted = 80;

/** A value for a message: quoted, escaped, shortened to 80 characters. */
export function quoteValue(value: string): string {
  return JSON.stringify(value.length > maxQuoted ? `${value.slice(0, maxQuoted)}…` : value);
}

/** An `InvalidAnnotation` error naming key, value (quoted, escaped, shortened) and reason. */
export function invalidAnnotation(key: string, value: string, reason: string): AnnotationFinding {
  return { severity: "error", reason: "InvalidAnnotation", key, message: `annotation ${key}: invalid value ${quoteValue(value)}: ${reason}`, detail: reason };
}

/** A family whose issue is still open: every key present gives an `AnnotationNotImplemented` warning. */
export function notImplementedFamily(name: string, issue: string, docs: ReadonlyArray<AnnotationDoc>): AnnotationFamily<Record<string, never>> {
  const keys = docs.map((d) => d.key);
  return {
    name,
    implemented: false,
    keys,
    docs,
    parse(annotations) {
      const diagnostics = keys
        .filter((key) => Object.hasOwn(annotations, key))
        .map((key): AnnotationFinding => ({ severity: "warning", reason: "AnnotationNotImplemented", key, message: `annotation ${key} is not implemented yet (${issue}); the Ingress is served without it` }));
      return { value: {}, diagnostics };
    },
  };
}

/** Doc rows of a not-yet-implemented family. */
export function plannedDoc(name: string, values: string, defaultValue: string, description: string): AnnotationDoc {
  return { key: annotationKey(name), values, default: defaultValue, description: `${description} (not implemented yet)` };
}

/**
 * Validates the family's annotations with its zod schema (keyed by full annotation key). Each
 * issue becomes an `InvalidAnnotation` naming its key; on any issue the value is `fallback`.
 */
export function parseWithSchema<T>(schema: ZodType<T>, annotations: Annotations, keys: ReadonlyArray<string>, fallback: T): AnnotationParse<T> {
  const input: Record<string, string> = {};
  for (const key of keys) {
    const value = annotations[key];
    if (value !== undefined && Object.hasOwn(annotations, key)) input[key] = value;
  }
  const result = schema.safeParse(input);
  if (result.success) return { value: result.data, diagnostics: [] };
  const diagnostics = result.error.issues.map((issue) => {
    const key = typeof issue.path[0] === "string" ? issue.path[0] : "";
    return invalidAnnotation(key, input[key] ?? "", issue.message);
  });
  return { value: fallback, diagnostics };
}
