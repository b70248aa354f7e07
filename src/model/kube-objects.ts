// zod schemas of the Kubernetes object subsets we read. Anything not listed is ignored
// (zod strips unknown keys), so newer API fields never break parsing.
import { z } from "zod";

const stringMap = z.record(z.string(), z.string());

export const objectMetaSchema = z.object({
  name: z.string().min(1),
  namespace: z.string().min(1).default("default"),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.string().optional(),
  labels: stringMap.default({}),
  annotations: stringMap.default({}),
});
export type ObjectMeta = z.infer<typeof objectMetaSchema>;

/** Cluster-scoped objects (IngressClass) carry no namespace. */
export const clusterObjectMetaSchema = objectMetaSchema.omit({ namespace: true });

const serviceBackendPortSchema = z
  .object({ number: z.number().int().min(1).max(65535).optional(), name: z.string().min(1).optional() })
  .refine((p) => (p.number === undefined) !== (p.name === undefined), "exactly one of port.number and port.name");

export const ingressBackendSchema = z.object({
  service: z.object({ name: z.string().min(1), port: serviceBackendPortSchema }).optional(),
  resource: z.object({ apiGroup: z.string().optional(), kind: z.string(), name: z.string() }).optional(),
});
export type IngressBackend = z.infer<typeof ingressBackendSchema>;

export const httpIngressPathSchema = z.object({
  path: z.string().optional(),
  pathType: z.enum(["Exact", "Prefix", "ImplementationSpecific"]).default("ImplementationSpecific"),
  backend: ingressBackendSchema,
});
export type HttpIngressPath = z.infer<typeof httpIngressPathSchema>;

export const ingressRuleSchema = z.object({
  host: z.string().optional(),
  http: z.object({ paths: z.array(httpIngressPathSchema).default([]) }).optional(),
});
export type IngressRule = z.infer<typeof ingressRuleSchema>;

export const ingressSchema = z.object({
  apiVersion: z.literal("networking.k8s.io/v1"),
  kind: z.literal("Ingress"),
  metadata: objectMetaSchema,
  spec: z
    .object({
      ingressClassName: z.string().optional(),
      defaultBackend: ingressBackendSchema.optional(),
      rules: z.array(ingressRuleSchema).default([]),
      tls: z.array(z.object({ hosts: z.array(z.string()).default([]), secretName: z.string().optional() })).default([]),
    })
    .default({ rules: [], tls: [] }),
});
export type Ingress = z.infer<typeof ingressSchema>;

export const ingressClassSchema = z.object({
  apiVersion: z.literal("networking.k8s.io/v1"),
  kind: z.literal("IngressClass"),
  metadata: clusterObjectMetaSchema,
  spec: z.object({ controller: z.string().optional() }).default({}),
});
export type IngressClass = z.infer<typeof ingressClassSchema>;

export const servicePortSchema = z.object({
  name: z.string().optional(),
  port: z.number().int().min(1).max(65535),
  targetPort: z.union([z.number().int(), z.string()]).optional(),
  protocol: z.string().default("TCP"),
  appProtocol: z.string().optional(),
});
export type ServicePort = z.infer<typeof servicePortSchema>;

export const serviceSchema = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("Service"),
  metadata: objectMetaSchema,
  spec: z
    .object({
      type: z.string().default("ClusterIP"),
      externalName: z.string().optional(),
      clusterIP: z.string().optional(),
      ports: z.array(servicePortSchema).default([]),
    })
    .default({ type: "ClusterIP", ports: [] }),
});
export type Service = z.infer<typeof serviceSchema>;

export const endpointSchema = z.object({
  addresses: z.array(z.string()).min(1),
  conditions: z
    .object({ ready: z.boolean().optional(), serving: z.boolean().optional(), terminating: z.boolean().optional() })
    .default({}),
  hostname: z.string().optional(),
  nodeName: z.string().optional(),
  zone: z.string().optional(),
  /** Topology hints: the zones this endpoint should serve (EndpointSlice v1 `hints.forZones`). */
  hints: z.object({ forZones: z.array(z.object({ name: z.string() })).optional() }).optional(),
  targetRef: z.object({ kind: z.string().optional(), name: z.string().optional(), namespace: z.string().optional() }).optional(),
});
export type Endpoint = z.infer<typeof endpointSchema>;

export const endpointSliceSchema = z.object({
  apiVersion: z.literal("discovery.k8s.io/v1"),
  kind: z.literal("EndpointSlice"),
  metadata: objectMetaSchema,
  addressType: z.enum(["IPv4", "IPv6", "FQDN"]).default("IPv4"),
  endpoints: z.array(endpointSchema).nullish().transform((v) => v ?? []),
  ports: z
    .array(z.object({ name: z.string().optional(), port: z.number().int().min(1).max(65535).optional(), protocol: z.string().optional(), appProtocol: z.string().optional() }))
    .nullish()
    .transform((v) => v ?? []),
});
export type EndpointSlice = z.infer<typeof endpointSliceSchema>;

export const secretSchema = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("Secret"),
  metadata: objectMetaSchema,
  type: z.string().default("Opaque"),
  data: stringMap.default({}),
  stringData: stringMap.optional(),
});
export type Secret = z.infer<typeof secretSchema>;

export const configMapSchema = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("ConfigMap"),
  metadata: objectMetaSchema,
  data: stringMap.default({}),
});
export type ConfigMap = z.infer<typeof configMapSchema>;

/** Kinds a source hands to the builder, keyed by `apiVersion/kind`. */
export const knownKinds = {
  "networking.k8s.io/v1/Ingress": ingressSchema,
  "networking.k8s.io/v1/IngressClass": ingressClassSchema,
  "v1/Service": serviceSchema,
  "discovery.k8s.io/v1/EndpointSlice": endpointSliceSchema,
  "v1/Secret": secretSchema,
  "v1/ConfigMap": configMapSchema,
} as const;
