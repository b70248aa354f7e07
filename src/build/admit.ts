// Admission of an Ingress version: its annotations must validate, else its last accepted
// version (from memory) is served instead, or nothing.
import type { Ingress, RouteOptions } from "../model/index.js";
import { annotationPrefix, hasErrors, parseAnnotations, type AnnotationFinding, type Annotations, type AuthValue, type BalancerSettingsValue, type CanaryValue, type ParsedAnnotations } from "./annotations/index.js";
import type { BuildCache } from "./cache.js";
import type { DiagnosticList } from "./diagnostics.js";
import { ingressRef, sortByIngressAge, timestampSeconds } from "./order.js";

export interface AdmittedIngress {
  readonly ref: string;
  /** The version served: the current one, or the last accepted one. */
  readonly ingress: Ingress;
  readonly options: RouteOptions;
  /** Settings of the balancers it routes to (the oldest Ingress routing to a balancer decides). */
  readonly balancer: BalancerSettingsValue;
  /** Non-null for a canary Ingress: it adds no routes, it splits other Ingresses' routes. */
  readonly canary: CanaryValue | null;
  /** `auth-*` before the Secret is read (auth.ts resolves it into `options.auth`). */
  readonly auth: AuthValue;
}

/**
 * Admits each Ingress (ours only); returns the admitted ones oldest first. `memory` holds the last
 * accepted versions; `defaults` (full annotation keys) are the global settings.
 */
export function admitIngresses(
  ours: ReadonlyArray<Ingress>,
  memory: ReadonlyMap<string, Ingress>,
  defaults: Annotations,
  diagnostics: DiagnosticList,
  prev: BuildCache | null,
  next: BuildCache,
): AdmittedIngress[] {
  const admitted: AdmittedIngress[] = [];
  const parse = parser(defaults, prev !== null && prev.defaultsKey === next.defaultsKey ? prev.parsed : null, next.parsed);
  for (const ingress of ours) {
    const result = admitIngress(ingress, memory, parse, diagnostics);
    if (result !== null) admitted.push(result);
  }
  // Each Ingress object's timestamp is parsed once, then kept in the cache with the object.
  const secondsOf = (ingress: Ingress): number | null => {
    let seconds = next.ages.get(ingress);
    if (seconds === undefined) {
      const known = prev?.ages.get(ingress);
      seconds = known !== undefined ? known : timestampSeconds(ingress.metadata.creationTimestamp);
      next.ages.set(ingress, seconds);
    }
    return seconds;
  };
  return sortByIngressAge(admitted, (a) => a.ingress, secondsOf);
}

type Parse = (ingress: Ingress) => ParsedAnnotations;

/**
 * parseAnnotations with `defaults`, once per distinct set of `proxypass.io/` annotations (the only
 * ones it reads): Ingresses often share them, and most have none. An Ingress object parsed by the
 * previous build with the same defaults (`previous`) keeps its result; `next` records this build's.
 */
function parser(defaults: Annotations, previous: ReadonlyMap<Ingress, ParsedAnnotations> | null, next: Map<Ingress, ParsedAnnotations>): Parse {
  const cache = new Map<string, ParsedAnnotations>();
  return (ingress) => {
    const known = next.get(ingress) ?? previous?.get(ingress);
    if (known !== undefined) {
      next.set(ingress, known);
      return known;
    }
    const annotations = ingress.metadata.annotations;
    const ours: Array<[string, string]> = [];
    for (const key of Object.keys(annotations)) {
      const value = annotations[key];
      if (key.startsWith(annotationPrefix) && value !== undefined) ours.push([key, value]);
    }
    const cacheKey = JSON.stringify(ours.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
    let parsed = cache.get(cacheKey);
    if (parsed === undefined) {
      parsed = parseAnnotations(Object.fromEntries(ours), defaults);
      cache.set(cacheKey, parsed);
    }
    next.set(ingress, parsed);
    return parsed;
  };
}

function admitIngress(current: Ingress, memory: ReadonlyMap<string, Ingress>, parse: Parse, diagnostics: DiagnosticList): AdmittedIngress | null {
  const ref = ingressRef(current);
  const parsed = parse(current);
  if (!hasErrors(parsed.findings)) {
    report(ref, parsed.findings, "", diagnostics);
    return { ref, ingress: current, options: parsed.options, balancer: parsed.balancer, canary: parsed.canary, auth: parsed.auth };
  }
  const last = memory.get(ref);
  const fallback = last === undefined ? null : parse(last);
  if (last === undefined || fallback === null || hasErrors(fallback.findings)) {
    report(ref, parsed.findings, "; this Ingress is not served", diagnostics);
    return null;
  }
  report(ref, parsed.findings, "; the last accepted version of this Ingress stays in service", diagnostics);
  return { ref, ingress: last, options: fallback.options, balancer: fallback.balancer, canary: fallback.canary, auth: fallback.auth };
}

function report(ref: string, findings: ReadonlyArray<AnnotationFinding>, errorSuffix: string, diagnostics: DiagnosticList): void {
  for (const f of findings) diagnostics.ingress(ref, f.severity, f.reason, f.severity === "error" ? `${f.message}${errorSuffix}` : f.message);
}
