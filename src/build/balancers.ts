// Resolves each distinct backend once per build and remembers the result by balancer id.
import type { BuildSettings, IngressBackend } from "../model/index.js";
import { resolveBackend, type BackendResolution, type ResolvedBackend, type ServiceIndex } from "./backend.js";

export class BalancerSet {
  readonly #index: ServiceIndex;
  readonly #settings: BuildSettings;
  /** Service backends by namespace, then Service name, then port number or name (no key strings to build). */
  readonly #byBackend = new Map<string, Map<string, Map<number | string, BackendResolution>>>();
  readonly #byId = new Map<string, ResolvedBackend>();

  constructor(index: ServiceIndex, settings: BuildSettings) {
    this.#index = index;
    this.#settings = settings;
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
      resolution = resolveBackend(ns, backend, this.#index, this.#settings);
      byPort.set(port, resolution);
      if (resolution.ok) this.#byId.set(resolution.backend.balancer.id, resolution.backend);
    }
    return resolution;
  }

  get(id: string): ResolvedBackend | undefined {
    return this.#byId.get(id);
  }
}
