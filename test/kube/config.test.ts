import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KubeConfigError, loadKubeConfig, resolveKubeConfigOrigin, serviceAccountDir, type KubeConfigInputs } from "../../src/kube/index.js";

const dir = mkdtempSync(join(tmpdir(), "ppi-kubeconfig-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function kubeconfigText(server: string, context = "ctx"): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    `current-context: ${context}`,
    "clusters:",
    `- name: ${context}-cluster`,
    "  cluster:",
    `    server: ${server}`,
    "    insecure-skip-tls-verify: true",
    "contexts:",
    `- name: ${context}`,
    "  context:",
    `    cluster: ${context}-cluster`,
    `    user: ${context}-u`,
    "users:",
    `- name: ${context}-u`,
    "  user:",
    "    token: t",
    "",
  ].join("\n");
}

const flagFile = join(dir, "flag.yaml");
writeFileSync(flagFile, kubeconfigText("http://flag.example:1"));
const envFile = join(dir, "env.yaml");
writeFileSync(envFile, kubeconfigText("http://env.example:2"));
const home = join(dir, "home");
mkdirSync(join(home, ".kube"), { recursive: true });
writeFileSync(join(home, ".kube", "config"), kubeconfigText("http://home.example:3"));
const saPrefix = join(dir, "sa");
mkdirSync(join(saPrefix, serviceAccountDir), { recursive: true });
writeFileSync(join(saPrefix, serviceAccountDir, "token"), "sa-token");
writeFileSync(join(saPrefix, serviceAccountDir, "ca.crt"), "");
writeFileSync(join(saPrefix, serviceAccountDir, "namespace"), "ingress");
const emptyHome = join(dir, "empty-home");
mkdirSync(emptyHome);

const inCluster = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" };

describe("resolveKubeConfigOrigin", () => {
  const cases: Array<{ name: string; inputs: KubeConfigInputs; expected: string; server: string }> = [
    { name: "--kubeconfig wins over everything", inputs: { kubeconfigFlag: flagFile, env: { ...inCluster, KUBECONFIG: envFile }, homeDir: home, serviceAccountPrefix: saPrefix }, expected: "flag", server: "http://flag.example:1" },
    { name: "in-cluster service account before $KUBECONFIG", inputs: { env: { ...inCluster, KUBECONFIG: envFile }, homeDir: home, serviceAccountPrefix: saPrefix }, expected: "in-cluster", server: "https://10.0.0.1:443" },
    { name: "service env without a token file is not in-cluster", inputs: { env: { ...inCluster, KUBECONFIG: envFile }, homeDir: home, serviceAccountPrefix: join(dir, "nowhere") }, expected: "env", server: "http://env.example:2" },
    { name: "$KUBECONFIG before ~/.kube/config", inputs: { env: { KUBECONFIG: envFile }, homeDir: home, serviceAccountPrefix: saPrefix }, expected: "env", server: "http://env.example:2" },
    { name: "~/.kube/config last", inputs: { env: {}, homeDir: home, serviceAccountPrefix: saPrefix }, expected: "home", server: "http://home.example:3" },
    { name: "empty --kubeconfig and empty $KUBECONFIG are absent", inputs: { kubeconfigFlag: "", env: { KUBECONFIG: "" }, homeDir: home, serviceAccountPrefix: saPrefix }, expected: "home", server: "http://home.example:3" },
  ];
  it.each(cases)("$name", ({ inputs, expected, server }) => {
    expect(resolveKubeConfigOrigin(inputs).kind).toBe(expected);
    const { kubeConfig, origin } = loadKubeConfig(inputs);
    expect(origin.kind).toBe(expected);
    expect(kubeConfig.getCurrentCluster()?.server).toBe(server);
  });

  it("merges several $KUBECONFIG files, the first one's context current", () => {
    const { kubeConfig } = loadKubeConfig({ env: { KUBECONFIG: [envFile, join(dir, "second.yaml")].join(":") }, homeDir: emptyHome, serviceAccountPrefix: saPrefix });
    expect(kubeConfig.getCurrentCluster()?.server).toBe("http://env.example:2");
    expect(kubeConfig.getContexts().map((c) => c.name)).toContain("second");
  });
  writeFileSync(join(dir, "second.yaml"), kubeconfigText("http://second.example:4", "second"));

  const failures: Array<{ name: string; inputs: KubeConfigInputs }> = [
    { name: "nothing configured", inputs: { env: {}, homeDir: emptyHome, serviceAccountPrefix: saPrefix } },
    { name: "--kubeconfig file missing", inputs: { kubeconfigFlag: join(dir, "missing.yaml"), env: {}, homeDir: home } },
    { name: "kubeconfig without a current cluster", inputs: { kubeconfigFlag: join(dir, "no-context.yaml"), env: {} } },
  ];
  writeFileSync(join(dir, "no-context.yaml"), "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n");
  it.each(failures)("throws PPI_ERR_KUBECONFIG: $name", ({ inputs }) => {
    let caught: unknown;
    try {
      loadKubeConfig(inputs);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(KubeConfigError);
    expect((caught as KubeConfigError).code).toBe("PPI_ERR_KUBECONFIG");
  });
});
