// Validation of rendered objects against the Kubernetes OpenAPI schemas shipped by the npm package
// kubernetes-models (5.x: generated from the 1.36 OpenAPI spec — it has resource.k8s.io/v1,
// admissionregistration.k8s.io/v1 MutatingAdmissionPolicy and PodSpec.schedulingGroup; stable
// APIs only). One spec version is what any npm package ships; the supported range 1.30–1.35 is
// covered by `servedIn` below: every apiVersion/kind the chart renders must be served, GA, by all
// of them, so an object valid against the 1.36 schema and made only of those APIs is accepted by
// 1.30–1.35 too — except for fields added after 1.30, which `fieldsAfter130` guards.
import type { K8sObject } from "../support/helm.js";

type Validatable = { validate(): void };
type ModelClass = new (data: unknown) => Validatable;

/** apiVersion/kind -> the Kubernetes versions (minor) from which it is served as GA, and until which. */
export const servedIn: Readonly<Record<string, { readonly since: number; readonly removed?: number }>> = {
  "v1/Namespace": { since: 0 },
  "v1/ServiceAccount": { since: 0 },
  "v1/ConfigMap": { since: 2 },
  "v1/Service": { since: 0 },
  "v1/Secret": { since: 0 },
  "apps/v1/Deployment": { since: 9 },
  "apps/v1/DaemonSet": { since: 9 },
  "rbac.authorization.k8s.io/v1/ClusterRole": { since: 8 },
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": { since: 8 },
  "rbac.authorization.k8s.io/v1/Role": { since: 8 },
  "rbac.authorization.k8s.io/v1/RoleBinding": { since: 8 },
  "networking.k8s.io/v1/IngressClass": { since: 19 },
  "networking.k8s.io/v1/Ingress": { since: 19 },
  "networking.k8s.io/v1/NetworkPolicy": { since: 7 },
  "policy/v1/PodDisruptionBudget": { since: 21 },
  "autoscaling/v2/HorizontalPodAutoscaler": { since: 23 },
  "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration": { since: 16 },
};

/** CRDs of prometheus-operator and cert-manager: not part of Kubernetes, checked for shape only. */
export const crdKinds = new Set(["monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PrometheusRule", "cert-manager.io/v1/Issuer", "cert-manager.io/v1/Certificate"]);

/**
 * Fields the chart uses that appeared after Kubernetes 1.0 with the minor version where they are
 * on by default (beta or GA). Each must be <= 30 so 1.30 accepts the objects.
 */
export const fieldsAfter130: ReadonlyArray<{ readonly path: string; readonly since: number }> = [
  { path: "spec.template.spec.containers[].lifecycle.preStop.sleep", since: 30 },
  { path: "spec.unhealthyPodEvictionPolicy (PodDisruptionBudget)", since: 27 },
  { path: "spec.template.spec.topologySpreadConstraints", since: 19 },
  { path: "spec.ports[].appProtocol (Service)", since: 20 },
  { path: "spec.template.spec.volumes[].emptyDir.sizeLimit", since: 22 },
  { path: "webhooks[].matchConditions (ValidatingWebhookConfiguration, GA)", since: 30 },
];

export function typeKey(o: Pick<K8sObject, "apiVersion" | "kind">): string {
  return `${o.apiVersion}/${o.kind}`;
}

const cache = new Map<string, ModelClass>();

async function modelClass(apiVersion: string, kind: string): Promise<ModelClass> {
  const key = `${apiVersion}/${kind}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const mod = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<string, unknown>;
  const cls = mod[kind];
  if (typeof cls !== "function") throw new Error(`kubernetes-models has no ${key}`);
  cache.set(key, cls as ModelClass);
  return cls as ModelClass;
}

/** Problems of one object against its Kubernetes schema ([] when valid). */
export async function schemaErrors(o: K8sObject): Promise<string[]> {
  const key = typeKey(o);
  const where = `${key} ${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? "?"}`;
  if (crdKinds.has(key)) {
    const problems: string[] = [];
    if (typeof o.metadata?.name !== "string") problems.push(`${where}: metadata.name missing`);
    if (typeof o.spec !== "object" || o.spec === null) problems.push(`${where}: spec missing`);
    return problems;
  }
  if (servedIn[key] === undefined) return [`${where}: not in the table of APIs served by 1.30–1.35 (test/chart/k8s-schema.ts)`];
  try {
    const Cls = await modelClass(o.apiVersion, o.kind);
    new Cls(o).validate();
    return [];
  } catch (err) {
    return [`${where}: ${(err as Error).message}`];
  }
}

/** Validates every object; returns all problems. */
export async function validateAll(objects: ReadonlyArray<K8sObject>): Promise<string[]> {
  const out: string[] = [];
  for (const o of objects) out.push(...(await schemaErrors(o)));
  return out;
}
