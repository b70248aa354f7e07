import { describe, expect, it } from "vitest";
import { buildSnapshot } from "../../src/build/index.js";
import { defaultBuildSettings, emptyBuildMemory, type ClusterView } from "../../src/model/index.js";
import { deepFreeze } from "../../src/util/index.js";
import { goldenCases, loadFixture, memoryFor, renderResult, settingsFor } from "./golden.js";

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
    const before = JSON.stringify({ view, memory: [...memory.ingresses], settings: memory.settings });
    deepFreeze(view);
    const first = buildSnapshot(view, memory, settingsFor(id));
    const second = buildSnapshot(view, memory, settingsFor(id));
    expect(JSON.stringify({ view, memory: [...memory.ingresses], settings: memory.settings })).toBe(before);
    expect(renderResult(deepFreeze(second))).toBe(renderResult(first));
  });

  it.each(cases)("gives the same output for any input order: $id", ({ id }) => {
    const { view } = loadFixture(`${id}.in.yaml`);
    const memory = memoryFor(id);
    const expected = renderResult(buildSnapshot(view, memory, settingsFor(id)));
    expect(renderResult(buildSnapshot(scramble(view), memory, settingsFor(id)))).toBe(expected);
  });

  it("survives structured cloning (the IPC path to workers) unchanged", () => {
    const { view } = loadFixture("annotation-headers.in.yaml");
    const { snapshot } = buildSnapshot(view, emptyBuildMemory, defaultBuildSettings);
    expect(structuredClone(deepFreeze(snapshot))).toEqual(snapshot);
  });

  it("versions: routes change with routes only, endpoints with endpoints only", () => {
    const { view } = loadFixture("host-exact.in.yaml");
    const base = buildSnapshot(view, emptyBuildMemory, defaultBuildSettings).snapshot;
    const slices = view.endpointSlices.map((s) => ({ ...s, endpoints: s.endpoints.slice(0, 1) }));
    const fewer = buildSnapshot({ ...view, endpointSlices: slices }, emptyBuildMemory, defaultBuildSettings).snapshot;
    expect(fewer.routes.version).toBe(base.routes.version);
    expect(fewer.endpoints.version).not.toBe(base.endpoints.version);
    expect(fewer.version).not.toBe(base.version);
    const renamed = view.ingresses.map((i) => ({ ...i, spec: { ...i.spec, rules: i.spec.rules.map((r) => ({ ...r, host: "other.example.com" })) } }));
    const moved = buildSnapshot({ ...view, ingresses: renamed }, emptyBuildMemory, defaultBuildSettings).snapshot;
    expect(moved.routes.version).not.toBe(base.routes.version);
    expect(moved.endpoints.version).toBe(base.endpoints.version);
  });

  it("uses the settings: class name, controller name and cluster domain", () => {
    const { view } = loadFixture("class-ingressclass-ours.in.yaml");
    const other = { ingressClass: "proxypass", controllerName: "example.com/other", clusterDomain: "corp.internal", configMap: null, zone: null };
    expect(buildSnapshot(view, emptyBuildMemory, other).accepted).toEqual([]);
    const renamedClass = { ...defaultBuildSettings, ingressClass: "edge" };
    expect(buildSnapshot(view, emptyBuildMemory, renamedClass).accepted).toEqual([]);
    const domain = buildSnapshot(view, emptyBuildMemory, { ...defaultBuildSettings, clusterDomain: "corp.internal" });
    expect(domain.snapshot.routes.balancers.map((b) => b.hostHeader)).toEqual(["web.default.svc.corp.internal"]);
  });

  it("memory: a valid new version replaces the remembered one", () => {
    const before = loadFixture("annotation-invalid-with-memory.before.yaml").view;
    const memory = buildSnapshot(before, emptyBuildMemory, defaultBuildSettings).memory;
    const { view } = loadFixture("host-exact.in.yaml");
    const result = buildSnapshot(view, memory, defaultBuildSettings);
    expect([...result.memory.ingresses.keys()]).toEqual(["default/exact"]);
    expect(result.memory.ingresses.get("default/exact")).toBe(view.ingresses[0]);
  });
});
