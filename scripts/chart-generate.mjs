// Regenerates what the chart derives from the code: files/rbac.json (from src/kube/rbac.ts), the
// README values table (from values.yaml) and, with --deploy, deploy/proxypass-ingress.yaml.
// Tests compare each with a fresh generation. Runs on Node 24 (type stripping of the .ts imports).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rbacRules } from "../src/kube/rbac.ts";
import { chartDir, chartRbac, deployFile, renderDeployManifest, withValuesTable } from "../test/support/helm.ts";

const only = process.argv.includes("--deploy-only");
if (!only) {
  writeFileSync(join(chartDir, "files", "rbac.json"), `${JSON.stringify(chartRbac(rbacRules), null, 2)}\n`);
  const readmePath = join(chartDir, "README.md");
  const values = readFileSync(join(chartDir, "values.yaml"), "utf8");
  writeFileSync(readmePath, withValuesTable(readFileSync(readmePath, "utf8"), values));
  console.log("wrote charts/proxypass-ingress/files/rbac.json and the README values table");
}
if (only || process.argv.includes("--deploy")) {
  writeFileSync(deployFile, renderDeployManifest());
  console.log("wrote deploy/proxypass-ingress.yaml");
}
