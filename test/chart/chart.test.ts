// The Helm chart: helm lint/template over several values combinations, every rendered object
// against the Kubernetes schemas, and the promises the chart makes (security context, probes,
// RBAC = src/kube/rbac.ts, flags the binary accepts, class names = the binary's defaults).
import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseFlags } from "../../cmd/flags.js";
import { rbacRules } from "../../src/kube/rbac.js";
import { chartDir, chartRbac, ensureKubeTools, helm, helmResult, helmTemplate, parseObjects, withValuesTable, type K8sObject, type TemplateOptions } from "../support/helm.js";
import { fieldsAfter130, servedIn, typeKey, validateAll } from "./k8s-schema.js";

// Fails (not skips) when helm cannot be had: CI installs it with `npm ci`.
beforeAll(() => {
  ensureKubeTools();
}, 120_000);

interface Combo {
  readonly name: string;
  readonly opts: TemplateOptions;
}

const combos: ReadonlyArray<Combo> = [
  { name: "defaults", opts: {} },
  { name: "DaemonSet", opts: { set: { "controller.kind": "DaemonSet" } } },
  { name: "watchNamespace", opts: { set: { "controller.watchNamespace": "apps" } } },
  { name: "ServiceMonitor and PrometheusRule on", opts: { set: { "metrics.serviceMonitor.enabled": "true", "metrics.prometheusRule.enabled": "true" } } },
  { name: "NodePort, externalTrafficPolicy Local, fixed nodePorts", opts: { set: { "service.type": "NodePort", "service.externalTrafficPolicy": "Local", "service.nodePorts.http": "30080", "service.nodePorts.https": "30443" } } },
  { name: "HPA, NetworkPolicy, default class", opts: { set: { "autoscaling.enabled": "true", "networkPolicy.enabled": "true", "ingressClass.default": "true" } } },
  { name: "global settings ConfigMap from values", opts: { values: "config:\n  lbmethod: bybusyness\n  timeout: \"30\"\n" } },
  { name: "webhook off", opts: { set: { "webhook.enabled": "false" } } },
  { name: "webhook certificate from cert-manager", opts: { set: { "webhook.certManager.enabled": "true" } } },
];

const rendered = new Map<string, string>();
/** helm template, memoised per options (each run costs ~0.2 s); callers get fresh objects. */
function render(opts: TemplateOptions = {}): K8sObject[] {
  const key = JSON.stringify(opts);
  let text = rendered.get(key);
  if (text === undefined) {
    text = helmTemplate(opts);
    rendered.set(key, text);
  }
  return parseObjects(text);
}

function find(objects: ReadonlyArray<K8sObject>, kind: string, name?: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (o === undefined) throw new Error(`no ${kind} ${name ?? ""} rendered`);
  return o;
}

interface Container {
  name: string;
  args: string[];
  env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports: { name: string; containerPort: number }[];
  securityContext: Record<string, unknown>;
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  startupProbe: { httpGet: { path: string; port: string } };
  lifecycle: { preStop: { sleep: { seconds: number } } };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  resources: { requests?: Record<string, string> };
}
interface PodSpec {
  securityContext: Record<string, unknown>;
  terminationGracePeriodSeconds: number;
  containers: Container[];
  volumes: { name: string; emptyDir?: Record<string, unknown> }[];
  topologySpreadConstraints?: { topologyKey: string; labelSelector: unknown }[];
}

function podSpec(objects: ReadonlyArray<K8sObject>): PodSpec {
  const w = objects.find((o) => o.kind === "Deployment" || o.kind === "DaemonSet");
  if (w === undefined) throw new Error("no workload rendered");
  return (w.spec as { template: { spec: PodSpec } }).template.spec;
}

function container(objects: ReadonlyArray<K8sObject>): Container {
  const c = podSpec(objects).containers[0];
  if (c === undefined) throw new Error("no container");
  return c;
}

