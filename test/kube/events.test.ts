// EventRecorder against the stand-in API server over real sockets: one Event per persisting
// diagnostic with a series updated at most once per interval, forgotten when it disappears,
// rate-limited under a storm, and surviving an API outage.
import { KubeConfig } from "@kubernetes/client-node";
import { pino, type Logger } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EventRecorder, truncateNote, type EventRecorderOptions } from "../../src/kube/events.js";
import { isAllowed, rbacRules } from "../../src/kube/rbac.js";
import { emptyClusterView, ingressClassSchema, ingressSchema, type BuildObservation, type ClusterView, type Diagnostic } from "../../src/model/index.js";
import { startKubeApi, type KubeApi, type KubeObject } from "../support/kube-api.js";
import { waitFor } from "../support/wait.js";

const T0 = Date.parse("2025-06-01T12:00:00.000Z");

const web = ingressSchema.parse({
  apiVersion: "networking.k8s.io/v1",
  kind: "Ingress",
  metadata: { name: "web", namespace: "apps", uid: "uid-web" },
  spec: { ingressClassName: "proxypass", rules: [] },
});

const viewWithWeb: ClusterView = { ...emptyClusterView, ingresses: [web] };

const invalidAnnotation: Diagnostic = {
  severity: "error",
  kind: "Ingress",
  object: "apps/web",
  reason: "InvalidAnnotation",
  message: 'annotation proxypass.io/lbmethod: invalid value "fastest": expected one of byrequests, bytraffic, bybusyness, random2',
};

function observation(diagnostics: ReadonlyArray<Diagnostic>, view: ClusterView = viewWithWeb): BuildObservation {
  return { view, diagnostics, accepted: ["apps/web"], snapshotVersion: "v1" };
}

function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

function events(api: KubeApi, namespace = "apps"): KubeObject[] {
  return api.list("Event", namespace);
}

function writes(api: KubeApi, verb: "create" | "patch"): number {
  return api.requests.filter((r) => r.group === "events.k8s.io" && r.resource === "events" && r.verb === verb && r.status < 300 && r.status > 0).length;
}

