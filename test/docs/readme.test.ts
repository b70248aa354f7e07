// The README's annotation reference is the builder's own doc table: this test fails when they drift.
// To refresh the README after changing an annotation or ConfigMap key: `npm run docs:tables`.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { serverSettingDocs } from "../../src/build/index.js";
import { renderAnnotationTable, renderServerSettingsTable, renderSettingsTable } from "../../src/build/doc-tables.js";
import { rbacRules } from "../../src/kube/index.js";
import { flagsSchema } from "../../cmd/flags.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README", () => {
  it("documents every ConfigMap key exactly as the builder's settings table says", () => {
    const m = /<!-- settings:begin -->\n([\s\S]*?)\n<!-- settings:end -->/.exec(readme);
    expect(m?.[1], "README needs a settings:begin/end block").toBeDefined();
    expect(m?.[1]).toBe(renderSettingsTable());
  });

  it("documents every server-settings ConfigMap key (logging, limits) exactly as the builder's table says", () => {
    const m = /<!-- server-settings:begin -->\n([\s\S]*?)\n<!-- server-settings:end -->/.exec(readme);
    expect(m?.[1], "README needs a server-settings:begin/end block").toBeDefined();
    expect(m?.[1]).toBe(renderServerSettingsTable());
  });

  it.each(serverSettingDocs.map((d) => d.key))("has a server-settings row for the ConfigMap key %s", (key) => {
    const m = /<!-- server-settings:begin -->\n([\s\S]*?)\n<!-- server-settings:end -->/.exec(readme);
    expect(m?.[1]).toContain(`| \`${key}\` |`);
  });

  it("says why --max-header-size is not a ConfigMap key", () => {
    expect(readme).toMatch(/`--max-header-size` is not a ConfigMap key/);
  });

  it("documents every annotation exactly as the builder's doc table says", () => {
    const m = /<!-- annotations:begin -->\n([\s\S]*?)\n<!-- annotations:end -->/.exec(readme);
    expect(m?.[1], "README needs an annotations:begin/end block").toBeDefined();
    expect(m?.[1]).toBe(renderAnnotationTable());
  });

  it.each(Object.keys(flagsSchema.shape).filter((f) => f !== "help"))("documents the flag --%s", (flag) => {
    expect(readme).toContain(`\`--${flag}`);
  });

  it("gives exactly the two quick-start command lines", () => {
    expect(readme).toContain("```sh\nnpm ci && npm start\n```");
    expect(readme).toContain("```sh\nnpm ci && npm test\n```");
  });
});

describe("README RBAC table", () => {
  it.each(rbacRules.flatMap((r) => r.verbs.map((verb) => ({ group: r.apiGroup, resource: r.resource, verb }))))(
    "lists $verb on $group $resource",
    ({ group, resource, verb }) => {
      const row = readme.split("\n").find((l) => l.startsWith(`| \`${group === "" ? '""' : group}\` | \`${resource}\` |`));
      expect(row, `README RBAC row for ${group}/${resource}`).toBeDefined();
      expect(row?.split("|")[3]).toContain(verb);
    },
  );
});

describe("README and docs: metrics, server-status, dashboard", () => {
  const metricNames = async (): Promise<string[]> => {
    const { createMetrics, CLUSTER_METRIC_NAMES } = await import("../../src/admin/index.js");
    const { WORKER_METRIC_NAMES } = await import("../../src/dataplane/index.js");
    const own = (await createMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name);
    return [...new Set([...own, ...CLUSTER_METRIC_NAMES, ...WORKER_METRIC_NAMES])].sort();
  };

  it("has a metrics table row for every metric the controller and its workers export", async () => {
    for (const name of await metricNames()) expect(readme, name).toContain(`| \`${name}\` |`);
  });

  it("the Grafana dashboard is valid JSON and queries only metrics that exist", async () => {
    const text = readFileSync(new URL("../../deploy/grafana/proxypass-ingress.json", import.meta.url), "utf8");
    const dashboard = JSON.parse(text) as { panels: unknown[]; uid: string };
    expect(dashboard.uid).toBe("proxypass-ingress");
    const names = new Set(await metricNames());
    const used = [...text.matchAll(/proxypass_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ""));
    expect(used.length).toBeGreaterThan(10);
    for (const name of used) expect(names.has(name), name).toBe(true);
  });

  it("docs/observability.md explains every server-status?auto key", async () => {
    const { ServerStatus } = await import("../../src/admin/index.js");
    const doc = readFileSync(new URL("../../docs/observability.md", import.meta.url), "utf8");
    const auto = new ServerStatus({ source: { workers: () => [], balancers: () => [], snapshot: () => null }, startedAt: 0, version: "proxypass-ingress/0.1.0" }).renderAuto();
    const keys = auto
      .split("\n")
      .filter((l) => l.includes(":"))
      .map((l) => l.slice(0, l.indexOf(":")));
    expect(keys.length).toBeGreaterThan(20);
    for (const key of keys) expect(doc, key).toContain(`\`${key}\``);
  });
});