/** args `--k=v` -> argv the binary's parser takes. */
function flagsOf(c: Container): ReturnType<typeof parseFlags> {
  return parseFlags(c.args);
}

describe("helm lint", () => {
  it.each(combos)("$name: helm lint --strict passes", ({ opts }) => {
    const args = ["lint", chartDir, "--strict", "--namespace", "proxypass-ingress"];
    for (const [k, v] of Object.entries(opts.set ?? {})) args.push("--set", `${k}=${v}`);
    if (opts.values !== undefined) args.push("--values", "-");
    const out = helm(args, opts.values);
    expect(out).toContain("0 chart(s) failed");
  });
});

describe("helm template: every object valid against the Kubernetes schemas", () => {
  it.each(combos)("$name", async ({ opts }) => {
    const objects = render(opts);
    expect(objects.length).toBeGreaterThan(8);
    expect(await validateAll(objects)).toEqual([]);
  });

  it("the validator does reject a broken object (it is not a no-op)", async () => {
    const objects = render();
    const d = structuredClone(find(objects, "Deployment")) as K8sObject & { spec: { replicas: unknown } };
    d.spec.replicas = "two";
    const errors = await validateAll([d]);
    expect(errors.join("\n")).toMatch(/replicas must be integer/);
  });

  it.each(["1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0", "1.35.0"])("renders for Kubernetes %s with only APIs GA there", (kubeVersion) => {
    const minor = Number(kubeVersion.split(".")[1]);
    const everything = { "controller.watchNamespace": "apps", "autoscaling.enabled": "true", "networkPolicy.enabled": "true", "metrics.serviceMonitor.enabled": "true", "metrics.prometheusRule.enabled": "true" };
    const sets: ReadonlyArray<Record<string, string>> = [{}, everything, { "controller.kind": "DaemonSet" }];
    for (const set of sets) {
      for (const o of render({ set, kubeVersion })) {
        const served = servedIn[typeKey(o)];
        if (served === undefined) continue; // CRDs (ServiceMonitor, PrometheusRule)
        expect(served.since, typeKey(o)).toBeLessThanOrEqual(minor);
        expect(served.removed ?? Infinity, typeKey(o)).toBeGreaterThan(minor);
      }
    }
    for (const f of fieldsAfter130) expect(f.since, f.path).toBeLessThanOrEqual(30);
  });

  it("refuses Kubernetes older than 1.30 (Chart.yaml kubeVersion)", () => {
    const r = helmResult(["template", "x", chartDir, "--kube-version", "1.29.0"]);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/kubeVersion|not compatible/i);
  });
});