describe("EventRecorder", () => {
  let api: KubeApi;
  let clock: number;
  const recorders: EventRecorder[] = [];

  beforeEach(async () => {
    api = await startKubeApi();
    clock = T0;
  });

  afterEach(async () => {
    await Promise.all(recorders.splice(0).map((r) => r.close()));
    await api.close();
  });

  function recorder(options: Partial<Omit<EventRecorderOptions, "kubeConfig">> = {}): EventRecorder {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(api.kubeconfig());
    const rec = new EventRecorder({ kubeConfig, logger: pino({ level: "silent" }), identity: "proxypass-0", now: () => clock, retryMs: 50, ...options });
    recorders.push(rec);
    return rec;
  }

  /** Waits until the recorder has nothing queued or in flight and has made `n` successful writes. */
  async function settled(rec: EventRecorder, n: number): Promise<void> {
    await waitFor(() => (rec.writes >= n && rec.pending === 0 ? true : undefined), { what: `${n} Event writes` });
  }

  it("records one Warning Event for a diagnostic observed five times, with every required field", async () => {
    const rec = recorder();
    for (let i = 0; i < 5; i++) rec.observe(observation([invalidAnnotation]));
    await settled(rec, 1);
    const list = events(api);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      type: "Warning",
      reason: "InvalidAnnotation",
      note: invalidAnnotation.message,
      action: "Reconcile",
      reportingController: "proxypass.io/ingress-controller",
      reportingInstance: "proxypass-0",
      eventTime: "2025-06-01T12:00:00.000000Z",
      regarding: { apiVersion: "networking.k8s.io/v1", kind: "Ingress", namespace: "apps", name: "web", uid: "uid-web" },
    });
    expect(list[0]?.metadata.name).toMatch(/^web\./);
    expect(list[0]?.series).toBeUndefined();
    expect(writes(api, "create")).toBe(1);
    expect(writes(api, "patch")).toBe(0);
  });

  it("updates the series at most once per interval while the diagnostic persists", async () => {
    const rec = recorder();
    for (let i = 0; i < 5; i++) rec.observe(observation([invalidAnnotation]));
    await settled(rec, 1);

    clock = T0 + 30_000;
    rec.observe(observation([invalidAnnotation]));
    clock = T0 + 59_999;
    rec.observe(observation([invalidAnnotation]));
    await new Promise((r) => setTimeout(r, 50));
    expect(writes(api, "patch")).toBe(0);

    clock = T0 + 61_000;
    rec.observe(observation([invalidAnnotation]));
    await settled(rec, 2);
    expect(writes(api, "patch")).toBe(1);
    expect(events(api)).toHaveLength(1);
    expect(events(api)[0]?.series).toEqual({ count: 8, lastObservedTime: "2025-06-01T12:01:01.000000Z" });

    clock = T0 + 62_000;
    rec.observe(observation([invalidAnnotation]));
    clock = T0 + 122_000;
    rec.observe(observation([invalidAnnotation]));
    await settled(rec, 3);
    expect(events(api)).toHaveLength(1);
    expect(events(api)[0]?.series).toEqual({ count: 10, lastObservedTime: "2025-06-01T12:02:02.000000Z" });
  });

  it("forgets a diagnostic that disappears (recording Resolved) and reports it afresh when it returns", async () => {
    const rec = recorder();
    rec.observe(observation([invalidAnnotation]));
    await settled(rec, 1);
    clock += 1000;
    rec.observe(observation([]));
    await settled(rec, 2);
    expect(rec.tracked).toBe(0);
    const resolved = events(api).find((e) => e.type === "Normal");
    expect(resolved).toMatchObject({ reason: "Resolved", regarding: { kind: "Ingress", name: "web" } });
    expect(String(resolved?.note)).toContain("InvalidAnnotation");

    clock += 1000;
    rec.observe(observation([invalidAnnotation]));
    await settled(rec, 3);
    const warnings = events(api).filter((e) => e.type === "Warning");
    expect(warnings).toHaveLength(2);
    expect(warnings.every((e) => e.series === undefined)).toBe(true);
  });

  it.each([
    { name: "no Resolved Event when the object is gone", view: emptyClusterView, recordResolved: true },
    { name: "no Resolved Event when disabled", view: viewWithWeb, recordResolved: false },
  ])("$name", async ({ view, recordResolved }) => {
    const rec = recorder({ recordResolved });
    rec.observe(observation([invalidAnnotation]));
    await settled(rec, 1);
    rec.observe(observation([], view));
    await new Promise((r) => setTimeout(r, 50));
    expect(rec.pending).toBe(0);
    expect(events(api)).toHaveLength(1);
  });

  it("records nothing for kind File diagnostics", async () => {
    const rec = recorder();
    const file: Diagnostic = { severity: "error", kind: "File", object: "/etc/manifests/a.yaml", reason: "InvalidFile", message: "a.yaml: bad YAML" };
    rec.observe(observation([file]));
    expect(rec.tracked).toBe(0);
    expect(rec.pending).toBe(0);
    rec.observe(observation([file, invalidAnnotation]));
    await settled(rec, 1);
    expect(api.list("Event")).toHaveLength(1);
    expect(api.list("Event")[0]?.regarding).toMatchObject({ kind: "Ingress" });
  });

  it("puts Events of cluster-scoped objects in the default namespace", async () => {
    const rec = recorder();
    const cls = ingressClassSchema.parse({ apiVersion: "networking.k8s.io/v1", kind: "IngressClass", metadata: { name: "proxypass", uid: "uid-class" }, spec: { controller: "other.io/x" } });
    const foreign: Diagnostic = { severity: "warning", kind: "IngressClass", object: "proxypass", reason: "ForeignController", message: "IngressClass proxypass names another controller" };
    rec.observe(observation([foreign], { ...emptyClusterView, ingressClasses: [cls] }));
    await settled(rec, 1);
    const [event] = events(api, "default");
    expect(event).toMatchObject({ type: "Warning", reason: "ForeignController", regarding: { apiVersion: "networking.k8s.io/v1", kind: "IngressClass", name: "proxypass", uid: "uid-class" } });
    expect(event?.regarding).not.toHaveProperty("namespace");
  });

  it("bounds writes with the token bucket under a storm of 1000 distinct diagnostics and drops beyond the queue with one log line", async () => {
    const { logger, lines } = captureLogger();
    const rec = recorder({ logger, rateLimit: { perSecond: 10, burst: 25 }, queueLimit: 256 });
    const storm: Diagnostic[] = Array.from({ length: 1000 }, (_, i) => ({ ...invalidAnnotation, message: `${invalidAnnotation.message} #${String(i).padStart(4, "0")}` }));
    rec.observe(observation(storm));
    rec.observe(observation(storm));
    await waitFor(() => (rec.writes === 25 ? true : undefined), { what: "the burst" });
    // The clock stands still: no token is added, so nothing more is written.
    await new Promise((r) => setTimeout(r, 300));
    expect(rec.writes).toBe(25);
    expect(writes(api, "create")).toBe(25);
    // The second rebuild refilled the one slot the first write freed; the rest of the storm was dropped.
    expect(rec.pending).toBe(256 - 24);
    expect(lines.filter((l) => l.msg === "Event queue full; dropping Events until it drains")).toHaveLength(1);

    clock += 1000;
    await waitFor(() => (rec.writes === 35 ? true : undefined), { what: "one second of tokens" });
    await new Promise((r) => setTimeout(r, 200));
    expect(rec.writes).toBe(35);
    expect(events(api)).toHaveLength(35);
  });

  it("survives the API server being down, logs once per failure streak, and writes the Event once it is back", async () => {
    const { logger, lines } = captureLogger();
    const rec = recorder({ logger });
    await api.stop();
    rec.observe(observation([invalidAnnotation]));
    await waitFor(() => (lines.some((l) => l.msg?.toString().startsWith("cannot write Events")) ? true : undefined), { what: "the failure log" });
    // Retries keep failing (every 50 ms, doubling) without more warnings.
    await new Promise((r) => setTimeout(r, 300));
    rec.observe(observation([invalidAnnotation]));
    expect(lines.filter((l) => l.level === 40)).toHaveLength(1);
    expect(rec.writes).toBe(0);

    await api.start();
    await settled(rec, 1);
    expect(events(api)).toHaveLength(1);
    expect(lines.some((l) => l.msg === "Event writes succeed again")).toBe(true);
  });

  it("recovers from 5xx answers too", async () => {
    const rec = recorder();
    const restore = api.failRequests((r) => r.resource === "events", 503);
    rec.observe(observation([invalidAnnotation]));
    await waitFor(() => (api.requests.some((r) => r.resource === "events" && r.status === 503) ? true : undefined));
    restore();
    await settled(rec, 1);
    expect(events(api)).toHaveLength(1);
  });

  it("creates a new Event when the one it updates has expired", async () => {
    const rec = recorder();
    rec.observe(observation([invalidAnnotation]));
    await settled(rec, 1);
    const first = events(api)[0]?.metadata.name ?? "";
    api.remove("Event", "apps", first);
    clock += 61_000;
    rec.observe(observation([invalidAnnotation]));
    // The patch finds nothing (404): the recorder queues a create. Poll for that outcome (the
    // write counter already moves with the failed patch).
    const list = await waitFor(() => {
      const now = events(api);
      return now.length === 1 ? now : undefined;
    }, { what: "a new Event" });
    expect(list).toHaveLength(1);
    expect(list[0]?.metadata.name).not.toBe(first);
  });

  it("records nothing while inactive (not leader), and reports afresh once active", async () => {
    let active = false;
    const rec = recorder({ isActive: () => active });
    rec.observe(observation([invalidAnnotation]));
    expect(rec.tracked).toBe(0);
    active = true;
    rec.observe(observation([invalidAnnotation]));
    await settled(rec, 1);
    expect(events(api)).toHaveLength(1);
  });

  it("makes only requests that the RBAC list covers (events.k8s.io events: create, patch)", async () => {
    const rec = recorder();
    rec.observe(observation([invalidAnnotation]));
    await settled(rec, 1);
    clock += 61_000;
    rec.observe(observation([invalidAnnotation]));
    await settled(rec, 2);
    rec.observe(observation([]));
    await settled(rec, 3);
    const used = new Set(api.requests.map((r) => `${r.group ?? "?"}|${r.resource ?? "?"}|${r.verb ?? "?"}`));
    expect([...used].sort()).toEqual(["events.k8s.io|events|create", "events.k8s.io|events|patch"]);
    for (const r of api.requests) expect(isAllowed(rbacRules, r.group ?? "?", r.resource ?? "?", r.verb ?? "?")).toBe(true);
  });

  it("does nothing after close()", async () => {
    const rec = recorder();
    await rec.close();
    rec.observe(observation([invalidAnnotation]));
    expect(rec.pending).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(api.requests.filter((r) => r.resource === "events")).toHaveLength(0);
  });

  it.each([
    { name: "keeps a short note as is", note: "short", want: "short" },
    { name: "cuts a long note to 1 KiB", note: "x".repeat(5000), wantBytes: 1024 },
    { name: "cuts multibyte text on a code point boundary", note: "é".repeat(1000), wantBytes: 1023 },
  ])("$name", ({ note, want, wantBytes }) => {
    const out = truncateNote(note);
    if (want !== undefined) expect(out).toBe(want);
    if (wantBytes !== undefined) {
      expect(Buffer.byteLength(out, "utf8")).toBe(wantBytes);
      expect(out.endsWith("…")).toBe(true);
    }
  });

  it("truncates the note of a huge message when writing", async () => {
    const rec = recorder();
    rec.observe(observation([{ ...invalidAnnotation, message: "m".repeat(4000) }]));
    await settled(rec, 1);
    expect(Buffer.byteLength(String(events(api)[0]?.note), "utf8")).toBeLessThanOrEqual(1024);
  });
});
