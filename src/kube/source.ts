// The Kubernetes source: one supervised list+watch loop per watched collection, every object parsed
// at the border into model types (the raw JSON is dropped there: the parsed objects here are the
// only copy of the cluster in the process), and a relevance filter so that only changes that can
// alter the snapshot mark the reconciler dirty. While the API server is unreachable the stores keep
// their last known objects, so current() keeps returning the last known view.
import type { KubeConfig } from "@kubernetes/client-node";
import type { z } from "zod";
import {
  compareDiagnostics,
  configMapSchema,
  endpointSliceSchema,
  ingressClassSchema,
  ingressSchema,
  secretSchema,
  serviceSchema,
  type ClusterView,
  type Diagnostic,
  type Ingress,
  type Secret,
  type Service,
  type SourceChange,
} from "../model/index.js";
import type { Logger } from "../util/index.js";
import type { BackoffOptions } from "./backoff.js";
import { normaliseObject } from "./normalise.js";
import { collectReferences, keptSecretKeys, type References } from "./references.js";
import { InformerSupervisor, type StoreEvent } from "./supervisor.js";
import { collectionClient, defaultWatchTuning, type WatchTuning } from "./watch.js";

export type WatchedKind = "Ingress" | "IngressClass" | "Service" | "EndpointSlice" | "Secret" | "ConfigMap";

export interface NamespacedName {
  readonly namespace: string;
  readonly name: string;
}

export interface KubeSourceOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** `--watch-namespace`: restrict every namespaced watch to this namespace. */
  readonly watchNamespace?: string | undefined;
  /** `--configmap NS/NAME`: the one ConfigMap to watch. */
  readonly configMap?: NamespacedName | undefined;
  /** `--default-ssl-certificate NS/NAME`: a Secret that always matters. */
  readonly defaultCertificate?: NamespacedName | undefined;
  readonly backoff?: BackoffOptions;
  /** A watch without a sign of life this long is relisted (default: watch timeout + 30 s). */
  readonly staleAfterMs?: number;
  readonly watchTuning?: WatchTuning;
}

/** Per-informer state, for metrics and readiness. */
export interface InformerStatus {
  readonly kind: WatchedKind;
  /** Plural resource ("ingresses"). */
  readonly resource: string;
  readonly synced: boolean;
  readonly running: boolean;
  readonly restarts: number;
  readonly objects: number;
}

interface KindSpec {
  readonly kind: WatchedKind;
  readonly apiVersion: string;
  readonly group: string;
  readonly resource: string;
  readonly namespaced: boolean;
  readonly schema: z.ZodType;
  readonly fieldSelector?: string;
  /** Collection path (list and watch), for all namespaces (undefined) or one. */
  readonly path: (namespace: string | undefined) => string;
}

/** One raw object after the border: its parsed form or why it does not parse. */
interface Decoded {
  /** The parsed model object; null when invalid. */
  readonly object: unknown;
  /** The zod issues, when invalid. */
  readonly reason: string | null;
  /** EndpointSlice: the raw `kubernetes.io/service-name` label (kept also when the slice is invalid). */
  readonly serviceName: string | undefined;
}

interface Entry<T> {
  /** The current version, when it parses; null when invalid. */
  readonly object: T | null;
  /** The last version that parsed (for references while the current one is invalid). */
  readonly lastValid: T | null;
  readonly diagnostic: Diagnostic | null;
  /** See Decoded. */
  readonly serviceName: string | undefined;
}

/** Apiserver-style path: `/api/v1[/namespaces/NS]/services` or `/apis/GROUP/v1[/namespaces/NS]/ingresses`. */
function pathFor(group: string, resource: string, namespace: string | undefined): string {
  const base = group === "" ? "/api/v1" : `/apis/${group}/v1`;
  return namespace === undefined ? `${base}/${resource}` : `${base}/namespaces/${encodeURIComponent(namespace)}/${resource}`;
}

/**
 * Secrets are watched whatever their type (TLS certificates, and Opaque Secrets named by annotations:
 * `auth-secret`, `backend-ca-secret`, `ajp-secret`), except Helm's release records: they are the
 * large, numerous Secrets of a cluster (a gzipped manifest per release revision) and never hold
 * anything an Ingress can name. The selector saves listing and decoding them; `keptSecretKeys`
 * bounds the memory of the rest.
 */