describe("controller pod", () => {
  it.each(combos)("$name: hardened security context", ({ opts }) => {
    const objects = render(opts);
    const pod = podSpec(objects);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } });
    const c = container(objects);
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(c.securityContext).not.toHaveProperty("privileged", true);
    expect((c.securityContext.capabilities as { add?: unknown }).add).toBeUndefined();
    // the only writable path: an emptyDir on /tmp (the webhook certificate is a read-only Secret)
    expect(c.volumeMounts.filter((m) => m.readOnly !== true)).toEqual([{ name: "tmp", mountPath: "/tmp" }]);
    expect(pod.volumes[0]).toEqual({ name: "tmp", emptyDir: expect.any(Object) });
  });

  it("probes: startup and liveness on /healthz, readiness on /readyz, admin port 10254", () => {
    const c = container(render());
    expect(c.startupProbe.httpGet).toEqual({ path: "/healthz", port: "admin" });
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "admin" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "admin" });
    expect(c.ports).toEqual([
      { name: "http", containerPort: 8080, protocol: "TCP" },
      { name: "https", containerPort: 8443, protocol: "TCP" },
      { name: "admin", containerPort: 10254, protocol: "TCP" },
      { name: "webhook", containerPort: 9443, protocol: "TCP" },
    ]);
  });

  it("downward API: POD_NAME, POD_NAMESPACE, NODE_NAME", () => {
    const env = Object.fromEntries(container(render()).env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    expect(env).toMatchObject({ POD_NAME: "metadata.name", POD_NAMESPACE: "metadata.namespace", NODE_NAME: "spec.nodeName" });
  });

  it.each<{ name: string; set: Record<string, string>; preStop: number; delay: number; grace: number }>([
    { name: "defaults", set: {}, preStop: 5, delay: 5, grace: 30 },
    { name: "longer grace", set: { "controller.shutdown.graceSeconds": "120", "controller.shutdown.delaySeconds": "10", "controller.shutdown.preStopSleepSeconds": "3" }, preStop: 3, delay: 10, grace: 120 },
  ])("$name: preStop sleep, --shutdown-delay/--shutdown-grace and terminationGracePeriodSeconds agree", ({ set, preStop, delay, grace }) => {
    const objects = render({ set });
    const c = container(objects);
    const flags = flagsOf(c);
    expect(c.lifecycle.preStop.sleep.seconds).toBe(preStop);
    expect(flags["shutdown-delay"]).toBe(delay);
    expect(flags["shutdown-grace"]).toBe(grace);
    expect(podSpec(objects).terminationGracePeriodSeconds).toBe(preStop + delay + grace + 5);
  });

  it.each([
    { name: "500m -> 1 worker", cpu: "500m", workers: 1 },
    { name: "1 -> 1 worker", cpu: "1", workers: 1 },
    { name: "1500m -> 2 workers", cpu: "1500m", workers: 2 },
    { name: "2 -> 2 workers", cpu: "2", workers: 2 },
    { name: "2.5 -> 3 workers", cpu: "2.5", workers: 3 },
    { name: "100m -> 1 worker", cpu: "100m", workers: 1 },
  ])("--workers follows CPU requests: $name", ({ cpu, workers }) => {
    const flags = flagsOf(container(render({ values: `controller:\n  resources:\n    requests:\n      cpu: "${cpu}"\n` })));
    expect(flags.workers).toBe(workers);
  });

  it("controller.workers overrides the CPU-derived count", () => {
    expect(flagsOf(container(render({ set: { "controller.workers": "4" } }))).workers).toBe(4);
  });

  it.each(combos)("$name: the binary's own flag parser accepts the rendered args", ({ opts }) => {
    const c = container(render(opts));
    expect(() => flagsOf(c)).not.toThrow();
  });

  it("flags point at the chart's own objects", () => {
    const objects = render();
    const flags = flagsOf(container(objects));
    expect(flags.configmap).toEqual({ namespace: "proxypass-ingress", name: find(objects, "ConfigMap", "proxypass-ingress").metadata.name });
    expect(flags["runtime-configmap"]).toEqual({ namespace: "proxypass-ingress", name: "proxypass-ingress-runtime" });
    find(objects, "ConfigMap", "proxypass-ingress-runtime");
    expect(flags["publish-service"]).toEqual({ namespace: "proxypass-ingress", name: "proxypass-ingress" });
    expect(flags["election-id"]).toBe("proxypass-ingress-leader");
    expect(flags["watch-namespace"]).toBeUndefined();
    // another release name: <release>-runtime
    const other = flagsOf(container(render({ release: "edge", namespace: "infra" })));
    expect(other["runtime-configmap"]).toEqual({ namespace: "infra", name: "edge-runtime" });
  });

  it("DaemonSet: no replicas, RollingUpdate; Deployment: replicas, surge without unavailability", () => {
    const ds = find(render({ set: { "controller.kind": "DaemonSet" } }), "DaemonSet");
    expect(ds.spec).not.toHaveProperty("replicas");
    const dep = find(render(), "Deployment");
    expect(dep.spec).toMatchObject({ replicas: 2, strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } });
    expect(find(render({ set: { "autoscaling.enabled": "true" } }), "Deployment").spec).not.toHaveProperty("replicas");
  });

  it("topology spread over zones and nodes, selecting the controller pods", () => {
    const tsc = podSpec(render()).topologySpreadConstraints ?? [];
    expect(tsc.map((t) => t.topologyKey)).toEqual(["topology.kubernetes.io/zone", "kubernetes.io/hostname"]);
    for (const t of tsc) expect(t.labelSelector).toEqual({ matchLabels: expect.objectContaining({ "app.kubernetes.io/component": "controller" }) });
  });
});

