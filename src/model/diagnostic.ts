/** One finding of the builder about one object. Sorted by kind, object, reason in outputs. */
export interface Diagnostic {
  /** `error`: the object (or part of it) is not served as written; `warning`: served, but something is ignored. */
  readonly severity: "error" | "warning";
  readonly kind: "Ingress" | "IngressClass" | "Service" | "EndpointSlice" | "Secret" | "ConfigMap" | "File";
  /** "namespace/name" (or the file path for kind File). */
  readonly object: string;
  /** Stable machine-readable reason, PascalCase (e.g. `InvalidAnnotation`, `ServiceNotFound`). */
  readonly reason: string;
  /** Human sentence naming the field and the problem. */
  readonly message: string;
}

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return (
    cmp(a.kind, b.kind) || cmp(a.object, b.object) || cmp(a.reason, b.reason) || cmp(a.message, b.message) || cmp(a.severity, b.severity)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
