import { describe, expect, it } from "vitest";
import { EndpointLedger } from "../../src/control/endpoint-ledger.js";
import { balancerMembersText, buildSnapshot, cachedMembersBytes, endpointTableVersion } from "../../src/build/index.js";
import { parseManifestText, toClusterView } from "../../src/files/index.js";
import { defaultBuildSettings, emptyBuildMemory } from "../../src/model/index.js";
import type { BalancerMembers, ClusterView, Member } from "../../src/model/index.js";

const member: Member = { key: "10.0.0.1:80", address: "10.0.0.1", port: 80, route: "p1", zone: null, ready: true, standby: false, lbset: 0 };
const table = (members: ReadonlyArray<Member>): { version: string; balancers: BalancerMembers[] } => {
  const balancers = [{ balancer: "ns/s:80", members }];
  return { version: endpointTableVersion(balancers.map(balancerMembersText)), balancers };
};

describe("EndpointLedger", () => {
  it.each([
    { name: "a member turning standby is a change", next: { ...member, standby: true } },
    { name: "a member moving to lbset 1 is a change", next: { ...member, lbset: 1 } },
  ])("$name", ({ next }) => {
    const ledger = new EndpointLedger();
    ledger.reset(table([member]));
    const delta = ledger.apply([{ balancer: "ns/s:80", members: [next] }]);
    expect(delta?.version).toBe(table([next]).version);
  });

  it("equal members are no change", () => {
    const ledger = new EndpointLedger();
    ledger.reset(table([member]));
    expect(ledger.apply([{ balancer: "ns/s:80", members: [{ ...member }] }])).toBeNull();
  });

  it("shares the build's bytes of unchanged entries and keeps the full build's version after a delta", () => {
    const text = `
apiVersion: v1
kind: Service
metadata: { namespace: ns, name: s }
spec: { ports: [{ name: http, port: 80 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { namespace: ns, name: s-1, labels: { kubernetes.io/service-name: s } }
addressType: IPv4
ports: [{ name: http, port: 8080 }]
endpoints: [{ addresses: [10.0.0.1], conditions: { ready: true } }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { namespace: ns, name: i }
spec:
  ingressClassName: proxypass
  rules: [{ host: a.test, http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: s, port: { number: 80 } } } }] } }]
`;
    const parsed = parseManifestText(text, "t.yaml");
    if (!parsed.ok) throw new Error(parsed.error);
    const view: ClusterView = toClusterView(parsed.objects).view;
    const result = buildSnapshot(view, emptyBuildMemory, defaultBuildSettings);
    const entry = result.snapshot.endpoints.balancers[0] as BalancerMembers;
    expect(cachedMembersBytes(result.memory, entry)).toBeDefined();
    expect(cachedMembersBytes(result.memory, { ...entry })).toBeUndefined();
    const ledger = new EndpointLedger();
    let asked = 0;
    ledger.reset(result.snapshot.endpoints, (b) => {
      asked++;
      return cachedMembersBytes(result.memory, b);
    });
    expect(asked).toBe(1);
    const next = [{ ...member, key: "10.0.0.2:8080", address: "10.0.0.2", port: 8080, route: "a" }];
    const delta = ledger.apply([{ balancer: entry.balancer, members: next }]);
    expect(delta?.version).toBe(endpointTableVersion([balancerMembersText({ balancer: entry.balancer, members: next })]));
  });
});