describe("IngressClass and names match the binary's defaults", () => {
  const defaults = parseFlags([]);

  it("IngressClass name and controller are --ingress-class / --controller-name defaults", () => {
    const objects = render();
    const ic = find(objects, "IngressClass");
    expect(ic.metadata.name).toBe(defaults["ingress-class"]);
    expect((ic.spec as { controller: string }).controller).toBe(defaults["controller-name"]);
    const flags = flagsOf(container(objects));
    expect(flags["ingress-class"]).toBe(defaults["ingress-class"]);
    expect(flags["controller-name"]).toBe(defaults["controller-name"]);
    expect(ic.metadata.annotations?.["ingressclass.kubernetes.io/is-default-class"]).toBeUndefined();
  });

  it("ingressClass.default marks it the default class", () => {
    const ic = find(render({ set: { "ingressClass.default": "true" } }), "IngressClass");
    expect(ic.metadata.annotations?.["ingressclass.kubernetes.io/is-default-class"]).toBe("true");
  });

  it("a custom class name and controller reach both the IngressClass and the flags", () => {
    const objects = render({ set: { "ingressClass.name": "edge", "ingressClass.controller": "example.com/edge" } });
    expect(find(objects, "IngressClass").metadata.name).toBe("edge");
    const flags = flagsOf(container(objects));
    expect(flags["ingress-class"]).toBe("edge");
    expect(flags["controller-name"]).toBe("example.com/edge");
  });
});

