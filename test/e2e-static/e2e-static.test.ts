// The kind suite cannot run here (no Docker). What can be proved without a cluster: the script's
// shape, the manifests and values it applies (parsed, validated against the Kubernetes schemas,
// consistent with kind-config.yaml), the workflow, and e2e/check.mjs itself run against the
// controller binary on loopback with the suite's own echo server code and example Ingresses.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, repoRoot, startController, type RunningController } from "../support/controller.js";
import { ensureKubeTools, helmTemplate, parseObjects, type K8sObject } from "../support/helm.js";
import { endpointSlicesYaml, serviceYaml } from "../support/manifests.js";
import { waitFor } from "../support/wait.js";
import { validateAll } from "../chart/k8s-schema.js";
import { reviewIngressAdmission } from "../../src/control/index.js";

const run = promisify(execFile);
const e2e = join(repoRoot, "e2e");
const runSh = readFileSync(join(e2e, "run.sh"), "utf8");
const manifestFiles = ["namespace.yaml", "echo-server.yaml", "backends.yaml", "ingresses.yaml"];
const manifests = (): K8sObject[] => manifestFiles.flatMap((f) => parseObjects(readFileSync(join(e2e, "manifests", f), "utf8")));

describe("e2e/run.sh", () => {
  it("is executable, strict (set -euo pipefail) and valid bash", async () => {
    expect(() => accessSync(join(e2e, "run.sh"), constants.X_OK)).not.toThrow();
    expect(runSh.split("\n")[0]).toBe("#!/usr/bin/env bash");
    expect(runSh).toMatch(/^set -euo pipefail$/m);
    await run("bash", ["-n", join(e2e, "run.sh")]);
    await run(process.execPath, ["--check", join(e2e, "check.mjs")]);
  });

  it("applies exactly the manifests that exist, and runs every check", () => {
    const applied = [...runSh.matchAll(/-f (e2e\/manifests\/[\w.-]+)/g)].map((m) => m[1]);
    expect(applied.sort()).toEqual([...manifestFiles, "bad-ingress.yaml"].map((f) => `e2e/manifests/${f}`).sort());
    for (const c of ["routing", "tls", "sticky", "app standby.e2e.test standby", "websocket", "drain", "rollout restart deployment/echo", "helm\" upgrade"]) {
      expect(runSh, c).toContain(c.replace('helm" upgrade', 'HELM" upgrade'));
    }
  });

  it("package.json runs it as npm run e2e; the workflow runs that on pull requests", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.e2e).toBe("bash e2e/run.sh");
    const wf = parseObjects(readFileSync(join(repoRoot, ".github", "workflows", "e2e.yaml"), "utf8"))[0] as unknown as {
      on: Record<string, unknown>;
      jobs: Record<string, { steps: { run?: string; uses?: string }[] }>;
    };
    expect(Object.keys(wf.on)).toContain("pull_request");
    const steps = Object.values(wf.jobs).flatMap((j) => j.steps);
    expect(steps.map((s) => s.run)).toContain("npm ci");
    expect(steps.map((s) => s.run)).toContain("npm run e2e");
    expect(steps.some((s) => s.uses?.startsWith("helm/kind-action"))).toBe(true);
  });
});