export const secretFieldSelector = "type!=helm.sh/release.v1";

export class KubeSource {
  readonly #log: Logger;
  readonly #supervisors = new Map<WatchedKind, InformerSupervisor<Decoded>>();
  readonly #specs = new Map<WatchedKind, KindSpec>();
  readonly #entries = new Map<WatchedKind, Map<string, Entry<unknown>>>();
  readonly #listeners: Array<(change: SourceChange) => void> = [];
  /** current() lists by kind, kept until that kind (or, for Secrets, the references) changes. */
  readonly #lists = new Map<WatchedKind, { objects: unknown[]; diagnostics: Diagnostic[] }>();
  readonly #extraSecrets: ReadonlyArray<string>;
  #refs: References | null = null;
  #current: { view: ClusterView; diagnostics: ReadonlyArray<Diagnostic> } | null = null;
  #started = false;
  #closed = false;

  constructor(options: KubeSourceOptions) {
    this.#log = options.logger;
    this.#extraSecrets = options.defaultCertificate === undefined ? [] : [`${options.defaultCertificate.namespace}/${options.defaultCertificate.name}`];
    const specs: KindSpec[] = [
      { kind: "Ingress", apiVersion: "networking.k8s.io/v1", group: "networking.k8s.io", resource: "ingresses", namespaced: true, schema: ingressSchema, path: (ns) => pathFor("networking.k8s.io", "ingresses", ns) },
      { kind: "IngressClass", apiVersion: "networking.k8s.io/v1", group: "networking.k8s.io", resource: "ingressclasses", namespaced: false, schema: ingressClassSchema, path: () => pathFor("networking.k8s.io", "ingressclasses", undefined) },
      { kind: "Service", apiVersion: "v1", group: "", resource: "services", namespaced: true, schema: serviceSchema, path: (ns) => pathFor("", "services", ns) },
      { kind: "EndpointSlice", apiVersion: "discovery.k8s.io/v1", group: "discovery.k8s.io", resource: "endpointslices", namespaced: true, schema: endpointSliceSchema, path: (ns) => pathFor("discovery.k8s.io", "endpointslices", ns) },
      { kind: "Secret", apiVersion: "v1", group: "", resource: "secrets", namespaced: true, schema: secretSchema, fieldSelector: secretFieldSelector, path: (ns) => pathFor("", "secrets", ns) },
    ];
    const cm = options.configMap;
    if (cm !== undefined) {
      specs.push({
        kind: "ConfigMap", apiVersion: "v1", group: "", resource: "configmaps", namespaced: true, schema: configMapSchema, fieldSelector: `metadata.name=${cm.name}`,
        path: () => pathFor("", "configmaps", cm.namespace),
      });
    }
    const tuning = options.watchTuning ?? defaultWatchTuning;
    for (const spec of specs) {
      const namespace = spec.namespaced && spec.kind !== "ConfigMap" ? options.watchNamespace : undefined;
      const path = spec.path(namespace);
      this.#specs.set(spec.kind, spec);
      this.#entries.set(spec.kind, new Map());
      this.#supervisors.set(
        spec.kind,
        new InformerSupervisor<Decoded>({
          resource: spec.resource,
          logger: this.#log,
          client: collectionClient(options.kubeConfig, { path, ...(spec.fieldSelector !== undefined ? { fieldSelector: spec.fieldSelector } : {}) }, tuning),
          decode: (raw) => decode(spec, raw),
          onEvent: (event) => this.#onEvent(spec, event),
          ...(options.backoff !== undefined ? { backoff: options.backoff } : {}),
          staleAfterMs: options.staleAfterMs ?? tuning.watchTimeoutSeconds * 1000 + 30_000,
          rewatchDelayMs: tuning.rewatchDelayCapMs,
        }),
      );
    }
  }

  /** Starts every informer; resolves once each has completed its initial list (retrying meanwhile). */
  async start(): Promise<void> {
    const supervisors = [...this.#supervisors.values()];
    for (const s of supervisors) s.start();
    await Promise.all(supervisors.map((s) => s.whenSynced()));
    this.#started = true;
    this.#log.info({ informers: this.informers().map((i) => `${i.resource}=${i.objects}`).join(" ") }, "kubernetes source synced");
  }

  /** True once every informer completed its initial list. */
  get synced(): boolean {
    return [...this.#supervisors.values()].every((s) => s.synced);
  }

  /** Restarts per resource ("ingresses" → n). */
  restarts(): Readonly<Record<string, number>> {
    return Object.fromEntries([...this.#supervisors.values()].map((s) => [s.resource, s.restarts]));
  }

  informers(): ReadonlyArray<InformerStatus> {
    return [...this.#supervisors.entries()].map(([kind, s]) => ({ kind, resource: s.resource, synced: s.synced, running: s.running, restarts: s.restarts, objects: s.size }));
  }

  current(): { view: ClusterView; diagnostics: ReadonlyArray<Diagnostic> } {
    this.#current ??= this.#compute();
    return this.#current;
  }

  /** `listener` gets, per relevant change, the Services an EndpointSlice change touches, or "full". */
  onChange(listener: (change: SourceChange) => void): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#supervisors.values()].map((s) => s.close()));
  }

  #onEvent(spec: KindSpec, event: StoreEvent<Decoded>): void {
    const entries = this.#entry(spec.kind);
    const previous = entries.get(event.key);
    let next: Entry<unknown> | undefined;
    if (event.type === "delete") {
      entries.delete(event.key);
    } else {
      next = this.#entryOf(spec, event.key, event.value, previous);
      entries.set(event.key, next);
    }
    this.#current = null;
    this.#lists.delete(spec.kind);
    if (spec.kind === "Ingress" || spec.kind === "Service") {
      this.#refs = null;
      this.#lists.delete("Secret");
    }
    // Before the initial sync completes nothing may be built: start() resolving is the first signal.
    if (!this.#started || this.#closed) return;
    const change = this.#matters(spec.kind, event.key, previous, next);
    if (change === null) return;
    for (const listener of this.#listeners) listener(change);
  }

  #entryOf(spec: KindSpec, key: string, decoded: Decoded, previous: Entry<unknown> | undefined): Entry<unknown> {
    const serviceName = decoded.serviceName;
    if (decoded.reason === null) return { object: decoded.object, lastValid: decoded.object, diagnostic: null, serviceName };
    const diagnostic: Diagnostic = { severity: "error", kind: spec.kind, object: key, reason: "InvalidObject", message: `invalid ${spec.kind} ${key}: ${decoded.reason}; it is ignored` };
    if (previous?.diagnostic?.message !== diagnostic.message) this.#log.warn({ kind: spec.kind, object: key, reason: decoded.reason }, "invalid object from the API server; ignored");
    return { object: null, lastValid: previous?.lastValid ?? null, diagnostic, serviceName };
  }

  /** What a change can alter in the snapshot; null when nothing. */
  #matters(kind: WatchedKind, key: string, previous: Entry<unknown> | undefined, next: Entry<unknown> | undefined): SourceChange | null {
    const full: SourceChange = { type: "full", kind };
    switch (kind) {
      case "Ingress":
      case "IngressClass":
      case "ConfigMap":
        return full;
      case "Service":
        return this.#references().services.has(key) ? full : null;
      case "Secret":
        return this.#references().secrets.has(key) ? full : null;
      case "EndpointSlice": {
        const refs = this.#references().services;
        const ns = key.slice(0, key.indexOf("/"));
        const names = new Set<string>();
        for (const entry of [previous, next]) {
          if (entry?.serviceName !== undefined) names.add(entry.serviceName);
          const old = entry?.lastValid;
          if (isLabelled(old)) {
            const name = old.metadata.labels["kubernetes.io/service-name"];
            if (name !== undefined) names.add(name);
          }
        }
        const services = [...names].map((name) => `${ns}/${name}`).sort();
        return services.some((k) => refs.has(k)) ? { type: "endpoints", services } : null;
      }
    }
  }

  #references(): References {
    if (this.#refs === null) {
      const ingresses = [...this.#entry("Ingress").values()].flatMap((e) => (e.lastValid === null ? [] : [e.lastValid as Ingress]));
      const services = this.#entry("Service");
      this.#refs = collectReferences(ingresses, (key) => (services.get(key)?.object ?? undefined) as Service | undefined, this.#extraSecrets);
    }
    return this.#refs;
  }

  #entry(kind: WatchedKind): Map<string, Entry<unknown>> {
    let entries = this.#entries.get(kind);
    if (entries === undefined) {
      entries = new Map();
      this.#entries.set(kind, entries);
    }
    return entries;
  }

  /** The objects of a kind sorted by key, and its diagnostics; recomputed only after that kind changed. */
  #list<T>(kind: WatchedKind, keep: (key: string) => boolean = () => true): { objects: T[]; diagnostics: Diagnostic[] } {
    let list = this.#lists.get(kind);
    if (list === undefined) {
      const entries = this.#entry(kind);
      const objects: unknown[] = [];
      const diagnostics: Diagnostic[] = [];
      for (const key of [...entries.keys()].sort()) {
        const entry = entries.get(key);
        if (entry === undefined) continue;
        if (entry.diagnostic !== null) diagnostics.push(entry.diagnostic);
        if (entry.object !== null && keep(key)) objects.push(entry.object);
      }
      list = { objects, diagnostics };
      this.#lists.set(kind, list);
    }
    return list as { objects: T[]; diagnostics: Diagnostic[] };
  }

  #compute(): { view: ClusterView; diagnostics: ReadonlyArray<Diagnostic> } {
    const secrets = this.#references().secrets;
    const ingresses = this.#list<ClusterView["ingresses"][number]>("Ingress");
    const ingressClasses = this.#list<ClusterView["ingressClasses"][number]>("IngressClass");
    const services = this.#list<ClusterView["services"][number]>("Service");
    const endpointSlices = this.#list<ClusterView["endpointSlices"][number]>("EndpointSlice");
    // Only referenced Secrets reach the builder.
    const secretList = this.#list<ClusterView["secrets"][number]>("Secret", (key) => secrets.has(key));
    const configMaps = this.#list<ClusterView["configMaps"][number]>("ConfigMap");
    const view: ClusterView = {
      ingresses: ingresses.objects,
      ingressClasses: ingressClasses.objects,
      services: services.objects,
      endpointSlices: endpointSlices.objects,
      secrets: secretList.objects,
      configMaps: configMaps.objects,
    };
    const diagnostics = [ingresses, ingressClasses, services, endpointSlices, secretList, configMaps].flatMap((l) => l.diagnostics);
    return { view, diagnostics: diagnostics.sort(compareDiagnostics) };
  }
}

