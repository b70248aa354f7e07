// Manifests of the chaos suite's one application: a Service "web" in namespace "shop", its
// EndpointSlice (members ready, or serving-and-terminating as during a pod's shutdown), and
// Ingresses. Plain objects: written as JSON files (file mode) or applied to the stand-in API server.

export interface EndpointSpec {
  readonly ip: string;
  readonly port: number;
  readonly pod: string;
  /** "ready" (default), or "terminating": ready false, serving true, terminating true. */
  readonly phase?: "ready" | "terminating";
}

export type Obj = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> } };

export const NS = "shop";

export function service(name = "web"): Obj {
  return { apiVersion: "v1", kind: "Service", metadata: { name, namespace: NS }, spec: { ports: [{ name: "http", port: 80 }] } };
}

/** One slice per distinct member port (a slice has one port list). */
export function endpointSlices(endpoints: ReadonlyArray<EndpointSpec>, serviceName = "web"): Obj[] {
  const byPort = new Map<number, EndpointSpec[]>();
  for (const e of endpoints) byPort.set(e.port, [...(byPort.get(e.port) ?? []), e]);
  return [...byPort].map(([port, es]) => ({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: `${serviceName}-${port}`, namespace: NS, labels: { "kubernetes.io/service-name": serviceName } },
    addressType: "IPv4",
    ports: [{ name: "http", port }],
    endpoints: es.map((e) => ({
      addresses: [e.ip],
      conditions: e.phase === "terminating" ? { ready: false, serving: true, terminating: true } : { ready: true, serving: true, terminating: false },
      targetRef: { kind: "Pod", name: e.pod, namespace: NS },
    })),
  }));
}

export interface PathSpec {
  readonly path: string;
  readonly pathType?: "Prefix" | "Exact";
  readonly service?: string;
}

export function ingress(name: string, host: string, paths: ReadonlyArray<PathSpec>, annotations: Record<string, string> = {}): Obj {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name, namespace: NS, annotations },
    spec: {
      ingressClassName: "proxypass",
      rules: [
        {
          host,
          http: {
            paths: paths.map((p) => ({ path: p.path, pathType: p.pathType ?? "Prefix", backend: { service: { name: p.service ?? "web", port: { number: 80 } } } })),
          },
        },
      ],
    },
  };
}

/** The IngressClass of our controller (the Kubernetes source lists them). */
export function ingressClass(): Obj {
  return { apiVersion: "networking.k8s.io/v1", kind: "IngressClass", metadata: { name: "proxypass" }, spec: { controller: "proxypass.io/ingress-controller" } };
}

export function list(items: ReadonlyArray<Obj>): string {
  return `${JSON.stringify({ apiVersion: "v1", kind: "List", items }, null, 1)}\n`;
}
