// Validating admission for Ingresses of our class: the same checks the builder applies to one
// Ingress (its annotations through every family's zod schema, rule hosts, paths, backends), run on
// the submitted object alone. Nothing is rebuilt and nothing is read from the cluster, so one
// review costs about what admitting one Ingress costs in a rebuild (microseconds).
import { z } from "zod";
import { annotationPrefix, checkPath, checkRuleHost, legacyClassAnnotation, parseAnnotations, type Annotations } from "../build/index.js";
import { ingressSchema, type IngressBackend } from "../model/index.js";

export interface IngressAdmissionOptions {
  /** --ingress-class: the class we validate. */
  readonly ingressClass: string;
  /** Whether an Ingress without any class is ours (our IngressClass is the cluster default). */
  readonly classlessIsOurs?: () => boolean;
  /** Global settings as annotation defaults (full `proxypass.io/` keys); default none. */
  readonly defaults?: () => Annotations;
}

export interface IngressVerdict {
  /** False: not our class, allowed without checks. */
  readonly ours: boolean;
  readonly allowed: boolean;
  /** Why it is denied, one line per problem (empty when allowed). */
  readonly problems: ReadonlyArray<string>;
  /** Warnings returned to kubectl (unknown or not-yet-implemented keys, ignored settings). */
  readonly warnings: ReadonlyArray<string>;
}

/** Validates one submitted Ingress object (any JSON). */
export function validateIngressObject(raw: unknown, options: IngressAdmissionOptions, namespace?: string): IngressVerdict {
  const meta = (raw as { metadata?: { annotations?: unknown; namespace?: unknown } } | null)?.metadata;
  const withNamespace = namespace !== undefined && meta !== undefined && typeof meta.namespace !== "string" ? { ...(raw as object), metadata: { ...meta, namespace } } : raw;
  const parsed = ingressSchema.safeParse(withNamespace);
  if (!parsed.success) {
    // Not ours unless it says so; a malformed Ingress of our class is denied with zod's reasons.
    if (!claimsClass(raw, options)) return { ours: false, allowed: true, problems: [], warnings: [] };
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "object"}: ${i.message}`);
    return { ours: true, allowed: false, problems, warnings: [] };
  }
  const ingress = parsed.data;
  if (!isOurs(ingress.spec.ingressClassName, ingress.metadata.annotations, options)) return { ours: false, allowed: true, problems: [], warnings: [] };

  const problems: string[] = [];
  const warnings: string[] = [];
  const ours: Record<string, string> = {};
  for (const [key, value] of Object.entries(ingress.metadata.annotations)) if (key.startsWith(annotationPrefix)) ours[key] = value;
  for (const f of parseAnnotations(ours, options.defaults?.() ?? {}).findings) (f.severity === "error" ? problems : warnings).push(f.message);

  if (ingress.spec.defaultBackend !== undefined) checkBackend(ingress.spec.defaultBackend, "spec.defaultBackend", problems);
  ingress.spec.rules.forEach((rule, i) => {
    if (rule.host !== undefined && rule.host !== "") {
      const host = checkRuleHost(rule.host);
      if (!host.ok) problems.push(`spec.rules[${i}].host ${JSON.stringify(rule.host)}: ${host.reason}`);
    }
    (rule.http?.paths ?? []).forEach((p, j) => {
      const field = `spec.rules[${i}].http.paths[${j}]`;
      const path = checkPath(p.path, p.pathType);
      if (!path.ok) problems.push(`${field}: ${path.reason}`);
      checkBackend(p.backend, `${field}.backend`, problems);
    });
  });
  ingress.spec.tls.forEach((tls, i) => {
    tls.hosts.forEach((h, j) => {
      const host = checkRuleHost(h);
      if (!host.ok) problems.push(`spec.tls[${i}].hosts[${j}] ${JSON.stringify(h)}: ${host.reason}`);
    });
  });
  if (ingress.spec.rules.length === 0 && ingress.spec.defaultBackend === undefined) problems.push("spec: neither rules nor defaultBackend: nothing to serve");
  return { ours: true, allowed: problems.length === 0, problems, warnings };
}

function checkBackend(backend: IngressBackend, field: string, problems: string[]): void {
  if (backend.service !== undefined) return;
  if (backend.resource !== undefined) problems.push(`${field}: resource backends (${backend.resource.kind} ${backend.resource.name}) are not supported; only service backends are`);
  else problems.push(`${field}: names neither a service nor a resource`);
}

function isOurs(className: string | undefined, annotations: Readonly<Record<string, string>>, options: IngressAdmissionOptions): boolean {
  if (className !== undefined && className !== "") return className === options.ingressClass;
  const legacy = annotations[legacyClassAnnotation];
  if (legacy !== undefined) return legacy === options.ingressClass;
  return options.classlessIsOurs?.() ?? false;
}

function claimsClass(raw: unknown, options: IngressAdmissionOptions): boolean {
  const o = raw as { spec?: { ingressClassName?: unknown }; metadata?: { annotations?: Record<string, unknown> } } | null;
  return o?.spec?.ingressClassName === options.ingressClass || o?.metadata?.annotations?.[legacyClassAnnotation] === options.ingressClass;
}

const admissionReviewSchema = z.object({
  apiVersion: z.literal("admission.k8s.io/v1"),
  kind: z.literal("AdmissionReview"),
  request: z.object({
    uid: z.string().min(1),
    kind: z.object({ group: z.string(), version: z.string(), kind: z.string() }),
    operation: z.string(),
    namespace: z.string().optional(),
    object: z.unknown().optional(),
  }),
});

export class AdmissionReviewError extends Error {
  readonly code = "PPI_ERR_ADMISSION_REVIEW";
}

export interface AdmissionReviewResponse {
  readonly apiVersion: "admission.k8s.io/v1";
  readonly kind: "AdmissionReview";
  readonly response: {
    readonly uid: string;
    readonly allowed: boolean;
    readonly status?: { readonly code: number; readonly reason: string; readonly message: string };
    readonly warnings?: ReadonlyArray<string>;
  };
}

/**
 * Answers an AdmissionReview (admission.k8s.io/v1). Ingress CREATE/UPDATE of our class is validated;
 * anything else is allowed. Throws AdmissionReviewError when the body is not an AdmissionReview.
 */
export function reviewIngressAdmission(body: unknown, options: IngressAdmissionOptions): AdmissionReviewResponse {
  const parsed = admissionReviewSchema.safeParse(body);
  if (!parsed.success) throw new AdmissionReviewError(`not an admission.k8s.io/v1 AdmissionReview: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  const { request } = parsed.data;
  const base = { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" } as const;
  const isIngress = request.kind.group === "networking.k8s.io" && request.kind.kind === "Ingress";
  if (!isIngress || (request.operation !== "CREATE" && request.operation !== "UPDATE")) return { ...base, response: { uid: request.uid, allowed: true } };
  const verdict = validateIngressObject(request.object, options, request.namespace);
  const warnings = verdict.warnings.length > 0 ? { warnings: verdict.warnings.slice(0, 20) } : {};
  if (verdict.allowed) return { ...base, response: { uid: request.uid, allowed: true, ...warnings } };
  const message = `proxypass-ingress denied this Ingress (${verdict.problems.length} problem${verdict.problems.length === 1 ? "" : "s"}):\n- ${verdict.problems.join("\n- ")}`;
  return { ...base, response: { uid: request.uid, allowed: false, status: { code: 400, reason: "Invalid", message }, ...warnings } };
}