describe("e2e manifests and values", () => {
  beforeAll(() => {
    ensureKubeTools();
  }, 120_000);

  it("every manifest parses and validates against the Kubernetes schemas", async () => {
    const objects = manifests();
    expect(objects.map((o) => o.kind).sort()).toEqual([
      "ConfigMap",
      "Deployment",
      "Deployment",
      "Deployment",
      "Deployment",
      "Ingress",
      "Ingress",
      "Ingress",
      "Ingress",
      "Namespace",
      "Service",
      "Service",
      "Service",
      "Service",
      "Service",
    ]);
    expect(await validateAll(objects)).toEqual([]);
  });

  it("bad-ingress.yaml is schema-valid but denied by the webhook's validation with the message run.sh greps", async () => {
    const [bad] = parseObjects(readFileSync(join(e2e, "manifests", "bad-ingress.yaml"), "utf8"));
    expect(await validateAll(bad === undefined ? [] : [bad])).toEqual([]);
    const out = reviewIngressAdmission({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: "u", kind: { group: "networking.k8s.io", version: "v1", kind: "Ingress" }, operation: "CREATE", namespace: "e2e", object: bad } }, { ingressClass: "proxypass" });
    expect(out.response.allowed).toBe(false);
    const grep = /grep -q "([^"]+)" "\$WORK\/bad-ingress.err"/.exec(runSh)?.[1] ?? "?";
    expect(out.response.status?.message).toContain(grep);
  });

  it("the echo backend has 3 replicas; every Ingress uses the chart's default class", () => {
    const objects = manifests();
    const echo = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "echo");
    expect((echo?.spec as { replicas: number }).replicas).toBe(3);
    for (const ing of objects.filter((o) => o.kind === "Ingress")) expect((ing.spec as { ingressClassName: string }).ingressClassName).toBe("proxypass");
  });

  it("the chart renders with e2e/values.yaml, validates, and matches kind-config.yaml's port mappings and run.sh's image", async () => {
    const objects = parseObjects(helmTemplate({ values: readFileSync(join(e2e, "values.yaml"), "utf8") }));
    expect(await validateAll(objects)).toEqual([]);
    const svc = objects.find((o) => o.kind === "Service" && o.metadata.name === "proxypass-ingress");
    const nodePorts = (svc?.spec as { ports: { nodePort: number }[] }).ports.map((p) => p.nodePort);
    const kind = parseObjects(readFileSync(join(e2e, "kind-config.yaml"), "utf8"))[0] as unknown as { nodes: { extraPortMappings?: { containerPort: number; hostPort: number }[] }[] };
    const mapped = kind.nodes.flatMap((n) => n.extraPortMappings ?? []);
    expect(mapped.map((m) => m.containerPort)).toEqual(nodePorts);
    expect(mapped.map((m) => m.hostPort)).toEqual([18080, 18443]);
    const dep = objects.find((o) => o.kind === "Deployment");
    expect((dep?.spec as { replicas: number }).replicas).toBe(2);
    expect(objects.some((o) => o.kind === "PodDisruptionBudget")).toBe(true);
    const image = (dep?.spec as { template: { spec: { containers: { image: string; imagePullPolicy: string }[] } } }).template.spec.containers[0];
    expect(runSh).toContain(`IMAGE=${image?.image ?? "?"}`);
    expect(image?.imagePullPolicy).toBe("Never");
  });
});

