// Resolves each distinct backend once per build and remembers the result by balancer id.
import type { BuildSettings, IngressBackend } from "../model/index.js";
import { resolveBackend, type BackendResolution, type ResolvedBackend, type ServiceIndex } from "./backend.js";

export class BalancerSet {
  readonly #index: ServiceIndex;
  readonly #settings: BuildSettings;
  readonly #byBackend = new Map<string, BackendResolution>();
  readonly #byId = new Map<string, ResolvedBackend>();

  constructor(index: ServiceIndex, settings: BuildSettings) {
    this.#index = index;
    this.#settings = settings;
  }

  resolve(ns: string, backend: IngressBackend): BackendResolution {
    const port = backend.service?.port;
    const key = `${ns}|${backend.service?.name ?? ""}|${port?.number ?? ""}|${port?.name ?? ""}|${backend.resource?.kind ?? ""}|${backend.resource?.name ?? ""}`;
    let resolution = this.#byBackend.get(key);
    if (resolution === undefined) {
      resolution = resolveBackend(ns, backend, this.#index, this.#settings);
      this.#byBackend.set(key, resolution);
      if (resolution.ok) this.#byId.set(resolution.backend.balancer.id, resolution.backend);
    }
    return resolution;
  }

  get(id: string): ResolvedBackend | undefined {
    return this.#byId.get(id);
  }
}
