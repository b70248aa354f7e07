// Objects and helpers for tests of the Kubernetes source against the stand-in API server.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { KubeSource, loadKubeConfig, type KubeSourceOptions } from "../../src/kube/index.js";
import type { KubeApi, KubeObjectInput } from "../support/kube-api.js";

export function ingress(name: string, service: string, opts: { namespace?: string; host?: string; tlsSecret?: string; pathType?: string; annotations?: Record<string, string> } = {}): KubeObjectInput {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name, namespace: opts.namespace ?? "default", ...(opts.annotations !== undefined ? { annotations: opts.annotations } : {}) },
    spec: {
      ingressClassName: "proxypass",
      rules: [{ host: opts.host ?? `${name}.example.com`, http: { paths: [{ path: "/", pathType: opts.pathType ?? "Prefix", backend: { service: { name: service, port: { number: 80 } } } }] } }],
      ...(opts.tlsSecret !== undefined ? { tls: [{ hosts: [opts.host ?? `${name}.example.com`], secretName: opts.tlsSecret }] } : {}),
    },
  };
}

export function service(name: string, opts: { namespace?: string; port?: number } = {}): KubeObjectInput {
  return { apiVersion: "v1", kind: "Service", metadata: { name, namespace: opts.namespace ?? "default" }, spec: { type: "ClusterIP", clusterIP: "10.96.0.10", ports: [{ name: "http", port: opts.port ?? 80, targetPort: 8080 }] } };
}

export function endpointSlice(name: string, serviceName: string, addresses: string[], namespace = "default"): KubeObjectInput {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace, labels: { "kubernetes.io/service-name": serviceName } },
    addressType: "IPv4",
    endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  };
}

export function tlsSecret(name: string, cert = "Y2VydA==", namespace = "default"): KubeObjectInput {
  return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, type: "kubernetes.io/tls", data: { "tls.crt": cert, "tls.key": "a2V5" } };
}

/** A Secret of any type (Opaque by default) with these base64 data values. */
export function secret(name: string, data: Record<string, string>, opts: { namespace?: string; type?: string } = {}): KubeObjectInput {
  return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: opts.namespace ?? "default" }, type: opts.type ?? "Opaque", data };
}

export function ingressClass(name = "proxypass"): KubeObjectInput {
  return { apiVersion: "networking.k8s.io/v1", kind: "IngressClass", metadata: { name }, spec: { controller: "proxypass.io/ingress-controller" } };
}

export interface SourceHarness {
  readonly source: KubeSource;
  /** onChange calls so far. */
  changes(): number;
  close(): Promise<void>;
}

const silent = pino({ level: process.env["PPI_TEST_LOG"] ?? "silent" });

/** A KubeSource against the stand-in, through a kubeconfig file as production loads it. */
export function kubeSource(api: KubeApi, options: Partial<Omit<KubeSourceOptions, "kubeConfig">> = {}): SourceHarness {
  const dir = mkdtempSync(join(tmpdir(), "ppi-kube-"));
  const path = join(dir, "kubeconfig");
  writeFileSync(path, api.kubeconfig(), { mode: 0o600 });
  const { kubeConfig } = loadKubeConfig({ kubeconfigFlag: path, env: {} });
  const source = new KubeSource({ kubeConfig, logger: silent, backoff: { baseMs: 100, capMs: 3000, jitter: 0.5 }, ...options });
  let changes = 0;
  source.onChange(() => {
    changes++;
  });
  return {
    source,
    changes: () => changes,
    close: async () => {
      await source.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

