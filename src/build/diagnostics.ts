// Collects builder diagnostics: de-duplicated, sorted on output.
import { compareDiagnostics, type Diagnostic } from "../model/index.js";

export class DiagnosticList {
  readonly #items = new Map<string, Diagnostic>();

  add(diagnostic: Diagnostic): void {
    const key = `${diagnostic.severity}|${diagnostic.kind}|${diagnostic.object}|${diagnostic.reason}|${diagnostic.message}`;
    if (!this.#items.has(key)) this.#items.set(key, diagnostic);
  }

  ingress(ref: string, severity: Diagnostic["severity"], reason: string, message: string): void {
    this.add({ severity, kind: "Ingress", object: ref, reason, message });
  }

  sorted(): Diagnostic[] {
    return [...this.#items.values()].sort(compareDiagnostics);
  }
}
