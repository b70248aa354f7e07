// File-mode persistence through the controller binary: an edit made on the page survives a
// restart with --state-file; a broken state file is reported and the controller starts clean.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../support/controller.js";
import { waitFor } from "../support/wait.js";
import { BALANCER, adminJson, hits, post, startCluster, startServing, stop, type Cluster } from "./controller-fixture.js";

let cluster: Cluster;
let stateDir: string;
let ctl: RunningController | null = null;

beforeAll(async () => {
  cluster = await startCluster();
  stateDir = await mkdtemp(join(tmpdir(), "ppi-statefile-"));
});
afterAll(async () => {
  await stop(ctl);
  await cluster.close();
  await rm(stateDir, { recursive: true, force: true });
});

describe("--state-file", () => {
  it("keeps balancer-manager edits across a restart of the controller", async () => {
    const path = join(stateDir, "state.json");
    ctl = await startServing(cluster, ["--state-file", path]);
    const { nonce } = await adminJson(ctl);
    expect((await post(ctl, { nonce, balancer: BALANCER, member: cluster.key("web-a"), set: "D" })).status).toBe(200);
    expect((await post(ctl, { nonce, balancer: BALANCER, member: cluster.key("web-b"), loadfactor: 30 })).status).toBe(200);
    expect((await post(ctl, { nonce, balancer: BALANCER, lbmethod: "bybusyness" })).status).toBe(200);
    expect(new Set(await hits(ctl, 6))).toEqual(new Set(["web-b"]));
    expect(JSON.parse(await readFile(path, "utf8"))).toMatchObject({ balancers: { [BALANCER]: { lbmethod: "bybusyness", members: { [cluster.key("web-a")]: { flags: "D" } } } } });
    await stop(ctl);

    ctl = await startServing(cluster, ["--state-file", path]);
    const after = await adminJson(ctl);
    expect(after.nonce).not.toBe(nonce); // a new process, a new nonce
    const b = after.balancers.find((x) => x.id === BALANCER);
    expect(b?.lbmethod).toBe("bybusyness");
    expect(b?.members.map((m) => [m.route, m.flags, m.loadfactor])).toEqual([
      ["web-a", "D", 1],
      ["web-b", "", 30],
    ]);
    expect(new Set(await hits(ctl, 6))).toEqual(new Set(["web-b"]));
    // The old nonce is refused by the new process.
    expect((await post(ctl, { nonce, balancer: BALANCER, member: cluster.key("web-a"), clear: "D" })).status).toBe(403);
    await stop(ctl);
    ctl = null;
  }, 60_000);

  it("an invalid state file is logged clearly and the controller starts with no overrides", async () => {
    const path = join(stateDir, "broken.json");
    await writeFile(path, '{"balancers": {"x": {"members": {"m": {"loadfactor": 0}}}}}');
    ctl = await startServing(cluster, ["--state-file", path]);
    await waitFor(() => (ctl?.output().includes("invalid balancer-manager state file") ? true : undefined), { what: "error line" });
    expect(ctl.output()).toMatch(/balancers\.x\.members\.m\.loadfactor/);
    const b = (await adminJson(ctl)).balancers.find((x) => x.id === BALANCER);
    expect(b?.members.map((m) => m.flags)).toEqual(["", ""]);
    await stop(ctl);
    ctl = null;
  }, 60_000);
});
