// The admin pages are valid HTML (html-validate, its recommended rules for documents), with values
// that need escaping in every field, so a page that renders well in one browser is not broken in
// another and the forms work without JavaScript.
import { HtmlValidate } from "html-validate";
import { describe, expect, it } from "vitest";
import { ServerStatus, renderBalancerManager, type ServerStatusSource } from "../../src/admin/index.js";
import type { BalancerView, WorkerStatusView } from "../../src/model/index.js";
import { balancerConfig } from "../dataplane/helpers.js";

const evil = '<img src=x onerror="alert(1)"> & "quotes"';

const view: BalancerView = {
  id: "ns/web:80",
  config: { ...balancerConfig("ns/web:80"), settingsFrom: `ns/${evil}`, sticky: { cookie: "ROUTEID", param: null, noFailover: false } },
  lbmethod: "byrequests",
  lbmethodOverridden: true,
  routes: [{ ingress: `ns/${evil}`, host: "a.test", path: `/${evil}`, pathType: "Prefix" }],
  canaries: [],
  members: [
    { key: "10.0.0.1:80", address: "10.0.0.1", port: 80, route: `pod-${evil}`, zone: evil, ready: false, standby: false, lbset: 0, snapshotLbset: 0, loadfactor: 1, flags: "NE", elected: 3, busy: 1, sent: 2048, read: 10, errors: 1, health: { healthy: false, streak: -1, lastStatus: 500, lastError: evil, lastCheckedAt: 1, checks: 1 } },
    { key: "[fd00::1]:80", address: "fd00::1", port: 80, route: "pod-b", zone: null, ready: true, standby: true, lbset: 1, snapshotLbset: 0, loadfactor: 70, flags: "", elected: 0, busy: 0, sent: 0, read: 0, errors: 0, health: null },
  ],
};

function worker(id: number): WorkerStatusView {
  return { id, running: id === 0, accesses: 10, bytesOut: 2048, bytesIn: 100, durationMs: 30, busy: 1, connections: 2, generation: 4, lastSwapAt: 1_000, startedAt: 500 };
}

const source: ServerStatusSource = { workers: () => [worker(0), worker(1)], balancers: () => [view], snapshot: () => null };

const validator = new HtmlValidate({ extends: ["html-validate:document"] });

async function problems(html: string): Promise<string[]> {
  const report = await validator.validateString(html);
  return report.results.flatMap((r) => r.messages.map((m) => `${m.ruleId} line ${m.line}: ${m.message}`));
}

describe("admin pages are valid HTML", () => {
  it("the validator does flag a broken page (the checks below can fail)", async () => {
    const broken = "<!doctype html><html lang=en><head><title>x</title></head><body><form><input name=a></form><p id=x></p><p id=x></p></body></html>";
    expect((await problems(broken)).length).toBeGreaterThan(0);
  });

  it("balancer-manager", async () => {
    const html = renderBalancerManager({ balancers: [view], nonce: "n-1", persistence: `file ${evil}`, action: "/balancer-manager" });
    expect(await problems(html)).toEqual([]);
  });

  it("balancer-manager without balancers", async () => {
    expect(await problems(renderBalancerManager({ balancers: [], nonce: "n-1", persistence: "memory", action: "/balancer-manager" }))).toEqual([]);
  });

  it("server-status, with and without refresh", async () => {
    const status = new ServerStatus({ source, startedAt: Date.UTC(2026, 0, 1), version: "proxypass-ingress/0.1.0", now: () => Date.UTC(2026, 0, 1, 0, 1), cpuUsage: () => ({ user: 1, system: 1 }) });
    expect(await problems(status.renderHtml(null))).toEqual([]);
    expect(await problems(status.renderHtml(5))).toEqual([]);
  });
});
