import type { KubernetesListObject, KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { InformerSupervisor, KubeClosedError, backoffDelay, backoffStep, type StoreEvent } from "../../src/kube/index.js";
import { waitFor } from "../support/wait.js";
import { FakeInformer, captureLogger, obj } from "./fake-informer.js";

function listOf(items: KubernetesObject[], rv = "1"): KubernetesListObject<KubernetesObject> {
  return { metadata: { resourceVersion: rv }, items };
}

function harness(opts: { list: () => Promise<KubernetesListObject<KubernetesObject>>; staleAfterMs?: number; onEvent?: (e: StoreEvent) => void; healthyAfterMs?: number }) {
  const informers: FakeInformer[] = [];
  const events: string[] = [];
  const log = captureLogger();
  const supervisor = new InformerSupervisor({
    resource: "services",
    logger: log.logger,
    list: opts.list,
    createInformer: (hooks) => {
      const informer = new FakeInformer(hooks);
      informers.push(informer);
      return informer;
    },
    onEvent:
      opts.onEvent ??
      ((e) => {
        events.push(`${e.type} ${e.key}@${e.object.metadata?.resourceVersion ?? ""}`);
      }),
    backoff: { baseMs: 2, capMs: 8, jitter: 0.5 },
    staleAfterMs: opts.staleAfterMs ?? 60_000,
    healthyAfterMs: opts.healthyAfterMs ?? 60_000,
  });
  return { supervisor, informers, events, log };
}

describe("backoff", () => {
  const options = { baseMs: 200, capMs: 3000, jitter: 0.5 };
  it.each([
    { name: "first retry at base, no jitter drawn", attempt: 0, random: 0, expected: 200 },
    { name: "doubles per attempt", attempt: 2, random: 0, expected: 800 },
    { name: "capped", attempt: 9, random: 0, expected: 3000 },
    { name: "jitter takes off up to half", attempt: 9, random: 0.999999, expected: 1500 },
    { name: "huge attempts stay capped", attempt: 10_000, random: 0, expected: 3000 },
  ])("$name", ({ attempt, random, expected }) => {
    expect(backoffDelay(options, attempt, () => random)).toBe(expected);
  });
  it("attempts past the cap share one step", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((a) => backoffStep(options, a))).toEqual([0, 1, 2, 3, 4, 4, 4, 4]);
  });
});

describe("InformerSupervisor", () => {
  it("applies the initial list, then resolves whenSynced", async () => {
    const h = harness({ list: async () => listOf([obj("b", "2"), obj("a", "1")]) });
    const synced = h.supervisor.whenSynced();
    h.supervisor.start();
    await synced;
    expect(h.supervisor.synced).toBe(true);
    expect(h.events).toEqual(["upsert default/a@1", "upsert default/b@2"]);
    expect(h.supervisor.list().map((o) => o.metadata?.name)).toEqual(["a", "b"]);
    await h.supervisor.close();
  });

  it("restarts a fresh informer on error and reconciles the store by relisting", async () => {
    let items = [obj("keep", "1"), obj("gone", "2"), obj("changed", "3")];
    const h = harness({ list: async () => listOf(items) });
    h.supervisor.start();
    await h.supervisor.whenSynced();
    h.events.length = 0;
    items = [obj("keep", "1"), obj("changed", "5"), obj("new", "6")];
    const first = h.informers[0];
    first?.error(Object.assign(new Error("terminated"), { name: "TypeError" }));
    await waitFor(() => (h.informers.length === 2 && h.events.length === 3 ? true : undefined), { what: "relist" });
    expect(first?.stopped).toBe(true);
    expect(h.informers[1]).not.toBe(first);
    expect(h.events).toEqual(["delete default/gone@2", "upsert default/changed@5", "upsert default/new@6"]);
    expect(h.supervisor.restarts).toBe(1);
    // The old informer's AbortError (from its stop) and late events are ignored.
    first?.error(new Error("late"));
    first?.add(obj("zombie", "9"));
    expect(h.supervisor.restarts).toBe(1);
    expect(h.supervisor.list().map((o) => o.metadata?.name)).toEqual(["changed", "keep", "new"]);
    await h.supervisor.close();
  });

  it("applies watch events and ignores repeats of the same resourceVersion", async () => {
    const h = harness({ list: async () => listOf([obj("a", "1")]) });
    h.supervisor.start();
    await h.supervisor.whenSynced();
    const informer = h.informers[0];
    informer?.add(obj("a", "1"));
    informer?.update(obj("a", "2"));
    informer?.add(obj("b", "3"));
    informer?.remove(obj("a", "4"));
    informer?.remove(obj("a", "4"));
    expect(h.events).toEqual(["upsert default/a@1", "upsert default/a@2", "upsert default/b@3", "delete default/a@4"]);
    await h.supervisor.close();
  });

  it("catches an exception of the event consumer and counts it", async () => {
    const h = harness({
      list: async () => listOf([obj("a", "1")]),
      onEvent: () => {
        throw new Error("consumer bug");
      },
    });
    h.supervisor.start();
    await h.supervisor.whenSynced();
    h.informers[0]?.update(obj("a", "2"));
    expect(h.supervisor.handlerErrors).toBe(2);
    expect(h.supervisor.restarts).toBe(0);
    expect(h.supervisor.list()[0]?.metadata?.resourceVersion).toBe("2");
    await h.supervisor.close();
  });

  it("keeps retrying a failing list with backoff, logging once per backoff step", async () => {
    let calls = 0;
    const h = harness({
      list: async () => {
        calls++;
        if (calls <= 8) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        return listOf([obj("a", "1")]);
      },
    });
    h.supervisor.start();
    await h.supervisor.whenSynced();
    expect(h.supervisor.restarts).toBe(8);
    expect(h.informers.length).toBe(9);
    const warns = h.log.lines.filter((l) => l.level === 40);
    // steps: 2, 4, 8 (cap) ms: three warnings, the other five retries at debug.
    expect(warns.length).toBe(3);
    expect(h.log.lines.filter((l) => l.level === 20 && l.msg.startsWith("watch failed again")).length).toBe(5);
    expect(h.log.lines.filter((l) => l.msg.startsWith("watch recovered")).length).toBe(1);
    await h.supervisor.close();
  });

  it("relists when the watch stays silent longer than its timeout", async () => {
    const h = harness({ list: async () => listOf([obj("a", "1")]), staleAfterMs: 60 });
    h.supervisor.start();
    await h.supervisor.whenSynced();
    await waitFor(() => (h.supervisor.restarts >= 1 && h.informers.length >= 2 ? true : undefined), { what: "stale restart", timeoutMs: 3000 });
    expect(h.log.lines.some((l) => typeof l["err"] === "string" && l["err"].includes("silent"))).toBe(true);
    await h.supervisor.close();
  });

  it("rejects whenSynced with KubeClosedError when closed before the first list", async () => {
    const h = harness({ list: () => new Promise(() => undefined) });
    h.supervisor.start();
    const synced = h.supervisor.whenSynced();
    await h.supervisor.close();
    await expect(synced).rejects.toBeInstanceOf(KubeClosedError);
    expect(h.informers[0]?.stopped).toBe(true);
  });

  it("a retired informer may not list or watch again", async () => {
    const h = harness({ list: async () => listOf([]) });
    h.supervisor.start();
    await h.supervisor.whenSynced();
    const first = h.informers[0];
    first?.error(new Error("boom"));
    expect(first?.hooks.isCurrent()).toBe(false);
    await expect(first?.hooks.list()).rejects.toBeInstanceOf(KubeClosedError);
    await h.supervisor.close();
  });
});
