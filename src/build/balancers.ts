// Resolves each distinct backend once per build and remembers the result by balancer id. A Service
// whose object and slice objects are those of the previous build keeps its previous resolutions
// (the same objects: members, configs), so nothing derived from them is rebuilt or re-serialized.
import type { BuildSettings, IngressBackend } from "../model/index.js";
import { resolveBackend, type BackendResolution, type ResolvedBackend, type ServiceIndex } from "./backend.js";
import { sameItems, type BuildCache, type ServiceEntry } from "./cache.js";

const noSlices: ReadonlyArray<never> = [];

export class BalancerSet {
  readonly #index: ServiceIndex;
  readonly #settings: BuildSettings;
  readonly #prev: BuildCache | null;
  readonly #next: BuildCache;
  /** Service backends by namespace, then Service name, then port number or name (no key strings to build). */
  readonly #byBackend = new Map<string, Map<string, Map<number | string, BackendResolution>>>();
  readonly #byId = new Map<string, ResolvedBackend>();

  constructor(index: ServiceIndex, settings: BuildSettings, prev: BuildCache | null, next: BuildCache) {
    this.#index = index;
    this.#settings = settings;
    this.#prev = prev;
    this.#next = next;
  }

  resolve(ns: string, backend: IngressBackend): BackendResolution {
    const service = backend.service;
    // Not a Service backend: resolution fails without a lookup, nothing to remember.
    if (service === undefined) return resolveBackend(ns, backend, this.#index, this.#settings);
    const port: number | string = service.port.number ?? service.port.name ?? "";
    let byName = this.#byBackend.get(ns);
    if (byName === undefined) {
      byName = new Map();
      this.#byBackend.set(ns, byName);
    }
    let byPort = byName.get(service.name);
    if (byPort === undefined) {
      byPort = new Map();
      byName.set(service.name, byPort);
    }
    let resolution = byPort.get(port);
    if (resolution === undefined) {
      const key = `${ns}/${service.name}`;
      const entry = this.#entry(key);
      resolution = (entry.reused ? this.#prev?.services.get(key)?.byPort.get(port) : undefined) ?? resolveBackend(ns, backend, this.#index, this.#settings);
      entry.byPort.set(port, resolution);
      byPort.set(port, resolution);
      if (resolution.ok) this.#byId.set(resolution.backend.balancer.id, resolution.backend);
    }
    return resolution;
  }

  get(id: string): ResolvedBackend | undefined {
    return this.#byId.get(id);
  }

  /** This build's cache entry of a Service; `reused` when the previous build's resolutions of it still hold (same Service and slice objects). */
  #entry(key: string): ServiceEntry {
    let next = this.#next.services.get(key);
    if (next === undefined) {
      const service = this.#index.services.get(key);
      const slices = this.#index.slices.get(key) ?? noSlices;
      const prev = this.#prev?.services.get(key);
      next = { service, slices, byPort: new Map(), reused: prev !== undefined && prev.service === service && sameItems(prev.slices, slices) };
      this.#next.services.set(key, next);
    }
    return next;
  }
}
