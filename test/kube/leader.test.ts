import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { LeaderElectionConfigError, LeaderElector, loadKubeConfig, resolveControllerInstance, type LeaderElectorOptions } from "../../src/kube/index.js";
import { startKubeApi, type KubeApi } from "../support/kube-api.js";
import { waitFor } from "../support/wait.js";

const silent = pino({ level: process.env["PPI_TEST_LOG"] ?? "silent" });
/**
 * Short timings: lease 2 s (the Lease field is whole seconds), renew deadline 1.2 s, retry 100 ms.
 * Shorter deadlines make a busy test machine (2 CPUs, several suites) lose leadership spuriously.
 */
const timings = { leaseDurationMs: 2000, renewDeadlineMs: 1200, retryPeriodMs: 100 } as const;

let api: KubeApi | null = null;
let electors: LeaderElector[] = [];
let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(electors.map((e) => e.stop()));
  await api?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  api = null;
  electors = [];
  dirs = [];
});

async function standIn(): Promise<KubeApi> {
  api = await startKubeApi();
  return api;
}

function elector(a: KubeApi, id: string, options: Partial<Omit<LeaderElectorOptions, "kubeConfig" | "logger" | "instance">> = {}): LeaderElector {
  const dir = mkdtempSync(join(tmpdir(), "ppi-leader-"));
  dirs.push(dir);
  const path = join(dir, "kubeconfig");
  const { kubeConfig } = loadKubeConfig({ kubeconfigFlag: writeSync(path, a.kubeconfig()), env: {} });
  const instance = resolveControllerInstance({ env: { POD_NAME: id, POD_NAMESPACE: "ingress" } });
  const e = new LeaderElector({ kubeConfig, logger: silent, instance, ...timings, ...options });
  electors.push(e);
  return e;
}

function writeSync(path: string, text: string): string {
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  leaseTransitions?: number;
  renewTime?: string;
  acquireTime?: string;
}

function leaseSpec(a: KubeApi, name = "proxypass-ingress-leader"): LeaseSpec | undefined {
  const lease = a.get("Lease", "ingress", name);
  return lease?.spec as LeaseSpec | undefined;
}

function leaders(list: readonly LeaderElector[]): LeaderElector[] {
  return list.filter((e) => e.isLeader);
}

/** Polls until exactly one of `list` leads, failing at once if two ever do. */
async function oneLeader(list: readonly LeaderElector[], timeoutMs = 3000): Promise<LeaderElector> {
  return waitFor(
    () => {
      const now = leaders(list);
      if (now.length > 1) throw new Error(`two leaders: ${now.map((e) => e.identity).join(", ")}`);
      return now[0];
    },
    { timeoutMs, intervalMs: 5, what: "one leader" },
  );
}

describe("resolveControllerInstance", () => {
  it.each([
    { name: "POD_NAME and POD_NAMESPACE give namespace/pod", env: { POD_NAME: "ppi-0", POD_NAMESPACE: "ingress" }, namespace: undefined, identity: "ingress/ppi-0", ns: "ingress" },
    { name: "POD_NAME alone uses the namespace option", env: { POD_NAME: "ppi-0" }, namespace: "system", identity: "ppi-0", ns: "system" },
    { name: "nothing set: hostname plus suffix, namespace default", env: {}, namespace: undefined, identity: "host-a_abcd1234", ns: "default" },
    { name: "empty variables count as unset", env: { POD_NAME: "", POD_NAMESPACE: "" }, namespace: "", identity: "host-a_abcd1234", ns: "default" },
  ])("$name", ({ env, namespace, identity, ns }) => {
    const got = resolveControllerInstance({ env, namespace, hostname: "host-a", randomSuffix: () => "abcd1234" });
    expect(got.identity).toBe(identity);
    expect(got.namespace).toBe(ns);
  });

  it("two instances on one host get distinct identities", () => {
    const a = resolveControllerInstance({ env: {}, hostname: "same-host" });
    const b = resolveControllerInstance({ env: {}, hostname: "same-host" });
    expect(a.identity).not.toBe(b.identity);
    expect(a.identity.startsWith("same-host_")).toBe(true);
  });
});

