// Admission of an Ingress version: its annotations must validate, else its last accepted
// version (from memory) is served instead, or nothing.
import type { Ingress, RouteOptions } from "../model/index.js";
import { hasErrors, parseAnnotations, type AnnotationFinding, type Annotations } from "./annotations/index.js";
import type { DiagnosticList } from "./diagnostics.js";
import { compareIngressAge, ingressRef } from "./order.js";

export interface AdmittedIngress {
  readonly ref: string;
  /** The version served: the current one, or the last accepted one. */
  readonly ingress: Ingress;
  readonly options: RouteOptions;
}

/**
 * Admits each Ingress (ours only); returns the admitted ones oldest first. `memory` holds the last
 * accepted versions; `defaults` (full annotation keys) are the global settings.
 */
export function admitIngresses(ours: ReadonlyArray<Ingress>, memory: ReadonlyMap<string, Ingress>, defaults: Annotations, diagnostics: DiagnosticList): AdmittedIngress[] {
  const admitted: AdmittedIngress[] = [];
  for (const ingress of ours) {
    const result = admitIngress(ingress, memory, defaults, diagnostics);
    if (result !== null) admitted.push(result);
  }
  return admitted.sort((a, b) => compareIngressAge(a.ingress, b.ingress));
}

function admitIngress(current: Ingress, memory: ReadonlyMap<string, Ingress>, defaults: Annotations, diagnostics: DiagnosticList): AdmittedIngress | null {
  const ref = ingressRef(current);
  const parsed = parseAnnotations(current.metadata.annotations, defaults);
  if (!hasErrors(parsed.findings)) {
    report(ref, parsed.findings, "", diagnostics);
    return { ref, ingress: current, options: parsed.options };
  }
  const last = memory.get(ref);
  const fallback = last === undefined ? null : parseAnnotations(last.metadata.annotations, defaults);
  if (last === undefined || fallback === null || hasErrors(fallback.findings)) {
    report(ref, parsed.findings, "; this Ingress is not served", diagnostics);
    return null;
  }
  report(ref, parsed.findings, "; the last accepted version of this Ingress stays in service", diagnostics);
  return { ref, ingress: last, options: fallback.options };
}

function report(ref: string, findings: ReadonlyArray<AnnotationFinding>, errorSuffix: string, diagnostics: DiagnosticList): void {
  for (const f of findings) diagnostics.ingress(ref, f.severity, f.reason, f.severity === "error" ? `${f.message}${errorSuffix}` : f.message);
}
