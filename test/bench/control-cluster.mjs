// The synthetic cluster of bench:control: Services with EndpointSlices of at most 100 endpoints on
// 127.16.0.0+ addresses (port 9, never contacted), Ingresses spread over them, the global
// settings ConfigMap, and one probe Service/Ingress whose member the benchmark flips.
const namespaces = 10;
const maxPerSlice = 100;
const created = "2026-01-01T00:00:00Z";

export const probe = { namespace: "bench-probe", service: "probe", host: "probe.bench.test" };

/** 127.16.0.0 + k: distinct loopback addresses, away from 127.0.0.1. */
function address(k) {
  return `127.${16 + ((k >> 16) & 0xff)}.${(k >> 8) & 0xff}.${k & 0xff}`;
}

function ns(i) {
  return `bench-${i % namespaces}`;
}

/** @param {{ ingresses: number, services: number, endpoints: number }} size */
export function generateCluster(size, deadPort) {
  const objects = [];
  const configMap = { namespace: "bench", name: "proxypass-settings" };
  objects.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { ...configMap }, data: { "connect-timeout": "2", timeout: "120", "response-headers": "set X-Served-By proxypass\n" } });
  const perService = Math.floor(size.endpoints / size.services);
  let extra = size.endpoints - perService * size.services;
  let k = 0;
  for (let s = 0; s < size.services; s++) {
    const name = `svc-${s}`;
    objects.push({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: ns(s), creationTimestamp: created },
      spec: { type: "ClusterIP", ports: [{ name: "http", port: 80, targetPort: 8080 }] },
    });
    let count = perService + (extra > 0 ? 1 : 0);
    if (extra > 0) extra--;
    for (let slice = 0; count > 0; slice++) {
      const n = Math.min(maxPerSlice, count);
      count -= n;
      const endpoints = [];
      for (let e = 0; e < n; e++, k++) {
        endpoints.push({ addresses: [address(k)], conditions: { ready: true }, targetRef: { kind: "Pod", name: `${name}-${slice}-${e}`, namespace: ns(s) }, zone: `zone-${k % 3}` });
      }
      objects.push({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: { name: `${name}-${slice}`, namespace: ns(s), labels: { "kubernetes.io/service-name": name }, creationTimestamp: created },
        addressType: "IPv4",
        ports: [{ name: "http", port: 9, protocol: "TCP" }],
        endpoints,
      });
    }
  }
  for (let i = 0; i < size.ingresses; i++) {
    const s = i % size.services;
    const annotations = {};
    if (i % 4 === 0) annotations["proxypass.io/timeout"] = "30";
    if (i % 8 === 0) annotations["proxypass.io/request-headers"] = `set X-Tenant t${i}\n`;
    const backend = { service: { name: `svc-${s}`, port: { number: 80 } } };
    const other = { service: { name: `svc-${(s + namespaces) % size.services}`, port: { name: "http" } } };
    objects.push({
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: { name: `ing-${i}`, namespace: ns(s), annotations, creationTimestamp: created },
      spec: {
        ingressClassName: "proxypass",
        rules: [
          {
            host: `h-${i}.bench.test`,
            http: {
              paths: [
                { path: "/", pathType: "Prefix", backend },
                { path: "/api", pathType: "Prefix", backend: other },
                { path: "/healthz", pathType: "Exact", backend },
              ],
            },
          },
        ],
      },
    });
  }
  objects.push({ apiVersion: "v1", kind: "Service", metadata: { name: probe.service, namespace: probe.namespace }, spec: { ports: [{ name: "http", port: 80 }] } });
  objects.push(probeSlice(deadPort, 0));
  objects.push({
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name: "probe", namespace: probe.namespace },
    spec: { ingressClassName: "proxypass", rules: [{ host: probe.host, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: probe.service, port: { number: 80 } } } }] } }] },
  });
  return { objects, configMap };
}

/** The probe Service's one EndpointSlice: a single member, 127.0.0.1:port. */
export function probeSlice(port, generation) {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: `${probe.service}-1`, namespace: probe.namespace, labels: { "kubernetes.io/service-name": probe.service }, annotations: { "bench/generation": String(generation) } },
    addressType: "IPv4",
    ports: [{ name: "http", port }],
    endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true }, targetRef: { kind: "Pod", name: `probe-${port}` } }],
  };
}