describe("Services, ConfigMaps, PDB, HPA, monitoring, NetworkPolicy", () => {
  it("traffic Service: LoadBalancer by default, 80/443 -> container 8080/8443", () => {
    const svc = find(render(), "Service", "proxypass-ingress");
    expect(svc.spec).toMatchObject({
      type: "LoadBalancer",
      externalTrafficPolicy: "Cluster",
      ports: [
        { name: "http", port: 80, targetPort: "http" },
        { name: "https", port: 443, targetPort: "https" },
      ],
    });
  });

  it("NodePort with externalTrafficPolicy Local and fixed node ports", () => {
    const svc = find(render({ set: { "service.type": "NodePort", "service.externalTrafficPolicy": "Local", "service.nodePorts.http": "30080" } }), "Service", "proxypass-ingress");
    expect(svc.spec).toMatchObject({ type: "NodePort", externalTrafficPolicy: "Local", ports: [{ nodePort: 30080 }, { name: "https" }] });
  });

  it("admin Service exposes the metrics port 10254", () => {
    const svc = find(render(), "Service", "proxypass-ingress-admin");
    expect(svc.spec).toMatchObject({ type: "ClusterIP", ports: [{ name: "metrics", port: 10254, targetPort: "admin" }] });
  });

  it("global settings ConfigMap carries config values as strings", () => {
    const cm = find(render({ values: "config:\n  lbmethod: bybusyness\n  timeout: \"30\"\n" }), "ConfigMap", "proxypass-ingress");
    expect(cm.data).toEqual({ lbmethod: "bybusyness", timeout: "30" });
  });

  it("runtime ConfigMap is created empty and kept on uninstall", () => {
    const cm = find(render(), "ConfigMap", "proxypass-ingress-runtime");
    expect(cm.data).toBeUndefined();
    expect(cm.metadata.annotations?.["helm.sh/resource-policy"]).toBe("keep");
  });

  it("PodDisruptionBudget with two replicas, none with one", () => {
    expect(find(render(), "PodDisruptionBudget").spec).toMatchObject({ maxUnavailable: 1 });
    expect(render({ set: { "controller.replicaCount": "1" } }).some((o) => o.kind === "PodDisruptionBudget")).toBe(false);
    expect(render({ set: { "controller.kind": "DaemonSet" } }).some((o) => o.kind === "PodDisruptionBudget")).toBe(true);
  });

  it("HPA only when enabled, scaling the Deployment on CPU", () => {
    expect(render().some((o) => o.kind === "HorizontalPodAutoscaler")).toBe(false);
    const hpa = find(render({ set: { "autoscaling.enabled": "true" } }), "HorizontalPodAutoscaler");
    expect(hpa.spec).toMatchObject({ scaleTargetRef: { kind: "Deployment", name: "proxypass-ingress" }, minReplicas: 2, maxReplicas: 10 });
  });

  it("ServiceMonitor selects the admin Service's metrics port; PrometheusRule has the alerts", () => {
    const objects = render({ set: { "metrics.serviceMonitor.enabled": "true", "metrics.prometheusRule.enabled": "true" } });
    const sm = find(objects, "ServiceMonitor");
    const admin = find(objects, "Service", "proxypass-ingress-admin");
    const selector = (sm.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    for (const [k, v] of Object.entries(selector)) expect(admin.metadata.labels?.[k], k).toBe(v);
    expect(sm.spec).toMatchObject({ endpoints: [{ port: "metrics", path: "/metrics" }] });
    const rule = find(objects, "PrometheusRule");
    expect(JSON.stringify(rule.spec)).toContain("proxypass_config_rejections_total");
    expect(render().some((o) => o.kind === "ServiceMonitor" || o.kind === "PrometheusRule")).toBe(false);
  });

  it("NetworkPolicy: traffic ports open, admin port limited", () => {
    const np = find(render({ set: { "networkPolicy.enabled": "true" } }), "NetworkPolicy");
    expect(np.spec).toMatchObject({
      policyTypes: ["Ingress"],
      ingress: [{ ports: [{ port: "http" }, { port: "https" }, { port: "webhook" }] }, { ports: [{ port: "admin" }], from: [{ podSelector: {} }] }],
    });
  });
});

describe("RBAC is exactly src/kube/rbac.ts", () => {
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
  const expected = new Map<string, Set<string>>();
  for (const r of rbacRules) {
    if (!r.implemented) continue;
    const key = `${r.apiGroup}/${r.resource}`;
    const verbs = expected.get(key) ?? new Set<string>();
    for (const v of r.verbs) verbs.add(v);
    expected.set(key, verbs);
  }
  const sorted = (m: Map<string, Set<string>>): Record<string, string[]> => Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, [...v].sort()]));

  function granted(objects: ReadonlyArray<K8sObject>, filter: (o: K8sObject) => boolean): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    for (const o of objects.filter((x) => (x.kind === "ClusterRole" || x.kind === "Role") && filter(x))) {
      for (const rule of (o.rules as Rule[] | undefined) ?? []) {
        expect(rule.verbs).not.toContain("*");
        expect(rule.resources).not.toContain("*");
        for (const g of rule.apiGroups) for (const res of rule.resources) {
          const set = out.get(`${g}/${res}`) ?? new Set<string>();
          for (const v of rule.verbs) set.add(v);
          out.set(`${g}/${res}`, set);
        }
      }
    }
    return out;
  }

  it("files/rbac.json is generated from src/kube/rbac.ts (npm run chart:generate)", () => {
    const onDisk = JSON.parse(readFileSync(join(chartDir, "files", "rbac.json"), "utf8")) as unknown;
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(chartRbac(rbacRules))));
  });

  it.each(combos)("$name: the union of granted verbs per resource equals the RBAC list", ({ opts }) => {
    expect(sorted(granted(render(opts), () => true))).toEqual(sorted(expected));
  });

  it("without watchNamespace the ClusterRole grants every watch; leases, pods and ConfigMap writes only in the release namespace", () => {
    const objects = render();
    const cluster = granted(objects, (o) => o.kind === "ClusterRole");
    expect(cluster.has("networking.k8s.io/ingresses")).toBe(true);
    expect(cluster.has("coordination.k8s.io/leases")).toBe(false);
    expect(cluster.has("/pods")).toBe(false);
    const role = find(objects, "Role", "proxypass-ingress");
    expect(role.metadata.namespace).toBe("proxypass-ingress");
    expect(sorted(granted([role], () => true))).toEqual({ "/configmaps": ["create", "get", "update"], "/pods": ["get", "list"], "coordination.k8s.io/leases": ["create", "get", "update"] });
    // writes (the runtime ConfigMap) never cluster-wide
    expect([...(cluster.get("/configmaps") ?? [])].sort()).toEqual(["list", "watch"]);
    for (const [res, verbs] of cluster) expect([...verbs].filter((v) => ["update", "delete"].includes(v)), res).toEqual([]);
  });

  it("with watchNamespace: ClusterRole keeps only cluster-scoped reads; a Role in the watched namespace grants the watches", () => {
    const objects = render({ set: { "controller.watchNamespace": "apps" } });
    expect(Object.keys(sorted(granted(objects, (o) => o.kind === "ClusterRole")))).toEqual(["/nodes", "networking.k8s.io/ingressclasses"]);
    const watch = find(objects, "Role", "proxypass-ingress-watch");
    expect(watch.metadata.namespace).toBe("apps");
    expect(granted([watch], () => true).has("networking.k8s.io/ingresses")).toBe(true);
    const binding = find(objects, "RoleBinding", "proxypass-ingress-watch");
    expect(binding.metadata.namespace).toBe("apps");
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "proxypass-ingress", namespace: "proxypass-ingress" }]);
    expect(flagsOf(container(objects))["watch-namespace"]).toBe("apps");
  });

  it("every binding names the chart's ServiceAccount", () => {
    const objects = render({ set: { "controller.watchNamespace": "apps" } });
    const sa = find(objects, "ServiceAccount");
    for (const b of objects.filter((o) => o.kind.endsWith("Binding"))) {
      expect(b.subjects).toEqual([{ kind: "ServiceAccount", name: sa.metadata.name, namespace: "proxypass-ingress" }]);
    }
    expect(podSpec(objects).containers).toHaveLength(1);
  });
});

