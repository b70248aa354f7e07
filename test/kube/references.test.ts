import { describe, expect, it } from "vitest";
import { ingressSchema, serviceSchema, type Service } from "../../src/model/index.js";
import { collectReferences } from "../../src/kube/index.js";

const ing = (annotations: Record<string, string>, spec: unknown) =>
  ingressSchema.parse({ apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: { name: "i", namespace: "ns", annotations }, spec });
const backend = (name: string) => ({ service: { name, port: { number: 80 } } });

describe("collectReferences", () => {
  const ext = serviceSchema.parse({ apiVersion: "v1", kind: "Service", metadata: { name: "ext", namespace: "ns" }, spec: { type: "ExternalName", externalName: "target.other.svc.cluster.local" } });
  const services = new Map<string, Service>([["ns/ext", ext]]);
  it.each([
    { name: "rule backends and the default backend", ingress: ing({}, { defaultBackend: backend("def"), rules: [{ http: { paths: [{ path: "/", backend: backend("a") }] } }] }), services: ["ns/a", "ns/def"], secrets: [] },
    { name: "TLS secretName in the Ingress namespace", ingress: ing({}, { tls: [{ hosts: ["h"], secretName: "cert" }] }), services: [], secrets: ["ns/cert"] },
    { name: "hot-standby annotation names a Service", ingress: ing({ "proxypass.io/hot-standby": "spare:8080" }, {}), services: ["ns/spare"], secrets: [] },
    { name: "hot-standby with a port name names the Service", ingress: ing({ "proxypass.io/hot-standby": "spare:http" }, { rules: [{ http: { paths: [{ path: "/", backend: backend("a") }] } }] }), services: ["ns/a", "ns/spare"], secrets: [] },
    { name: "a canary Ingress's backends are referenced", ingress: ing({ "proxypass.io/canary": "true" }, { rules: [{ host: "h", http: { paths: [{ path: "/", backend: backend("v2") }] } }] }), services: ["ns/v2"], secrets: [] },
    { name: "secret annotations, plain and namespaced", ingress: ing({ "proxypass.io/auth-secret": "users", "proxypass.io/backend-ca-secret": "x/ca" }, {}), services: [], secrets: ["ns/users", "x/ca"] },
    { name: "an ExternalName target Service in the cluster", ingress: ing({}, { defaultBackend: backend("ext") }), services: ["ns/ext", "other/target"], secrets: [] },
  ])("$name", ({ ingress, services: expectedServices, secrets }) => {
    const refs = collectReferences([ingress], (k) => services.get(k));
    expect([...refs.services].sort()).toEqual(expectedServices);
    expect([...refs.secrets].sort()).toEqual(secrets);
  });
});
