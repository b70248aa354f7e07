// The runtime ConfigMap shared by replicas, against the stand-in API server: an edit on one store
// is seen by another within 1 s, concurrent edits on two replicas both land (409 -> re-read,
// re-apply), a missing ConfigMap is created, an invalid one is reported; and two controller
// binaries obey each other's balancer-manager edits and keep them across a restart of both.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { parseAllDocuments } from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigMapStateStore, RUNTIME_STATE_KEY, isAllowed, loadKubeConfig, rbacRules } from "../../src/kube/index.js";
import type { RuntimeState } from "../../src/model/index.js";
import { startController, type RunningController } from "../support/controller.js";
import { startKubeApi, type KubeApi, type KubeObjectInput } from "../support/kube-api.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { startUpstream, type Upstream } from "../support/upstream.js";
import { waitFor } from "../support/wait.js";
import { hit } from "../admin/controller-fixture.js";

const NS = "ingress";
const NAME = "pp-runtime";

let api: KubeApi | null = null;
let dir = "";
const stores: ConfigMapStateStore[] = [];
const controllers: RunningController[] = [];
const upstreams: Upstream[] = [];

afterEach(async () => {
  for (const c of controllers.splice(0)) if (c.child.exitCode === null) c.child.kill("SIGKILL");
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await api?.close();
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
  if (dir !== "") await rm(dir, { recursive: true, force: true });
  api = null;
  dir = "";
});

function capture(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split("\n")) if (l !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: "info" }, sink), lines };
}

async function store(logger = pino({ level: "silent" })): Promise<ConfigMapStateStore> {
  if (api === null) throw new Error("no api");
  dir ||= await mkdtemp(join(tmpdir(), "ppi-runtime-"));
  const { kubeConfig } = loadKubeConfig({ kubeconfigFlag: await api.writeKubeconfig(dir), env: {} });
  const s = new ConfigMapStateStore({ kubeConfig, namespace: NS, name: NAME, logger });
  stores.push(s);
  await s.start();
  return s;
}

const setFlag = (balancer: string, member: string, flags: string) => (s: RuntimeState): RuntimeState => {
  const b = s.balancers[balancer] ?? { lbmethod: null, members: {} };
  return { balancers: { ...s.balancers, [balancer]: { ...b, members: { ...b.members, [member]: { flags, loadfactor: null, lbset: null } } } } };
};

describe("ConfigMapStateStore", () => {
  it("creates the ConfigMap on the first edit; another replica sees it within 1 s", async () => {
    api = await startKubeApi();
    const a = await store();
    const b = await store();
    const seen: RuntimeState[] = [];
    b.subscribe((s) => seen.push(s));
    const started = Date.now();
    await a.update(setFlag("shop/web:80", "10.0.0.1:80", "N"));
    expect(api.get("ConfigMap", NS, NAME)?.["data"]).toMatchObject({ [RUNTIME_STATE_KEY]: expect.stringContaining('"flags": "N"') as unknown });
    await waitFor(() => (b.current().balancers["shop/web:80"]?.members["10.0.0.1:80"]?.flags === "N" ? true : undefined), { timeoutMs: 1_000, intervalMs: 10, what: "replica b sees the edit" });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(seen).toHaveLength(1);
  });

  it("concurrent edits on two replicas both land: a 409 re-reads and re-applies the edit", async () => {
    api = await startKubeApi();
    const a = await store();
    const b = await store();
    await a.update(setFlag("shop/web:80", "10.0.0.9:80", "I")); // the ConfigMap exists
    await Promise.all([
      ...Array.from({ length: 5 }, (_, i) => a.update(setFlag("shop/web:80", `10.0.0.${i + 10}:80`, "N"))),
      ...Array.from({ length: 5 }, (_, i) => b.update(setFlag("shop/web:80", `10.0.1.${i + 10}:80`, "D"))),
    ]);
    await waitFor(() => (Object.keys(a.current().balancers["shop/web:80"]?.members ?? {}).length === 11 && Object.keys(b.current().balancers["shop/web:80"]?.members ?? {}).length === 11 ? true : undefined), { timeoutMs: 2_000, what: "both replicas hold all 11 edits" });
    expect(a.conflicts + b.conflicts).toBeGreaterThan(0);
    const stored = JSON.parse(String((api.get("ConfigMap", NS, NAME)?.["data"] as Record<string, string>)[RUNTIME_STATE_KEY])) as RuntimeState;
    expect(Object.keys(stored.balancers["shop/web:80"]?.members ?? {})).toHaveLength(11);
  });

  it("a ConfigMap changed by hand (kubectl edit) is applied; an invalid one is reported and counts as empty", async () => {
    api = await startKubeApi();
    const { log, lines } = capture();
    const s = await store(log);
    api.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: NAME, namespace: NS }, data: { [RUNTIME_STATE_KEY]: JSON.stringify({ balancers: { "a/b:1": { lbmethod: "random2" } } }) } });
    await waitFor(() => (s.current().balancers["a/b:1"]?.lbmethod === "random2" ? true : undefined), { timeoutMs: 1_000, what: "hand edit applied" });
    api.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: NAME, namespace: NS }, data: { [RUNTIME_STATE_KEY]: "{not json" } });
    await waitFor(() => (Object.keys(s.current().balancers).length === 0 ? true : undefined), { timeoutMs: 1_000, what: "invalid -> empty" });
    expect(lines.some((l) => l["level"] === 50 && String(l["msg"]).includes("invalid runtime ConfigMap"))).toBe(true);
    // The next edit replaces the invalid content.
    await s.update(setFlag("a/b:1", "m", "S"));
    expect(String((api.get("ConfigMap", NS, NAME)?.["data"] as Record<string, string>)[RUNTIME_STATE_KEY])).toContain('"flags": "S"');
  });

  it("makes only requests the RBAC list allows, and uses each verb of its rule", async () => {
    api = await startKubeApi();
    const a = await store();
    const b = await store();
    await a.update(setFlag("x/y:1", "m1", "N"));
    await Promise.all([a.update(setFlag("x/y:1", "m2", "N")), b.update(setFlag("x/y:1", "m3", "N"))]);
    const seen = new Set<string>();
    for (const r of api.requests) {
      if (r.resource === null) continue; // discovery
      seen.add(`${r.group ?? "?"}|${r.resource}|${r.verb ?? "?"}`);
      expect(isAllowed(rbacRules, r.group ?? "?", r.resource, r.verb ?? "?"), `${r.method} ${r.path}`).toBe(true);
    }
    for (const verb of ["get", "list", "watch", "create", "update"]) expect(seen.has(`|configmaps|${verb}`), verb).toBe(true);
  });
});

