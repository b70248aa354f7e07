import type { ConfigMap, EndpointSlice, Ingress, IngressClass, Secret, Service } from "./kube-objects.js";

/** Everything a source (cluster or manifest files) knows, as parsed model objects. Input of the builder. */
export interface ClusterView {
  readonly ingresses: ReadonlyArray<Ingress>;
  readonly ingressClasses: ReadonlyArray<IngressClass>;
  readonly services: ReadonlyArray<Service>;
  readonly endpointSlices: ReadonlyArray<EndpointSlice>;
  readonly secrets: ReadonlyArray<Secret>;
  readonly configMaps: ReadonlyArray<ConfigMap>;
}

export const emptyClusterView: ClusterView = Object.freeze({
  ingresses: [],
  ingressClasses: [],
  services: [],
  endpointSlices: [],
  secrets: [],
  configMaps: [],
});

/** Controller settings the builder needs (from flags). */
export interface BuildSettings {
  /** IngressClass name this controller serves (`--ingress-class`). */
  readonly ingressClass: string;
  /** `spec.controller` value of IngressClasses we own (`--controller-name`). */
  readonly controllerName: string;
  /** Cluster domain used for the Service DNS name sent as Host when preserve-host is false. */
  readonly clusterDomain: string;
}

export const defaultBuildSettings: BuildSettings = Object.freeze({
  ingressClass: "proxypass",
  controllerName: "proxypass.io/ingress-controller",
  clusterDomain: "cluster.local",
});

/**
 * What the builder remembers between runs: the last accepted version of each Ingress ("ns/name"),
 * so an Ingress whose new version is invalid keeps serving its last valid one. Owned by `control`.
 */
export type BuildMemory = ReadonlyMap<string, Ingress>;
