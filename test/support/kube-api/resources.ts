/** The resource types the stand-in serves, and how they are addressed. */

export interface ResourceType {
  /** API group, "" for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Has a `/status` subresource: the main resource ignores status changes, `/status` changes only status. */
  readonly statusSubresource: boolean;
  /** Field selector labels accepted besides `metadata.name` and `metadata.namespace`. */
  readonly fieldLabels: readonly string[];
  /** Dotted paths of `MicroTime` fields, which must carry exactly 6 fractional digits as on a real server. */
  readonly microTimeFields: readonly string[];
  /** Fields a real server requires on create, as dotted paths (422 Invalid when missing). */
  readonly requiredFields: readonly string[];
  readonly verbs: readonly string[];
}

const ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"] as const;

function resource(r: Omit<ResourceType, "verbs" | "fieldLabels" | "microTimeFields" | "requiredFields"> & Partial<ResourceType>): ResourceType {
  return { verbs: ALL_VERBS, fieldLabels: [], microTimeFields: [], requiredFields: [], ...r };
}

export const RESOURCES: readonly ResourceType[] = [
  resource({ group: "networking.k8s.io", version: "v1", plural: "ingresses", singular: "ingress", kind: "Ingress", namespaced: true, statusSubresource: true }),
  resource({ group: "networking.k8s.io", version: "v1", plural: "ingressclasses", singular: "ingressclass", kind: "IngressClass", namespaced: false, statusSubresource: false }),
  resource({ group: "", version: "v1", plural: "services", singular: "service", kind: "Service", namespaced: true, statusSubresource: true }),
  resource({ group: "discovery.k8s.io", version: "v1", plural: "endpointslices", singular: "endpointslice", kind: "EndpointSlice", namespaced: true, statusSubresource: false, fieldLabels: ["addressType"] }),
  resource({ group: "", version: "v1", plural: "secrets", singular: "secret", kind: "Secret", namespaced: true, statusSubresource: false, fieldLabels: ["type"] }),
  resource({ group: "", version: "v1", plural: "configmaps", singular: "configmap", kind: "ConfigMap", namespaced: true, statusSubresource: false }),
  resource({
    group: "coordination.k8s.io",
    version: "v1",
    plural: "leases",
    singular: "lease",
    kind: "Lease",
    namespaced: true,
    statusSubresource: false,
    microTimeFields: ["spec.acquireTime", "spec.renewTime"],
  }),
  resource({
    group: "events.k8s.io",
    version: "v1",
    plural: "events",
    singular: "event",
    kind: "Event",
    namespaced: true,
    statusSubresource: false,
    fieldLabels: ["reason", "type", "reportingController", "regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid"],
    microTimeFields: ["eventTime", "series.lastObservedTime"],
    requiredFields: ["eventTime", "reportingController", "reportingInstance", "action", "reason"],
  }),
  resource({ group: "", version: "v1", plural: "pods", singular: "pod", kind: "Pod", namespaced: true, statusSubresource: true, fieldLabels: ["spec.nodeName", "status.phase", "status.podIP"] }),
  resource({ group: "", version: "v1", plural: "nodes", singular: "node", kind: "Node", namespaced: false, statusSubresource: true, fieldLabels: ["spec.unschedulable"] }),
];

export function apiVersionOf(r: ResourceType): string {
  return r.group === "" ? r.version : `${r.group}/${r.version}`;
}

/** `ingresses.networking.k8s.io`, as used in kube-apiserver messages. */
export function qualifiedName(r: ResourceType): string {
  return r.group === "" ? r.plural : `${r.plural}.${r.group}`;
}

export function findByPath(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

/**
 * Finds a resource by kind ("Ingress"), plural ("ingresses") or singular, optionally narrowed by
 * apiVersion. Throws for an unknown one: a test asking for it has a typo.
 */
export function findByKind(kindOrPlural: string, apiVersion?: string): ResourceType {
  const lower = kindOrPlural.toLowerCase();
  const found = RESOURCES.find(
    (r) => (r.kind.toLowerCase() === lower || r.plural === lower || r.singular === lower) && (apiVersion === undefined || apiVersionOf(r) === apiVersion),
  );
  if (!found) throw new Error(`kube-api stand-in: no resource ${apiVersion ? `${apiVersion} ` : ""}${kindOrPlural}`);
  return found;
}

export function groupVersions(): ReadonlyArray<{ group: string; versions: readonly string[] }> {
  const groups = new Map<string, Set<string>>();
  for (const r of RESOURCES) {
    if (r.group === "") continue;
    const versions = groups.get(r.group) ?? new Set<string>();
    versions.add(r.version);
    groups.set(r.group, versions);
  }
  return [...groups].map(([group, versions]) => ({ group, versions: [...versions] }));
}
