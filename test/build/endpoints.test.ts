// buildBalancerMembers and the endpoint table version from per-balancer texts, checked against the
// full build on every golden fixture: the fast lane must never disagree with buildSnapshot.
import { describe, expect, it } from "vitest";
import { balancerMembersText, buildBalancerMembers, buildSnapshot, endpointTableVersion, hasEndpointProblem } from "../../src/build/index.js";
import { parseManifestText, toClusterView } from "../../src/files/index.js";
import { defaultBalancerSettings, defaultBuildSettings, emptyBuildMemory, type ClusterView } from "../../src/model/index.js";
import { endpointSlicesYaml, serviceYaml } from "../support/manifests.js";
import { goldenCases, loadFixture, memoryFor, settingsFor } from "./golden.js";

function view(text: string): ClusterView {
  const parsed = parseManifestText(text, "test.yaml");
  if (!parsed.ok) throw new Error(parsed.error);
  return toClusterView(parsed.objects).view;
}

describe("buildBalancerMembers", () => {
  it.each(goldenCases())("agrees with the full build: $name", ({ id }) => {
    const settings = settingsFor(id);
    const { view: v } = loadFixture(`${id}.in.yaml`);
    const result = buildSnapshot(v, memoryFor(id), settings);
    const { routes, endpoints } = result.snapshot;
    expect(endpointTableVersion(endpoints.balancers.map(balancerMembersText))).toBe(endpoints.version);
    for (const config of routes.balancers) {
      const members = buildBalancerMembers(v, [config], settings);
      const expected = endpoints.balancers.find((b) => b.balancer === config.id);
      if (members === null) {
        // Only a balancer with a diagnostic (a backend problem) is left to the full build.
        expect(result.diagnostics.some((d) => d.message.includes(config.service))).toBe(true);
      } else {
        expect(members).toEqual([expected]);
      }
    }
  });

  const cases: Array<{ name: string; text: string; id: string; service: string; expected: "null" | number }> = [
    { name: "members of a Service port", text: serviceYaml("ns", "s", 80) + "---\n" + endpointSlicesYaml("ns", "s", [{ ip: "10.0.0.2", port: 8080, pod: "p2" }, { ip: "10.0.0.1", port: 8080, pod: "p1" }]), id: "ns/s:80", service: "ns/s", expected: 2 },
    { name: "no slices: no members, no problem", text: serviceYaml("ns", "s", 80), id: "ns/s:80", service: "ns/s", expected: 0 },
    { name: "slices without the port name: left to the full build (diagnostic)", text: serviceYaml("ns", "s", 80) + "---\n" + endpointSlicesYaml("ns", "s", [{ ip: "10.0.0.1", port: 8080, pod: "p1" }], "grpc"), id: "ns/s:80", service: "ns/s", expected: "null" },
    { name: "the Service is gone: left to the full build", text: "", id: "ns/s:80", service: "ns/s", expected: "null" },
    {
      name: "two Service ports with one number (TCP and UDP): left to the full build",
      text: `apiVersion: v1\nkind: Service\nmetadata: { name: s, namespace: ns }\nspec:\n  ports: [{ name: dns, port: 53, protocol: UDP }, { name: dns-tcp, port: 53, protocol: TCP }]\n`,
      id: "ns/s:53",
      service: "ns/s",
      expected: "null",
    },
  ];
  it.each(cases)("$name", ({ text, id, service, expected }) => {
    const hostHeader = id.endsWith(":80") ? "s.ns.svc.cluster.local" : "s.ns.svc.cluster.local:53";
    const members = buildBalancerMembers(view(text === "" ? "{}" : text), [{ id, service, hostHeader, ...defaultBalancerSettings }], defaultBuildSettings);
    if (expected === "null") expect(members).toBeNull();
    else expect(members?.[0]?.members).toHaveLength(expected);
  });
});

describe("hasEndpointProblem", () => {
  it("finds the slice-dependent diagnostic of a named Service only", () => {
    const text = serviceYaml("ns", "s", 80) + "---\n" + endpointSlicesYaml("ns", "s", [{ ip: "10.0.0.1", port: 8080, pod: "p1" }], "grpc") + `---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: i, namespace: ns }
spec:
  ingressClassName: proxypass
  rules: [{ host: a.test, http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: s, port: { number: 80 } } } }] } }]
`;
    const { diagnostics } = buildSnapshot(view(text), emptyBuildMemory, defaultBuildSettings);
    expect(hasEndpointProblem(diagnostics, ["ns/s"])).toBe(true);
    expect(hasEndpointProblem(diagnostics, ["ns/other", "ns/s2"])).toBe(false);
  });
});