describe("e2e/check.mjs against the controller binary on loopback", () => {
  let dir = "";
  let ctl: RunningController | null = null;
  const servers: ChildProcess[] = [];
  const ports: Record<string, number[]> = {};

  async function checkMjs(...args: string[]): Promise<{ code: number; out: string }> {
    if (ctl === null) throw new Error("controller not started");
    const env = { ...process.env, E2E_HTTP: `http://127.0.0.1:${ctl.httpPort}`, E2E_HTTPS_PORT: String(await freePort()) };
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [join(e2e, "check.mjs"), ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
      child.on("exit", (code) => resolve({ code: code ?? -1, out }));
    });
  }

  async function writeBackends(apps: Record<string, number[]>): Promise<void> {
    let text = "";
    // echo-sticky selects the echo pods (e2e/manifests/backends.yaml)
    for (const [service, app] of [["echo", "echo"], ["echo-sticky", "echo"], ["api", "api"], ["primary", "primary"], ["standby", "standby"]] as const) {
      const members = (apps[app] ?? []).map((port, i) => ({ ip: "127.0.0.1", port, pod: `${app}-${i}` }));
      text += `${serviceYaml("e2e", service, 80)}---\n${endpointSlicesYaml("e2e", service, members)}---\n`;
    }
    await writeFile(join(dir, "manifests", "backends.yaml"), text);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ppi-e2e-static-"));
    // the echo server code of the ConfigMap, run as local processes
    const cm = manifests().find((o) => o.kind === "ConfigMap" && o.metadata.name === "echo-server") as K8sObject & { data: Record<string, string> };
    const code = join(dir, "server.mjs");
    await writeFile(code, cm.data["server.mjs"] ?? "");
    for (const [app, n] of [["echo", 3], ["api", 1], ["primary", 2], ["standby", 1]] as const) {
      ports[app] = [];
      for (let i = 0; i < n; i++) {
        const port = await freePort();
        ports[app].push(port);
        servers.push(spawn(process.execPath, [code], { env: { PATH: process.env.PATH ?? "", PORT: String(port), HOST: "127.0.0.1", APP: app, POD_NAME: `${app}-${i}` }, stdio: "ignore" }));
      }
    }
    await Promise.all(
      Object.values(ports)
        .flat()
        .map((port) => waitFor(async () => ((await fetchStatus(port)) === 200 ? true : undefined), { what: `echo server :${port}` })),
    );
    const manifestsDir = join(dir, "manifests");
    await mkdir(manifestsDir);
    await writeFile(join(manifestsDir, "ingresses.yaml"), readFileSync(join(e2e, "manifests", "ingresses.yaml"), "utf8"));
    await writeBackends(ports);
    ctl = await startController(["--manifests", manifestsDir, "--workers", "1", "--access-log=false", "--shutdown-delay", "0", "--shutdown-grace", "1"]);
    const c = ctl;
    await waitFor(async () => ((await fetchStatus(c.adminPort, "/readyz")) === 200 ? true : undefined), { what: "controller ready" });
  }, 60_000);

  afterAll(async () => {
    if (ctl !== null && ctl.child.exitCode === null) ctl.child.kill("SIGKILL");
    for (const s of servers) s.kill("SIGKILL");
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("routing: hosts, paths, 404, three echo pods", async () => {
    const r = await checkMjs("routing");
    expect(r.out).toContain("routing:");
    expect(r.code, r.out).toBe(0);
  });

  it("sticky: the controller's ROUTEID cookie keeps a session on its pod", async () => {
    const r = await checkMjs("sticky");
    expect(r.out).toContain("sticky:");
    expect(r.code, r.out).toBe(0);
  });

  it("hot standby: primary answers, then standby once primary has no endpoints, then primary again", async () => {
    expect((await checkMjs("app", "standby.e2e.test", "primary", "10")).code).toBe(0);
    await writeBackends({ ...ports, primary: [] });
    const takeover = await checkMjs("app", "standby.e2e.test", "standby", "15");
    expect(takeover.out).toContain("answered by standby");
    expect(takeover.code, takeover.out).toBe(0);
    await writeBackends(ports);
    expect((await checkMjs("app", "standby.e2e.test", "primary", "15")).code).toBe(0);
  }, 45_000);

  it("drain through the balancer-manager JSON API (loopback = what port-forward gives)", async () => {
    if (ctl === null) throw new Error("no controller");
    const r = await checkMjs("drain", `http://127.0.0.1:${ctl.adminPort}`);
    expect(r.out).toContain("drain: 60 non-sticky requests avoided drained member");
    expect(r.code, r.out).toBe(0);
  }, 30_000);

  it("load: counts 2xx while a command runs and passes with zero failures", async () => {
    const r = await checkMjs("load", "--", process.execPath, "-e", "setTimeout(() => {}, 500)");
    expect(r.out).toMatch(/load: \d+ 2xx, 0 non-2xx, 0 errors/);
    expect(r.code, r.out).toBe(0);
  }, 30_000);

  it.each(["tls", "websocket"])("%s: passes, or reports PENDING (exit 3) while the feature is not built", async (name) => {
    const r = await checkMjs(name, ...(name === "tls" ? [join(repoRoot, "package.json")] : []));
    expect([0, 3], r.out).toContain(r.code);
    if (r.code === 3) expect(r.out).toContain("PENDING");
  }, 20_000);
});

async function fetchStatus(port: number, path = "/healthz"): Promise<number> {
  const { request } = await import("undici");
  try {
    const res = await request(`http://127.0.0.1:${port}${path}`);
    await res.body.dump();
    return res.statusCode;
  } catch {
    return 0;
  }
}
