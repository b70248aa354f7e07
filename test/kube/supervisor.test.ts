import { describe, expect, it } from "vitest";
import { InformerSupervisor, KubeClosedError, backoffDelay, backoffStep, type ListPage, type StoreEvent } from "../../src/kube/index.js";
import { waitFor } from "../support/wait.js";
import { FakeCollection, captureLogger, listOf, obj, type ListScript } from "./fake-collection.js";

interface Decoded {
  readonly name: string;
}

function harness(opts: { list: ListScript; staleAfterMs?: number; onEvent?: (e: StoreEvent<Decoded>) => void; healthyAfterMs?: number; decode?: (raw: unknown) => Decoded; now?: () => number }) {
  const events: string[] = [];
  const decoded: string[] = [];
  const log = captureLogger();
  const client = new FakeCollection(opts.list);
  const supervisor = new InformerSupervisor<Decoded>({
    resource: "services",
    logger: log.logger,
    client,
    decode:
      opts.decode ??
      ((raw, key) => {
        decoded.push(key);
        return { name: (raw as { metadata: { name: string } }).metadata.name };
      }),
    onEvent:
      opts.onEvent ??
      ((e) => {
        events.push(`${e.type} ${e.key}@${e.resourceVersion}`);
      }),
    backoff: { baseMs: 2, capMs: 8, jitter: 0.5 },
    staleAfterMs: opts.staleAfterMs ?? 60_000,
    healthyAfterMs: opts.healthyAfterMs ?? 60_000,
    rewatchDelayMs: 1,
    ...(opts.now !== undefined ? { now: opts.now } : {}),
  });
  return { supervisor, client, events, decoded, log };
}

