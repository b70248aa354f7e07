/** Small builders of manifest YAML text for tests (the loader parses them like user files). */
export interface MemberSpec {
  readonly ip: string;
  readonly port: number;
  readonly pod: string;
  readonly ready?: boolean;
}

export function serviceYaml(ns: string, name: string, port: number, portName = "http"): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec:
  ports: [{ name: ${portName}, port: ${port} }]
`;
}

/** An EndpointSlice whose members may listen on different ports: one slice per distinct port. */
export function endpointSlicesYaml(ns: string, service: string, members: ReadonlyArray<MemberSpec>, portName = "http"): string {
  const byPort = new Map<number, MemberSpec[]>();
  for (const m of members) byPort.set(m.port, [...(byPort.get(m.port) ?? []), m]);
  const docs: string[] = [];
  for (const [port, ms] of byPort) {
    docs.push(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${service}-${port}
  namespace: ${ns}
  labels: { kubernetes.io/service-name: ${service} }
addressType: IPv4
ports: [{ name: ${portName}, port: ${port} }]
endpoints:
${ms.map((m) => `  - addresses: ["${m.ip}"]\n    conditions: { ready: ${m.ready ?? true} }\n    targetRef: { kind: Pod, name: ${m.pod} }`).join("\n")}
`);
  }
  return docs.join("---\n");
}

export function ingressYaml(
  ns: string,
  name: string,
  rules: ReadonlyArray<{ host?: string; path: string; pathType?: string; service: string; port: number }>,
  annotations: Record<string, string> = {},
): string {
  const ann = Object.entries(annotations)
    .map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`)
    .join("\n");
  const byHost = new Map<string, typeof rules[number][]>();
  for (const r of rules) byHost.set(r.host ?? "", [...(byHost.get(r.host ?? "") ?? []), r]);
  const ruleText = [...byHost]
    .map(
      ([host, rs]) => `  - ${host ? `host: ${JSON.stringify(host)}\n    ` : ""}http:
      paths:
${rs.map((r) => `        - path: ${r.path}\n          pathType: ${r.pathType ?? "Prefix"}\n          backend: { service: { name: ${r.service}, port: { number: ${r.port} } } }`).join("\n")}`,
    )
    .join("\n");
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
  namespace: ${ns}
${ann ? `  annotations:\n${ann}\n` : ""}spec:
  ingressClassName: proxypass
  rules:
${ruleText}
`;
}
