// `--scale`: the manifests of the routing-cost comparison (10 vs 10,000 Ingresses, same load on
// one host) and the config swapper (one manifest file rewritten every second under load).
//
// Cluster: N Ingresses `scale/ing-i`, each with one host `h-i.scale.test` and two Prefix paths (`/`
// and `/api`): N hosts, 2N paths. They point at N/10 Services (at least 1), each with an
// EndpointSlice of the three origin members, so every host answers through the real origin. The
// load goes to the middle host (`h-<N/2>`), path `/`. Everything but the swapped Ingress is in one
// `cluster.json` (`kind: List`); the swapper rewrites its own `swap.json`, so a swap re-parses one
// small file and rebuilds + recompiles the whole route table (a new table version every time).
import { writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { members } from "./configs.mjs";

const created = "2026-01-01T00:00:00Z";
const ns = "scale";

export function loadHost(n) {
  return `h-${Math.floor(n / 2)}.scale.test`;
}

export const swapHost = "swap.scale.test";

/** { "cluster.json": List, "swap.json": Ingress } for N Ingresses (the swap Ingress is one of them). */
export function scaleManifests(n, originPort) {
  const services = Math.max(1, Math.floor(n / 10));
  const items = [
    { apiVersion: "networking.k8s.io/v1", kind: "IngressClass", metadata: { name: "proxypass", annotations: { "ingressclass.kubernetes.io/is-default-class": "true" } }, spec: { controller: "proxypass.io/ingress-controller" } },
  ];
  for (let s = 0; s < services; s++) {
    const name = `svc-${s}`;
    items.push({ apiVersion: "v1", kind: "Service", metadata: { name, namespace: ns, creationTimestamp: created }, spec: { type: "ClusterIP", ports: [{ name: "http", port: 80, targetPort: originPort }] } });
    items.push({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: `${name}-1`, namespace: ns, labels: { "kubernetes.io/service-name": name }, creationTimestamp: created },
      addressType: "IPv4",
      ports: [{ name: "http", port: originPort, protocol: "TCP" }],
      endpoints: members.map((address, i) => ({ addresses: [address], conditions: { ready: true }, targetRef: { kind: "Pod", name: `${name}-${i}`, namespace: ns } })),
    });
  }
  for (let i = 0; i < n - 1; i++) items.push(ingress(`ing-${i}`, `h-${i}.scale.test`, `svc-${i % services}`, {}));
  return { "cluster.json": { apiVersion: "v1", kind: "List", items }, "swap.json": swapIngress(0) };
}

function ingress(name, host, service, annotations) {
  const backend = { service: { name: service, port: { name: "http" } } };
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name, namespace: ns, annotations, creationTimestamp: created },
    spec: {
      ingressClassName: "proxypass",
      rules: [{ host, http: { paths: [{ path: "/", pathType: "Prefix", backend }, { path: "/api", pathType: "Prefix", backend }] } }],
    },
  };
}

/**
 * The swapped Ingress, generation `g`: its response header rule changes, so the route table changes,
 * and `X-Swap-Generation` on a response from `swapHost` tells which generation is live.
 */
export function swapIngress(g) {
  return ingress("swap", swapHost, "svc-0", { "proxypass.io/response-headers": `set X-Swap-Generation ${g}\n` });
}

/** Writes `swap.json` every `periodMs` (atomic rename, as editors and ConfigMap mounts do) until stopped. */
export class Swapper {
  #dir;
  #timer = null;
  #generation = 0;
  #startedAt = 0;

  constructor(dir) {
    this.#dir = dir;
  }

  start(periodMs = 1000) {
    this.#startedAt = this.#generation;
    this.#timer = setInterval(() => {
      this.#generation++;
      const tmp = join(this.#dir, ".swap.json.tmp");
      writeFileSync(tmp, JSON.stringify(swapIngress(this.#generation)) + "\n");
      renameSync(tmp, join(this.#dir, "swap.json"));
    }, periodMs);
  }

  /** The generation of the last edit written (0 = the initial file). */
  get generation() {
    return this.#generation;
  }

  /** Stops; returns how many edits were written. */
  stop() {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    return this.#generation - this.#startedAt;
  }
}