/** Resolves once the supervisor opened its n-th watch. */
async function watching(h: ReturnType<typeof harness>, n = 1) {
  await waitFor(() => h.client.watches[n - 1], { what: `watch ${n}` });
  return h.client.watches[n - 1] ?? expect.fail("no watch");
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
  it("applies the initial list, then resolves whenSynced and watches from the list's resourceVersion", async () => {
    const h = harness({ list: async () => listOf([obj("b", "2"), obj("a", "1")], "7") });
    const synced = h.supervisor.whenSynced();
    h.supervisor.start();
    await synced;
    expect(h.supervisor.synced).toBe(true);
    expect(h.events).toEqual(["upsert default/a@1", "upsert default/b@2"]);
    expect(h.supervisor.keys()).toEqual(["default/a", "default/b"]);
    expect((await watching(h)).resourceVersion).toBe("7");
    await h.supervisor.close();
  });

  it("lists page by page (limit/continue) and replaces the store once, with every page", async () => {
    const pages: Record<string, ListPage> = {
      first: listOf([obj("a", "1"), obj("b", "2")], "9", "t1"),
      t1: listOf([obj("c", "3")], "9", "t2"),
      t2: listOf([obj("d", "4")], "9"),
    };
    const h = harness({ list: async (token) => pages[token ?? "first"] ?? expect.fail(`token ${String(token)}`) });
    h.supervisor.start();
    await h.supervisor.whenSynced();
    expect(h.client.lists.map((l) => l.continueToken)).toEqual([undefined, "t1", "t2"]);
    expect(h.events).toEqual(["upsert default/a@1", "upsert default/b@2", "upsert default/c@3", "upsert default/d@4"]);
    expect((await watching(h)).resourceVersion).toBe("9");
    await h.supervisor.close();
  });

  it("an expired continue token (410) lists again from the first page, without a restart", async () => {
    let expire = true;
    const h = harness({
      list: async (token) => {
        if (token === undefined) return listOf([obj("a", expire ? "1" : "3")], expire ? "9" : "10", "t1");
        if (expire) {
          expire = false;
          throw Object.assign(new Error("The provided continue parameter is too old"), { statusCode: 410 });
        }
        return listOf([obj("b", "2")], "10");
      },
    });
    h.supervisor.start();
    await h.supervisor.whenSynced();
    expect(h.client.lists.map((l) => l.continueToken)).toEqual([undefined, "t1", undefined, "t1"]);
    expect(h.events).toEqual(["upsert default/a@3", "upsert default/b@2"]);
    expect(h.supervisor.restarts).toBe(0);
    expect((await watching(h)).resourceVersion).toBe("10");
    await h.supervisor.close();
  });

  it("restarts a fresh loop on error and reconciles the store by relisting", async () => {
    let items = [obj("keep", "1"), obj("gone", "2"), obj("changed", "3")];
    const h = harness({ list: async () => listOf(items) });
    h.supervisor.start();
    await h.supervisor.whenSynced();
    const first = await watching(h);
    h.events.length = 0;
    h.decoded.length = 0;
    items = [obj("keep", "1"), obj("changed", "5"), obj("new", "6")];
    first.fail(Object.assign(new Error("terminated"), { name: "TypeError" }));
    await waitFor(() => (h.client.watches.length === 2 && h.events.length === 3 ? true : undefined), { what: "relist" });
    expect(first.aborted).toBe(true);
    expect(h.events).toEqual(["delete default/gone@2", "upsert default/changed@5", "upsert default/new@6"]);
    // An unchanged object (same resourceVersion) is not decoded again.
    expect(h.decoded).toEqual(["default/changed", "default/new"]);
    expect(h.supervisor.restarts).toBe(1);
    // The old loop's late events are ignored.
    first.add(obj("zombie", "9"));
    expect(h.supervisor.restarts).toBe(1);
    expect(h.supervisor.keys()).toEqual(["default/changed", "default/keep", "default/new"]);
    await h.supervisor.close();
  });

  it("applies watch events and ignores repeats of the same resourceVersion", async () => {
    const h = harness({ list: async () => listOf([obj("a", "1")]) });
    h.supervisor.start();
    await h.supervisor.whenSynced();
    const watch = await watching(h);
    watch.add(obj("a", "1"));
    watch.update(obj("a", "2"));
    watch.add(obj("b", "3"));
    watch.remove(obj("a", "4"));
    watch.remove(obj("a", "4"));
    watch.add({ metadata: {} });
    expect(h.events).toEqual(["upsert default/a@1", "upsert default/a@2", "upsert default/b@3", "delete default/a@4"]);
    await h.supervisor.close();
  });

  const streams: Array<{ name: string; act: (w: import("./fake-collection.js").FakeWatch) => void; lists: number; watchFrom: string; restarts: number }> = [
    { name: "a clean end re-watches from the last event's resourceVersion, without a list", act: (w) => (w.update(obj("a", "5")), w.end()), lists: 1, watchFrom: "5", restarts: 0 },
    { name: "a BOOKMARK moves the resourceVersion on", act: (w) => (w.bookmark("12"), w.end()), lists: 1, watchFrom: "12", restarts: 0 },
    { name: "an ERROR 410 event mid-stream relists (not an error) and watches from the new list", act: (w) => (w.bookmark("3"), w.status(410)), lists: 2, watchFrom: "1", restarts: 0 },
    { name: "a watch failing with HTTP 410 after a bookmark relists", act: (w) => (w.bookmark("3"), w.fail(Object.assign(new Error("Gone"), { statusCode: 410 }))), lists: 2, watchFrom: "1", restarts: 0 },
    { name: "410 at once on the list's own resourceVersion backs off and restarts", act: (w) => w.status(410), lists: 2, watchFrom: "1", restarts: 1 },
    { name: "an ERROR event other than 410 restarts after a backoff", act: (w) => w.status(500), lists: 2, watchFrom: "1", restarts: 1 },
    { name: "an HTTP error answer restarts after a backoff", act: (w) => w.fail(Object.assign(new Error("Service Unavailable"), { statusCode: 503 })), lists: 2, watchFrom: "1", restarts: 1 },
  ];
  it.each(streams)("$name", async ({ act, lists, watchFrom, restarts }) => {
    const h = harness({ list: async () => listOf([obj("a", "1")], "1") });
    h.supervisor.start();
    await h.supervisor.whenSynced();
    act(await watching(h));
    const second = await watching(h, 2);
    expect(second.resourceVersion).toBe(watchFrom);
    expect(h.client.lists.length).toBe(lists);
    expect(h.supervisor.restarts).toBe(restarts);
    expect(h.supervisor.keys()).toEqual(["default/a"]);
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
    (await watching(h)).update(obj("a", "2"));
    expect(h.supervisor.handlerErrors).toBe(2);
    expect(h.supervisor.restarts).toBe(0);
    expect(h.supervisor.resourceVersionOf("default/a")).toBe("2");
    await h.supervisor.close();
  });

  it("catches an exception of decode, counts it and skips the object", async () => {
    const h = harness({
      list: async () => listOf([obj("a", "1"), obj("bad", "2")]),
      decode: (raw) => {
        const name = (raw as { metadata: { name: string } }).metadata.name;
        if (name === "bad") throw new Error("decoder bug");
        return { name };
      },
    });
    h.supervisor.start();
    await h.supervisor.whenSynced();
    expect(h.supervisor.handlerErrors).toBe(1);
    expect(h.supervisor.keys()).toEqual(["default/a"]);
    expect(h.events).toEqual(["upsert default/a@1"]);
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
    expect(h.client.lists.length).toBe(9);
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
    const first = await watching(h);
    await waitFor(() => (h.supervisor.restarts >= 1 && h.client.watches.length >= 2 ? true : undefined), { what: "stale restart", timeoutMs: 3000 });
    expect(first.aborted).toBe(true);
    expect(h.client.lists.length).toBeGreaterThanOrEqual(2);
    expect(h.log.lines.some((l) => typeof l["err"] === "string" && l["err"].includes("silent"))).toBe(true);
    await h.supervisor.close();
  });

  it("rejects whenSynced with KubeClosedError when closed before the first list", async () => {
    const h = harness({ list: () => new Promise(() => undefined) });
    h.supervisor.start();
    const synced = h.supervisor.whenSynced();
    await h.supervisor.close();
    await expect(synced).rejects.toBeInstanceOf(KubeClosedError);
    expect(h.client.lists[0]?.signal.aborted).toBe(true);
  });

  it("a retired loop neither applies its late list nor watches", async () => {
    let release: (page: ListPage) => void = () => undefined;
    let calls = 0;
    let clock = 0;
    const h = harness({
      list: () => {
        calls++;
        if (calls === 1) return new Promise<ListPage>((resolve) => (release = resolve));
        return Promise.resolve(listOf([obj("a", "1")], "5"));
      },
      staleAfterMs: 200,
      now: () => clock,
    });
    h.supervisor.start();
    // The first list hangs: the stale check retires its loop and a fresh one lists.
    clock += 1000;
    await h.supervisor.whenSynced();
    await watching(h);
    expect(h.supervisor.restarts).toBe(1);
    release(listOf([obj("zombie", "9")], "9"));
    await new Promise((r) => setTimeout(r, 20));
    expect(h.supervisor.keys()).toEqual(["default/a"]);
    expect(h.client.watches.map((w) => w.resourceVersion)).toEqual(["5"]);
    await h.supervisor.close();
  });
});