describe("values.schema.json rejects bad values", () => {
  it.each([
    { name: "unknown top-level key", args: ["--set", "bogus=1"], error: /additional properties 'bogus'/ },
    { name: "unknown controller kind", args: ["--set", "controller.kind=StatefulSet"], error: /controller\/kind/ },
    { name: "unknown Service type", args: ["--set", "service.type=ExternalName"], error: /service\/type/ },
    { name: "negative replicas", args: ["--set", "controller.replicaCount=-1"], error: /replicaCount/ },
    { name: "externalTrafficPolicy typo", args: ["--set", "service.externalTrafficPolicy=local"], error: /externalTrafficPolicy/ },
    { name: "nodePort outside the range", args: ["--set", "service.nodePorts.http=80"], error: /nodePorts/ },
    { name: "non-string config value", args: ["--set", "config.timeout=30"], error: /config\/timeout/ },
    { name: "image tag latest", args: ["--set", "image.tag=latest"], error: /image\/tag/ },
    { name: "bad watchNamespace", args: ["--set", "controller.watchNamespace=Not_A_Namespace"], error: /watchNamespace/ },
    { name: "bad controller name", args: ["--set", "ingressClass.controller=no-slash"], error: /ingressClass\/controller/ },
    { name: "extraArgs not a flag", args: ["--set", "controller.extraArgs[0]=rm -rf"], error: /extraArgs/ },
    { name: "preStop sleep 0", args: ["--set", "controller.shutdown.preStopSleepSeconds=0"], error: /preStopSleepSeconds/ },
  ])("$name", ({ args, error }) => {
    const r = helmResult(["template", "x", chartDir, ...args]);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(error);
  });
});

