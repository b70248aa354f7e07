// The compiled controller against the stand-in API server, as it runs in a cluster: informers feed
// the same builder, endpoint changes reach routing, and an API outage keeps traffic flowing.
import { afterEach, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { parseAllDocuments } from "yaml";
import { startController, type RunningController } from "../support/controller.js";
import { startKubeApi, type KubeApi, type KubeObjectInput } from "../support/kube-api.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml, type MemberSpec } from "../support/manifests.js";
import { startUpstream, type Upstream } from "../support/upstream.js";
import { waitFor } from "../support/wait.js";

function objects(yamlText: string): KubeObjectInput[] {
  return parseAllDocuments(yamlText).map((d) => d.toJSON() as KubeObjectInput);
}

async function get(port: number, path: string, host = "shop.test"): Promise<{ status: number; body: string }> {
  const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host } });
  return { status: res.statusCode, body: await res.body.text() };
}

/** Names of the upstreams that answered n requests. */
async function answering(port: number, n = 12): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const r = await get(port, "/");
    seen.add(r.status === 200 ? r.body : `status ${r.status}`);
  }
  return [...seen].sort();
}

describe("proxypass-ingress --kubeconfig (stand-in API server)", () => {
  let api: KubeApi | null = null;
  let ctl: RunningController | null = null;
  let upstreams: Upstream[] = [];
  let dir = "";

  afterEach(async () => {
    if (ctl && ctl.child.exitCode === null) ctl.child.kill("SIGKILL");
    await api?.close();
    await Promise.all(upstreams.map((u) => u.close()));
    if (dir) await rm(dir, { recursive: true, force: true });
    api = null;
    ctl = null;
    upstreams = [];
  });

  it("serves the cluster's Ingresses, follows EndpointSlice changes, and rides out an API outage", async () => {
    upstreams = await Promise.all(["a", "b", "c"].map((n, i) => startUpstream(n, { host: `127.0.0.${i + 2}` })));
    const members: MemberSpec[] = upstreams.map((u) => ({ ip: u.host, port: u.port, pod: u.name }));
    const [a, b, c] = members as [MemberSpec, MemberSpec, MemberSpec];
    api = await startKubeApi({
      objects: objects(
        [
          serviceYaml("shop", "web", 80),
          endpointSlicesYaml("shop", "web", [a, b]),
          ingressYaml("shop", "web", [{ host: "shop.test", path: "/", service: "web", port: 80 }]),
          // The Service whose address the controller publishes into Ingress status.
          `apiVersion: v1
kind: Service
metadata: { name: proxypass, namespace: ingress }
spec: { type: LoadBalancer, ports: [{ name: http, port: 80 }] }
status: { loadBalancer: { ingress: [{ ip: 203.0.113.7 }] } }
`,
        ].join("---\n"),
      ),
    });
    dir = await mkdtemp(join(tmpdir(), "ppi-kube-"));
    const kubeconfig = await api.writeKubeconfig(dir);
    ctl = await startController(
      ["--kubeconfig", kubeconfig, "--workers", "2", "--shutdown-delay", "0", "--access-log=false", "--publish-service", "ingress/proxypass"],
      { ...process.env, POD_NAMESPACE: "ingress", POD_NAME: "proxypass-0" },
    );
    const port = ctl.httpPort;
    const adminPort = ctl.adminPort;
    await waitFor(async () => ((await get(adminPort, "/readyz")).status === 200 ? true : undefined), { what: "readyz", timeoutMs: 30_000 });
    expect(await answering(port)).toEqual(["a", "b"]);

    // The only replica becomes leader and publishes the Service's address into the Ingress status.
    const k0 = api;
    await waitFor(
      () => {
        const status = k0.get("Ingress", "shop", "web")?.["status"] as { loadBalancer?: { ingress?: Array<{ ip?: string }> } } | undefined;
        return status?.loadBalancer?.ingress?.[0]?.ip === "203.0.113.7" ? true : undefined;
      },
      { timeoutMs: 5000, what: "Ingress status written" },
    );
    expect(k0.get("Lease", "ingress", "proxypass-ingress-leader")?.["spec"]).toMatchObject({ holderIdentity: "ingress/proxypass-0" });

    // An invalid annotation: one Warning Event on the Ingress; the last valid version keeps serving.
    for (const o of objects(ingressYaml("shop", "web", [{ host: "shop.test", path: "/", service: "web", port: 80 }], { "proxypass.io/timeout": "soon" }))) k0.apply(o);
    await waitFor(() => (k0.list("Event", "shop").some((e) => (e["reason"] as string) === "InvalidAnnotation") ? true : undefined), { timeoutMs: 5000, what: "Event" });
    expect(await answering(port)).toEqual(["a", "b"]);
    const metricsText = (await get(adminPort, "/metrics")).body;
    expect(metricsText).toMatch(/proxypass_config_diagnostics\{kind="Ingress",reason="InvalidAnnotation",severity="error"\} 1/);

    // Scale up: a third endpoint appears in the EndpointSlices.
    const k = api;
    for (const o of objects(endpointSlicesYaml("shop", "web", [a, b, c]))) k.apply(o);
    await waitFor(async () => ((await answering(port)).join() === "a,b,c" ? true : undefined), { timeoutMs: 3000, what: "member c live" });

    // API outage: traffic keeps flowing on the last snapshot.
    await k.stop();
    for (let i = 0; i < 10; i++) expect((await get(port, "/")).status).toBe(200);
    expect((await get(adminPort, "/readyz")).status).toBe(200);
    // A change made while the controller cannot see it (scale down to c) is live within 5 s of recovery.
    for (const o of objects(endpointSlicesYaml("shop", "web", [c]))) k.apply(o);
    k.remove("EndpointSlice", "shop", `web-${a.port}`);
    k.remove("EndpointSlice", "shop", `web-${b.port}`);
    await k.start();
    await waitFor(async () => ((await answering(port)).join() === "c" ? true : undefined), { timeoutMs: 6000, intervalMs: 100, what: "reconverged after outage" });

    // The Ingress is deleted: 404.
    k.remove("Ingress", "shop", "web");
    await waitFor(async () => ((await get(port, "/")).status === 404 ? true : undefined), { timeoutMs: 3000, what: "ingress removed" });

    const running = ctl;
    running.child.kill("SIGTERM");
    expect(await running.exited).toBe(0);
    // Released on shutdown, so another replica can take over at once.
    expect((k.get("Lease", "ingress", "proxypass-ingress-leader")?.["spec"] as { holderIdentity?: string } | undefined)?.holderIdentity ?? "").not.toBe("ingress/proxypass-0");
  });
});
