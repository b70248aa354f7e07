import { describe, expect, it } from "vitest";
import { buildSnapshot } from "../../src/build/index.js";
import { defaultBuildSettings, type ClusterView } from "../../src/model/index.js";
import { deepFreeze } from "../../src/util/index.js";
import { goldenCases, loadFixture, memoryFor, renderResult } from "./golden.js";

const cases = goldenCases();

/** A deterministic permutation (reverse, then odd indexes first) of every list in the view. */
function scramble(view: ClusterView): ClusterView {
  const mix = <T>(list: ReadonlyArray<T>): T[] => {
    const reversed = [...list].reverse();
    return [...reversed.filter((_, i) => i % 2 === 1), ...reversed.filter((_, i) => i % 2 === 0)];
  };
  return {
    ingresses: mix(view.ingresses),
    ingressClasses: mix(view.ingressClasses),
    services: mix(view.services),
    endpointSlices: mix(view.endpointSlices),
    secrets: mix(view.secrets),
    configMaps: mix(view.configMaps),
  };
}

describe("buildSnapshot properties", () => {
  it.each(cases)("does not mutate its (deep-frozen) input and repeats byte-identically: $id", ({ id }) => {
    const { view } = loadFixture(`${id}.in.yaml`);
    const memory = memoryFor(id);
    const before = JSON.stringify({ view, memory: [...memory] });
    deepFreeze(view);
    const first = buildSnapshot(view, memory, defaultBuildSettings);
    const second = buildSnapshot(view, memory, defaultBuildSettings);
    expect(JSON.stringify({ view, memory: [...memory] })).toBe(before);
    expect(renderResult(deepFreeze(second))).toBe(renderResult(first));
  });

  it.each(cases)("gives the same output for any input order: $id", ({ id }) => {
    const { view } = loadFixture(`${id}.in.yaml`);
    const memory = memoryFor(id);
    const expected = renderResult(buildSnapshot(view, memory, defaultBuildSettings));
    expect(renderResult(buildSnapshot(scramble(view), memory, defaultBuildSettings))).toBe(expected);
  });

  it("survives structured cloning (the IPC path to workers) unchanged", () => {
    const { view } = loadFixture("annotation-headers.in.yaml");
    const { snapshot } = buildSnapshot(view, new Map(), defaultBuildSettings);
    expect(structuredClone(deepFreeze(snapshot))).toEqual(snapshot);
  });

  it("versions: routes change with routes only, endpoints with endpoints only", () => {
    const { view } = loadFixture("host-exact.in.yaml");
    const base = buildSnapshot(view, new Map(), defaultBuildSettings).snapshot;
    const slices = view.endpointSlices.map((s) => ({ ...s, endpoints: s.endpoints.slice(0, 1) }));
    const fewer = buildSnapshot({ ...view, endpointSlices: slices }, new Map(), defaultBuildSettings).snapshot;
    expect(fewer.routes.version).toBe(base.routes.version);
    expect(fewer.endpoints.version).not.toBe(base.endpoints.version);
    expect(fewer.version).not.toBe(base.version);
    const renamed = view.ingresses.map((i) => ({ ...i, spec: { ...i.spec, rules: i.spec.rules.map((r) => ({ ...r, host: "other.example.com" })) } }));
    const moved = buildSnapshot({ ...view, ingresses: renamed }, new Map(), defaultBuildSettings).snapshot;
    expect(moved.routes.version).not.toBe(base.routes.version);
    expect(moved.endpoints.version).toBe(base.endpoints.version);
  });

  it("uses the settings: class name, controller name and cluster domain", () => {
    const { view } = loadFixture("class-ingressclass-ours.in.yaml");
    const other = { ingressClass: "proxypass", controllerName: "example.com/other", clusterDomain: "corp.internal" };
    expect(buildSnapshot(view, new Map(), other).accepted).toEqual([]);
    const renamedClass = { ...defaultBuildSettings, ingressClass: "edge" };
    expect(buildSnapshot(view, new Map(), renamedClass).accepted).toEqual([]);
    const domain = buildSnapshot(view, new Map(), { ...defaultBuildSettings, clusterDomain: "corp.internal" });
    expect(domain.snapshot.routes.balancers.map((b) => b.hostHeader)).toEqual(["web.default.svc.corp.internal"]);
  });

  it("memory: a valid new version replaces the remembered one", () => {
    const before = loadFixture("annotation-invalid-with-memory.before.yaml").view;
    const memory = buildSnapshot(before, new Map(), defaultBuildSettings).memory;
    const { view } = loadFixture("host-exact.in.yaml");
    const result = buildSnapshot(view, memory, defaultBuildSettings);
    expect([...result.memory.keys()]).toEqual(["default/exact"]);
    expect(result.memory.get("default/exact")).toBe(view.ingresses[0]);
  });
});