describe("chart README", () => {
  it("its values table is generated from values.yaml (npm run chart:generate)", () => {
    const readme = readFileSync(join(chartDir, "README.md"), "utf8");
    const values = readFileSync(join(chartDir, "values.yaml"), "utf8");
    expect(readme).toBe(withValuesTable(readme, values));
  });

  it("documents every leaf value of values.yaml", () => {
    const readme = readFileSync(join(chartDir, "README.md"), "utf8");
    const values = parseObjects(readFileSync(join(chartDir, "values.yaml"), "utf8"))[0] as unknown as Record<string, unknown>;
    const keys: string[] = [];
    const walk = (v: unknown, path: string): void => {
      if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0 && !["resources", "nodeSelector"].includes(path.split(".").pop() ?? "")) {
        for (const [k, x] of Object.entries(v)) walk(x, path === "" ? k : `${path}.${k}`);
      } else keys.push(path);
    };
    walk(values, "");
    // documented itself or through an ancestor (controller.updateStrategy covers its children)
    const documented = (k: string): boolean => k.split(".").some((_, i, parts) => readme.includes(`| \`${parts.slice(0, i + 1).join(".")}\` |`));
    const missing = keys.filter((k) => !documented(k));
    expect(missing).toEqual([]);
  });
});

describe("validating admission webhook", () => {
  type Webhook = {
    name: string;
    failurePolicy: string;
    sideEffects: string;
    admissionReviewVersions: string[];
    clientConfig: { service: { name: string; namespace: string; path: string; port: number }; caBundle?: string };
    rules: { operations: string[]; resources: string[] }[];
    matchConditions: { name: string; expression: string }[];
    namespaceSelector?: unknown;
  };
  const webhookOf = (objects: ReadonlyArray<K8sObject>): Webhook => {
    const w = (find(objects, "ValidatingWebhookConfiguration").webhooks as Webhook[])[0];
    if (w === undefined) throw new Error("no webhook");
    return w;
  };

  it("is on by default: Service, Secret, config with caBundle; the controller gets its flags, port and certificate", () => {
    const objects = render();
    const w = webhookOf(objects);
    expect(w).toMatchObject({ failurePolicy: "Fail", sideEffects: "None", admissionReviewVersions: ["v1"], clientConfig: { service: { name: "proxypass-ingress-webhook", namespace: "proxypass-ingress", path: "/validate-ingress", port: 443 } } });
    expect(w.rules).toEqual([expect.objectContaining({ operations: ["CREATE", "UPDATE"], resources: ["ingresses"] })]);
    const svc = find(objects, "Service", "proxypass-ingress-webhook");
    expect(svc.spec).toMatchObject({ ports: [{ port: 443, targetPort: "webhook" }] });
    const c = container(objects);
    expect(c.ports).toContainEqual({ name: "webhook", containerPort: 9443, protocol: "TCP" });
    const flags = flagsOf(c);
    expect(flags["webhook-port"]).toBe(9443);
    expect(flags["webhook-cert-file"]).toBe("/etc/proxypass-ingress/webhook/tls.crt");
    expect(flags["webhook-key-file"]).toBe("/etc/proxypass-ingress/webhook/tls.key");
    expect(c.volumeMounts).toContainEqual({ name: "webhook-tls", mountPath: "/etc/proxypass-ingress/webhook", readOnly: true });
  });

  it("the caBundle is the CA that signed the Secret's certificate, valid for the Service's DNS names", () => {
    const objects = render();
    const secret = find(objects, "Secret", "proxypass-ingress-webhook-tls") as K8sObject & { data: Record<string, string> };
    const b64 = (k: string): string => Buffer.from(secret.data[k] ?? "", "base64").toString("utf8");
    const ca = new X509Certificate(Buffer.from(webhookOf(objects).clientConfig.caBundle ?? "", "base64"));
    const cert = new X509Certificate(b64("tls.crt"));
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkHost("proxypass-ingress-webhook.proxypass-ingress.svc")).toBe("proxypass-ingress-webhook.proxypass-ingress.svc");
    expect(cert.checkPrivateKey(createPrivateKey(b64("tls.key")))).toBe(true);
    expect(b64("ca.crt")).toBe(ca.toString());
  });

  it("only Ingresses of our class reach it (matchConditions), also with a custom class", () => {
    for (const cls of ["proxypass", "edge"]) {
      const w = webhookOf(render({ set: { "ingressClass.name": cls } }));
      expect(w.matchConditions).toHaveLength(1);
      expect(w.matchConditions[0]?.expression).toContain(`object.spec.ingressClassName == '${cls}'`);
      expect(w.matchConditions[0]?.expression).toContain(`object.metadata.annotations['kubernetes.io/ingress.class'] == '${cls}'`);
    }
  });

  it("failurePolicy and timeout are values; watchNamespace narrows it to that namespace", () => {
    const w = webhookOf(render({ set: { "webhook.failurePolicy": "Ignore", "controller.watchNamespace": "apps" } }));
    expect(w.failurePolicy).toBe("Ignore");
    expect(w.namespaceSelector).toEqual({ matchLabels: { "kubernetes.io/metadata.name": "apps" } });
  });

  it("with cert-manager: Issuer + Certificate for the Service names, CA injected by annotation, no chart-made Secret", () => {
    const objects = render({ set: { "webhook.certManager.enabled": "true" } });
    const vwc = find(objects, "ValidatingWebhookConfiguration");
    expect(vwc.metadata.annotations?.["cert-manager.io/inject-ca-from"]).toBe("proxypass-ingress/proxypass-ingress-webhook");
    expect(webhookOf(objects).clientConfig.caBundle).toBeUndefined();
    expect(objects.some((o) => o.kind === "Secret")).toBe(false);
    const certificate = find(objects, "Certificate");
    expect(certificate.spec).toMatchObject({ secretName: "proxypass-ingress-webhook-tls", dnsNames: expect.arrayContaining(["proxypass-ingress-webhook.proxypass-ingress.svc"]), issuerRef: { kind: "Issuer", name: "proxypass-ingress-webhook" } });
    find(objects, "Issuer");
    const own = render({ values: "webhook:\n  enabled: true\n  certManager:\n    enabled: true\n    issuerRef:\n      kind: ClusterIssuer\n      name: corp-ca\n" });
    expect(own.some((o) => o.kind === "Issuer")).toBe(false);
    expect(find(own, "Certificate").spec).toMatchObject({ issuerRef: { kind: "ClusterIssuer", name: "corp-ca" } });
  });

  it("off: no webhook objects, flags, port or volume", () => {
    const objects = render({ set: { "webhook.enabled": "false" } });
    expect(objects.some((o) => ["ValidatingWebhookConfiguration", "Secret", "Certificate"].includes(o.kind))).toBe(false);
    const c = container(objects);
    expect(flagsOf(c)["webhook-cert-file"]).toBeUndefined();
    expect(c.ports.map((p) => p.name)).not.toContain("webhook");
  });

  it.each([
    { name: "failurePolicy typo", args: ["--set", "webhook.failurePolicy=fail"], error: /failurePolicy/ },
    { name: "webhook port clashing with the admin port", args: ["--set", "webhook.port=10254"], error: /webhook\/port/ },
  ])("values.schema.json: $name", ({ args, error }) => {
    const r = helmResult(["template", "x", chartDir, ...args]);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(error);
  });
});
