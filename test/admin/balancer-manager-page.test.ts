// The page escapes everything it prints and works without JavaScript (plain POST forms).
import { describe, expect, it } from "vitest";
import { renderBalancerManager } from "../../src/admin/index.js";
import type { BalancerView } from "../../src/model/index.js";
import { balancerConfig } from "../dataplane/helpers.js";

const evil = '<img src=x onerror="alert(1)">';
const view: BalancerView = {
  id: "ns/web:80",
  config: { ...balancerConfig("ns/web:80"), settingsFrom: `ns/${evil}` },
  lbmethod: "byrequests",
  lbmethodOverridden: false,
  routes: [{ ingress: `ns/${evil}`, host: "a.test", path: `/${evil}`, pathType: "Prefix" }],
  canaries: [],
  members: [
    { key: "10.0.0.1:80", address: "10.0.0.1", port: 80, route: `pod-${evil}`, zone: evil, ready: false, standby: false, lbset: 0, snapshotLbset: 0, loadfactor: 1, flags: "NE", elected: 3, busy: 1, sent: 2048, read: 10, errors: 1, health: { healthy: false, streak: -1, lastStatus: 500, lastError: evil, lastCheckedAt: 1, checks: 1 } },
  ],
};

describe("renderBalancerManager", () => {
  const html = renderBalancerManager({ balancers: [view], nonce: "n-1", persistence: `file ${evil}`, action: "/balancer-manager" });

  it("escapes every value taken from the cluster", () => {
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
  });

  it("shows state letters plus terminating, and offers to clear E", () => {
    expect(html).toMatch(/data-f="state"[^>]*>NE terminating</);
    expect(html).toContain('name="w_clear" value="E"');
    expect(html).toContain('name="w_status_N" value="0"');
    expect(html).toContain('name="w_status_D" value="1"');
  });

  it("every form is a POST carrying the nonce", () => {
    const forms = html.match(/<form[^>]*>.*?<\/form>/gs) ?? [];
    expect(forms.length).toBe(3);
    for (const f of forms) {
      expect(f).toContain('method="post"');
      expect(f).toContain('name="nonce" value="n-1"');
    }
  });

  it("says when nothing is live yet", () => {
    expect(renderBalancerManager({ balancers: null, nonce: "n", persistence: "memory", action: "/balancer-manager" })).toContain("No configuration is live yet");
  });
});
