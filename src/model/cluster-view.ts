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
  /** `--configmap NS/NAME`: the global settings ConfigMap, or null (built-in defaults only). */
  readonly configMap: { readonly namespace: string; readonly name: string } | null;
  /** The controller's topology zone (`--zone`, else its node's `topology.kubernetes.io/zone`); null = unknown (no zone tiers). */
  readonly zone: string | null;
  /** `--default-ssl-certificate NS/NAME`: the TLS listener's default certificate; absent/null = the self-signed one made at start. */
  readonly defaultCertificate?: { readonly namespace: string; readonly name: string } | null;
  /**
   * Wall-clock time of this build as `Date.prototype.toISOString` writes it (UTC, milliseconds),
   * given by the caller: the only clock the builder sees, used to judge certificate expiry (ISO
   * strings of that one format compare in time order). Absent = expiry not judged (the data plane
   * still serves the default certificate for an expired one).
   */
  readonly now?: string;
}

export const defaultBuildSettings: BuildSettings = Object.freeze({
  ingressClass: "proxypass",
  controllerName: "proxypass.io/ingress-controller",
  clusterDomain: "cluster.local",
  configMap: null,
  zone: null,
});

/** The last valid global settings (from the `--configmap` ConfigMap), part of `BuildMemory`. */
export interface SettingsMemory {
  /** The ConfigMap was seen at least once (a later absence is then not reported). */
  readonly found: boolean;
  /** Last valid value of each key present in the ConfigMap, by key (no `proxypass.io/` prefix). */
  readonly values: Readonly<Record<string, string>>;
}

/**
 * Results of a build that the next build may reuse (per-Service members and their JSON text,
 * per-Ingress routes, virtual hosts, table versions), keyed by the identity of the objects they
 * were derived from. Opaque outside `src/build`, which alone creates and reads it.
 */
export interface BuildCache {
  readonly settingsKey: string;
}

/**
 * What the builder remembers between runs, owned by `control` and passed through opaquely: the
 * last accepted version of each Ingress ("ns/name"), so an Ingress whose new version is invalid
 * keeps serving its last valid one, and the last valid global settings, so an invalid ConfigMap
 * value keeps the previous valid value of its key. `cache` (absent: nothing to reuse) only saves
 * work: a build with it gives the same result as one without.
 */
export interface BuildMemory {
  readonly ingresses: ReadonlyMap<string, Ingress>;
  readonly settings: SettingsMemory;
  readonly cache?: BuildCache;
}

export const emptyBuildMemory: BuildMemory = Object.freeze({
  ingresses: new Map<string, Ingress>(),
  settings: Object.freeze({ found: false, values: Object.freeze({}) }),
});
