import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { readNodeZone, type ReadNode } from "../../src/kube/index.js";

const logger = pino({ level: "silent" });

describe("readNodeZone", () => {
  it.each<{ name: string; readNode: ReadNode; zone: string | null }>([
    { name: "the node's topology.kubernetes.io/zone label", readNode: async () => ({ metadata: { labels: { "topology.kubernetes.io/zone": "zone-a" } } }), zone: "zone-a" },
    { name: "a node without the label gives null", readNode: async () => ({ metadata: { labels: {} } }), zone: null },
    { name: "a failed read gives null (warning, not an error)", readNode: async () => Promise.reject(new Error("forbidden")), zone: null },
  ])("$name", async ({ readNode, zone }) => {
    expect(await readNodeZone({ nodeName: "n1", logger, readNode })).toBe(zone);
  });

  it("reads the named node", async () => {
    const names: string[] = [];
    await readNodeZone({ nodeName: "node-7", logger, readNode: async (name) => (names.push(name), {}) });
    expect(names).toEqual(["node-7"]);
  });
});