describe("two controllers sharing the runtime ConfigMap (stand-in API server)", () => {
  it("an edit on one is obeyed by the other within 1 s, and survives restarting both", async () => {
    for (const [i, name] of ["web-a", "web-b"].entries()) upstreams.push(await startUpstream(name, { host: `127.0.0.${31 + i}` }));
    const [ua, ub] = upstreams as [Upstream, Upstream];
    const yaml = [
      serviceYaml("shop", "web", 80),
      endpointSlicesYaml("shop", "web", [
        { ip: ua.host, port: ua.port, pod: "web-a" },
        { ip: ub.host, port: ub.port, pod: "web-b" },
      ]),
      ingressYaml("shop", "web", [{ host: "shop.test", path: "/", service: "web", port: 80 }], { "proxypass.io/sticky-session": "ROUTEID" }),
    ].join("---\n");
    api = await startKubeApi({ objects: parseAllDocuments(yaml).map((d) => d.toJSON() as KubeObjectInput) });
    dir = await mkdtemp(join(tmpdir(), "ppi-runtime-"));
    const kubeconfig = await api.writeKubeconfig(dir);
    const start = async (pod: string): Promise<RunningController> => {
      const c = await startController(["--kubeconfig", kubeconfig, "--workers", "1", "--shutdown-delay", "0", "--access-log=false", "--runtime-configmap", `${NS}/${NAME}`], { ...process.env, POD_NAMESPACE: NS, POD_NAME: pod });
      controllers.push(c);
      await waitFor(async () => ((await fetch(`http://127.0.0.1:${c.adminPort}/readyz`).catch(() => null))?.status === 200 ? true : undefined), { timeoutMs: 20_000, what: `${pod} ready` });
      return c;
    };
    const memberFlags = async (c: RunningController): Promise<string | undefined> => {
      const r = (await (await fetch(`http://127.0.0.1:${c.adminPort}/balancer-manager?json`)).json()) as { balancers: Array<{ id: string; members: Array<{ route: string; flags: string }> }> };
      return r.balancers.find((b) => b.id === "shop/web:80")?.members.find((m) => m.route === "web-a")?.flags;
    };
    const served = async (c: RunningController): Promise<Set<string>> => {
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) seen.add(await hit(c)); // Host shop.test (fetch cannot set Host)
      return seen;
    };
    let one = await start("pp-0");
    let two = await start("pp-1");
    const { nonce } = (await (await fetch(`http://127.0.0.1:${one.adminPort}/balancer-manager?json`)).json()) as { nonce: string };
    const edit = await fetch(`http://127.0.0.1:${one.adminPort}/balancer-manager`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ nonce, balancer: "shop/web:80", member: `${ua.host}:${ua.port}`, set: "D" }) });
    expect(edit.status).toBe(200);
    const at = Date.now();
    await waitFor(async () => ((await memberFlags(two)) === "D" ? true : undefined), { timeoutMs: 1_000, intervalMs: 20, what: "replica 2 obeys within 1 s" });
    expect(Date.now() - at).toBeLessThan(1_000);
    expect(await served(two)).toEqual(new Set(["web-b"]));

    for (const c of [one, two]) {
      c.child.kill("SIGINT");
      await c.exited;
    }
    one = await start("pp-0");
    two = await start("pp-1");
    await waitFor(async () => ((await memberFlags(one)) === "D" && (await memberFlags(two)) === "D" ? true : undefined), { timeoutMs: 5_000, what: "edit kept across restarts" });
    expect(await served(one)).toEqual(new Set(["web-b"]));
    expect(await served(two)).toEqual(new Set(["web-b"]));
  }, 90_000);
});
