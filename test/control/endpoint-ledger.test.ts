import { describe, expect, it } from "vitest";
import { EndpointLedger } from "../../src/control/endpoint-ledger.js";
import { balancerMembersText, endpointTableVersion } from "../../src/build/index.js";
import type { BalancerMembers, Member } from "../../src/model/index.js";

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
});
