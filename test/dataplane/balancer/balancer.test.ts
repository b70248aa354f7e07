import { describe, expect, it } from "vitest";
import { BalancerRegistry, Scoreboard, SlotAllocator } from "../../../src/dataplane/index.js";
import { balancerConfig, endpointTable, member, route, routeTable, vhost } from "../helpers.js";
import { compileRoutes } from "../../../src/dataplane/index.js";

const A = "ns/a:80";

function setup(): { registry: BalancerRegistry; alloc: SlotAllocator; apply: (members: ReturnType<typeof member>[]) => void } {
  const board = Scoreboard.create({ members: 64, balancers: 8 });
  const registry = new BalancerRegistry(board);
  const alloc = new SlotAllocator(board);
  const table = routeTable([vhost("x.test", [route("/", "Prefix", A)])]);
  compileRoutes(table, registry);
  const apply = (members: ReturnType<typeof member>[]): void => {
    const eps = endpointTable({ [A]: members });
    registry.applyEndpoints(eps, alloc.assign(eps));
  };
  return { registry, alloc, apply };
}

describe("Balancer", () => {
  it.each([
    { name: "round robin over ready members", members: [member(1), member(2), member(3)], want: ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:1"] },
    { name: "terminating members are skipped while one is ready", members: [member(1, false), member(2), member(3, false)], want: ["127.0.0.1:2", "127.0.0.1:2"] },
    { name: "terminating members are used when none is ready", members: [member(1, false), member(2, false)], want: ["127.0.0.1:1", "127.0.0.1:2"] },
    { name: "no member: null (503)", members: [], want: [null, null] },
  ])("$name", ({ members, want }) => {
    const { registry, apply } = setup();
    apply(members);
    const b = registry.get(A);
    const got = want.map(() => {
      const m = b?.pick(null, 0) ?? null;
      m?.release();
      return m?.key ?? null;
    });
    expect(got).toEqual(want);
  });

  it("reconciles members by key: kept members keep their object, pool and counters", () => {
    const { registry, apply } = setup();
    apply([member(1), member(2)]);
    const b = registry.get(A);
    const m1 = b?.members.get("127.0.0.1:1");
    const pool = m1?.upstream.pool(1000);
    const picked = b?.pick(null, 0);
    expect(picked?.busy).toBe(1);
    apply([member(1), member(3)]);
    expect(b?.members.get("127.0.0.1:1")).toBe(m1);
    expect(m1?.upstream.pool(1000)).toBe(pool);
    expect(registry.retiringCount).toBe(1); // 127.0.0.1:2 pool closing
    picked?.release();
    expect(m1?.elected).toBe(1);
  });

  it("balancers are reconciled by id across route tables, and retired when no longer referenced", () => {
    const { registry, apply } = setup();
    apply([member(1)]);
    const before = registry.get(A);
    const table = routeTable([vhost("y.test", [route("/y", "Prefix", A)])]);
    compileRoutes(table, registry);
    registry.prune(table);
    expect(registry.get(A)).toBe(before);
    const other = routeTable([vhost("y.test", [route("/y", "Prefix", "ns/other:80")])]);
    compileRoutes(other, registry);
    registry.prune(other);
    expect(registry.get(A)).toBeUndefined();
    expect(registry.get("ns/other:80")?.config).toEqual(balancerConfig("ns/other:80"));
  });
});