describe("LeaderElector against the stand-in API server", () => {
  it("rejects timings where the renew deadline is not below the lease duration", async () => {
    const a = await standIn();
    expect(() => elector(a, "x", { leaseDurationMs: 1000, renewDeadlineMs: 1000 })).toThrow(LeaderElectionConfigError);
    expect(() => elector(a, "y", { renewDeadlineMs: 500, retryPeriodMs: 500 })).toThrow(LeaderElectionConfigError);
  });

  it("two electors: exactly one leads, holds the Lease with MicroTime stamps and keeps renewing it", async () => {
    const a = await standIn();
    const list = [elector(a, "ppi-a"), elector(a, "ppi-b")];
    const started: string[] = [];
    for (const e of list) e.onStartedLeading(() => started.push(e.identity));
    for (const e of list) e.start();
    const leader = await oneLeader(list);
    expect(started).toEqual([leader.identity]);
    const spec = leaseSpec(a);
    expect(spec?.holderIdentity).toBe(leader.identity);
    expect(spec?.leaseDurationSeconds).toBe(2);
    expect(spec?.leaseTransitions).toBe(0);
    expect(spec?.renewTime).toMatch(/\.\d{6}Z$/);
    const firstRenew = spec?.renewTime;
    // Stays stable over several lease durations: renewals, no second leader, no change of holder.
    const until = Date.now() + 2 * timings.leaseDurationMs + 500;
    while (Date.now() < until) {
      expect(leaders(list).map((e) => e.identity)).toEqual([leader.identity]);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(leaseSpec(a)?.holderIdentity).toBe(leader.identity);
    expect(leaseSpec(a)?.renewTime).not.toBe(firstRenew);
    expect(started).toEqual([leader.identity]);
  });

  it("stop() releases the Lease: the other takes over within one lease duration", async () => {
    const a = await standIn();
    const list = [elector(a, "ppi-a"), elector(a, "ppi-b")];
    for (const e of list) e.start();
    const leader = await oneLeader(list);
    const other = list.find((e) => e !== leader);
    if (other === undefined) throw new Error("no follower");
    let stopped = 0;
    leader.onStoppedLeading(() => stopped++);
    const t0 = Date.now();
    await leader.stop();
    expect(leader.isLeader).toBe(false);
    expect(stopped).toBe(1);
    await waitFor(() => (other.isLeader ? true : undefined), { timeoutMs: timings.leaseDurationMs, intervalMs: 5, what: "takeover" });
    expect(Date.now() - t0).toBeLessThan(timings.leaseDurationMs);
    expect(leaseSpec(a)?.holderIdentity).toBe(other.identity);
    expect(leaseSpec(a)?.leaseTransitions).toBe(1);
  });

  it("a leader that dies without releasing is replaced once the lease expires", async () => {
    const a = await standIn();
    const first = elector(a, "ppi-a");
    first.start();
    await oneLeader([first]);
    const second = elector(a, "ppi-b");
    second.start();
    await waitFor(() => (a.requests.some((r) => r.resource === "leases" && r.verb === "get" && r.status === 200) ? true : undefined), { what: "second read" });
    const t0 = Date.now();
    await first.stop({ release: false });
    expect(leaseSpec(a)?.holderIdentity).toBe(first.identity);
    await waitFor(() => (second.isLeader ? true : undefined), { timeoutMs: 2 * timings.leaseDurationMs, intervalMs: 5, what: "takeover after expiry" });
    const took = Date.now() - t0;
    // Not before the lease expired, and within one lease duration plus a few retry periods.
    expect(took).toBeGreaterThanOrEqual(timings.leaseDurationMs - timings.retryPeriodMs);
    expect(took).toBeLessThan(timings.leaseDurationMs + 5 * timings.retryPeriodMs);
    expect(leaseSpec(a)?.leaseTransitions).toBe(1);
  });

  it("many electors started at once (create races answered 409): never two leaders", async () => {
    const a = await standIn();
    const list = ["a", "b", "c", "d", "e"].map((id) => elector(a, `ppi-${id}`));
    for (const e of list) e.start();
    const leader = await oneLeader(list);
    const until = Date.now() + timings.leaseDurationMs;
    while (Date.now() < until) {
      expect(leaders(list).length).toBeLessThanOrEqual(1);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(leaders(list)).toEqual([leader]);
    const creates = a.requests.filter((r) => r.resource === "leases" && r.verb === "create");
    expect(creates.filter((r) => r.status === 201)).toHaveLength(1);
    expect(creates.filter((r) => r.status === 409).length).toBe(creates.length - 1);
  });

  it("a takeover that loses the update race (409 on a stale resourceVersion) does not lead", async () => {
    const a = await standIn();
    const expired = new Date(Date.now() - 60_000).toISOString().replace("Z", "000Z");
    const lease = (holder: string, renewTime: string) => ({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "proxypass-ingress-leader", namespace: "ingress" },
      spec: { holderIdentity: holder, leaseDurationSeconds: 1, renewTime, acquireTime: renewTime, leaseTransitions: 3 },
    });
    a.apply(lease("ghost", expired));
    // Between the elector's read and its update, another instance renews: its update carries a stale resourceVersion.
    let raced = false;
    a.failRequests((r) => {
      if (!raced && r.resource === "leases" && r.verb === "update") {
        raced = true;
        a.apply(lease("ghost", new Date(Date.now() + 5_000).toISOString().replace("Z", "000Z")));
      }
      return false;
    });
    const e = elector(a, "ppi-a");
    e.start();
    await waitFor(() => (a.requests.some((r) => r.resource === "leases" && r.verb === "update" && r.status === 409) ? true : undefined), { what: "409" });
    // Several more retries: it keeps reading a valid lease held by ghost.
    const reads = a.requests.length;
    await waitFor(() => (a.requests.length >= reads + 3 ? true : undefined), { what: "more retries" });
    expect(e.isLeader).toBe(false);
    expect(leaseSpec(a)?.holderIdentity).toBe("ghost");
  });

  it("an API outage while leading: leadership lost after the renew deadline, regained when the API is back", async () => {
    const a = await standIn();
    const e = elector(a, "ppi-a");
    const events: string[] = [];
    e.onStartedLeading(() => events.push("started"));
    e.onStoppedLeading(() => events.push("stopped"));
    e.start();
    await oneLeader([e]);
    await a.stop();
    const t0 = Date.now();
    await waitFor(() => (e.isLeader ? undefined : true), { timeoutMs: 3000, intervalMs: 5, what: "step down" });
    const after = Date.now() - t0;
    // The last renewal happened at most one retry period before the outage.
    expect(after).toBeGreaterThanOrEqual(timings.renewDeadlineMs - timings.retryPeriodMs - 20);
    // And, what makes it safe, before the lease expires for the others.
    expect(after).toBeLessThan(timings.leaseDurationMs);
    expect(events).toEqual(["started", "stopped"]);
    await a.start();
    await waitFor(() => (e.isLeader ? true : undefined), { timeoutMs: 3000, intervalMs: 5, what: "leading again" });
    expect(events).toEqual(["started", "stopped", "started"]);
    // Same holder reacquired its own Lease: no transition.
    expect(leaseSpec(a)?.holderIdentity).toBe(e.identity);
    expect(leaseSpec(a)?.leaseTransitions).toBe(0);
  });

  it("5xx answers during leadership shorter than the renew deadline keep the leader", async () => {
    const a = await standIn();
    const e = elector(a, "ppi-a");
    let stopped = 0;
    e.onStoppedLeading(() => stopped++);
    e.start();
    await oneLeader([e]);
    const release = a.failRequests((r) => r.resource === "leases", 503);
    await waitFor(() => (a.requests.filter((r) => r.resource === "leases" && r.status === 503).length >= 2 ? true : undefined), { what: "failures" });
    release();
    const renewed = a.requests.length;
    await waitFor(() => (a.requests.slice(renewed).some((r) => r.resource === "leases" && r.verb === "update" && r.status === 200) ? true : undefined), { what: "renewed" });
    expect(e.isLeader).toBe(true);
    expect(stopped).toBe(0);
  });

  it("stop() clears its timers: a stopped elector makes no more requests", async () => {
    const a = await standIn();
    const e = elector(a, "ppi-a");
    e.start();
    await oneLeader([e]);
    await e.stop();
    const count = a.requests.length;
    await new Promise((r) => setTimeout(r, 3 * timings.retryPeriodMs));
    expect(a.requests.length).toBe(count);
    expect(leaseSpec(a)?.holderIdentity).toBeUndefined();
  });
});
