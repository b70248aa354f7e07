// The exact API permissions the controller uses. The chart turns this list into its ClusterRole
// (or Role with --watch-namespace); a test fails if the controller makes a request not covered.

export type RbacVerb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";

export interface RbacRule {
  /** "" for the core group. */
  readonly apiGroup: string;
  /** Plural resource, "ingresses/status" for the subresource. */
  readonly resource: string;
  readonly verbs: ReadonlyArray<RbacVerb>;
  /** Why the controller needs it. */
  readonly purpose: string;
  /** Used by code that exists today (false: reserved for code not built yet). */
  readonly implemented: boolean;
}

export const rbacRules: ReadonlyArray<RbacRule> = [
  { apiGroup: "networking.k8s.io", resource: "ingresses", verbs: ["list", "watch"], purpose: "routes", implemented: true },
  { apiGroup: "networking.k8s.io", resource: "ingressclasses", verbs: ["list", "watch"], purpose: "class selection", implemented: true },
  { apiGroup: "", resource: "services", verbs: ["list", "watch"], purpose: "backends, ExternalName", implemented: true },
  { apiGroup: "discovery.k8s.io", resource: "endpointslices", verbs: ["list", "watch"], purpose: "balancer members", implemented: true },
  { apiGroup: "", resource: "secrets", verbs: ["list", "watch"], purpose: "TLS certificates and Secrets named by annotations (auth-secret, backend-ca-secret, ajp-secret); field selector type!=helm.sh/release.v1; only referenced ones reach the builder, and only the data keys it reads are kept", implemented: true },
  { apiGroup: "", resource: "configmaps", verbs: ["list", "watch"], purpose: "--configmap global settings (field selector metadata.name)", implemented: true },
  { apiGroup: "", resource: "configmaps", verbs: ["get", "create", "update"], purpose: "--runtime-configmap: balancer-manager edits in the controller namespace (list/watch with field selector metadata.name by every replica; get, then update with its resourceVersion, or create when missing, by the replica that takes an edit)", implemented: true },
  { apiGroup: "networking.k8s.io", resource: "ingresses/status", verbs: ["get", "patch"], purpose: "status.loadBalancer of served Ingresses: JSON merge patch when different; get only for an Ingress whose watched resourceVersion is newer than the one listed or last seen (statuses come from a paged ingresses list; leader only)", implemented: true },
  { apiGroup: "coordination.k8s.io", resource: "leases", verbs: ["get", "create", "update"], purpose: "leader election: the --election-id Lease in the controller namespace (POD_NAMESPACE)", implemented: true },
  { apiGroup: "", resource: "services", verbs: ["get"], purpose: "--publish-service: its load-balancer ingress, external IPs or cluster IP for Ingress status (leader only)", implemented: true },
  { apiGroup: "", resource: "pods", verbs: ["get", "list"], purpose: "Ingress status without --publish-service: own pod (POD_NAME) or controller pods by label selector, in the controller namespace, for their nodes (leader only)", implemented: true },
  { apiGroup: "", resource: "nodes", verbs: ["get"], purpose: "Ingress status without --publish-service: ExternalIP/InternalIP of the nodes running controller pods (leader only); and, without --zone, the own node's (NODE_NAME) topology.kubernetes.io/zone label, once at start (cluster-scoped: needs a ClusterRole even with --watch-namespace)", implemented: true },
  { apiGroup: "events.k8s.io", resource: "events", verbs: ["create", "patch"], purpose: "Events for diagnostics", implemented: true },
];

/** Whether a request (API group, resource with optional "/subresource", verb) is covered by `rules`. */
export function isAllowed(rules: ReadonlyArray<RbacRule>, apiGroup: string, resource: string, verb: string): boolean {
  return rules.some((r) => r.apiGroup === apiGroup && r.resource === resource && (r.verbs as ReadonlyArray<string>).includes(verb));
}