/** Parses one raw object with its kind's schema; the raw JSON is not kept. */
function decode(spec: KindSpec, raw: unknown): Decoded {
  const serviceName = spec.kind === "EndpointSlice" ? serviceNameLabel(raw) : undefined;
  const result = spec.schema.safeParse(normaliseObject(raw, spec.apiVersion, spec.kind));
  if (result.success) return { object: spec.kind === "Secret" ? keepSecretKeys(result.data as Secret) : result.data, reason: null, serviceName };
  const reason = result.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join(".") : "(object)"}: ${issue.message}`)
    .join("; ");
  return { object: null, reason, serviceName };
}

/**
 * A Secret with only the data keys the builder can read (`keptSecretKeys`): every Secret of the
 * cluster (but Helm's) is in the store, referenced or not, so whatever else they hold (kubeconfigs,
 * tokens, large blobs) is dropped at the border and costs no memory.
 */
function keepSecretKeys(secret: Secret): Secret {
  const data: Record<string, string> = {};
  let dropped = secret.stringData !== undefined;
  for (const key of Object.keys(secret.data)) {
    const value = secret.data[key];
    if (value !== undefined && keptSecretKeys.has(key)) data[key] = value;
    else dropped = true;
  }
  if (!dropped) return secret;
  const { stringData: _unused, ...rest } = secret;
  return { ...rest, data };
}

function serviceNameLabel(raw: unknown): string | undefined {
  if (!isLabelled(raw)) return undefined;
  const name: unknown = raw.metadata.labels["kubernetes.io/service-name"];
  return typeof name === "string" ? name : undefined;
}

function isLabelled(obj: unknown): obj is { metadata: { labels: Record<string, string> } } {
  if (obj === null || typeof obj !== "object" || !("metadata" in obj)) return false;
  const meta = obj.metadata;
  return meta !== null && typeof meta === "object" && "labels" in meta && meta.labels !== null && typeof meta.labels === "object";
}
