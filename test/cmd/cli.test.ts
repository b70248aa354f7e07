// The compiled controller as a user runs it: flags, readiness, routing from manifest files,
// live edits, a broken file, and SIGTERM. Real sockets on loopback.
import { afterEach, describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { runController, startController, type RunningController } from "../support/controller.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { startUpstream, type Upstream } from "../support/upstream.js";
import { waitFor } from "../support/wait.js";

async function get(port: number, path: string, host = "demo.test"): Promise<{ status: number; body: string }> {
  const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host } });
  return { status: res.statusCode, body: await res.body.text() };
}

describe("proxypass-ingress command", () => {
  it.each([
    { name: "unknown flag exits 2 with a message", args: ["--manifests", "x", "--bogus"], message: /unknown flag --bogus/ },
    { name: "bad port exits 2", args: ["--manifests", "x", "--http-port", "-1"], message: /invalid --http-port/ },
    { name: "no manifests and no kubeconfig anywhere exits 2 and says why", args: [], message: /PPI_ERR_KUBECONFIG|kubeconfig/i },
    { name: "a missing --kubeconfig file exits 2", args: ["--kubeconfig", "/nonexistent/kubeconfig"], message: /nonexistent/ },
    { name: "--manifests with --kubeconfig exits 2", args: ["--manifests", "x", "--kubeconfig", "y"], message: /cannot be combined/ },
    { name: "bad --configmap exits 2", args: ["--manifests", "x", "--configmap", "nonamespace"], message: /NAMESPACE\/NAME/ },
  ])("$name", async ({ args, message }) => {
    // No in-cluster account, no $KUBECONFIG, an empty HOME: nothing to fall back on.
    const env = { PATH: process.env.PATH ?? "", HOME: "/nonexistent-home" };
    const { code, stderr } = await runController(args, env);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });

  describe("serving manifests", () => {
    let dir = "";
    let upstreams: Upstream[] = [];
    let ctl: RunningController | null = null;

    afterEach(async () => {
      if (ctl && ctl.child.exitCode === null) ctl.child.kill("SIGKILL");
      await Promise.all(upstreams.map((u) => u.close()));
      upstreams = [];
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("routes across members, follows edits, survives a broken file, drains on SIGTERM", async () => {
      upstreams = await Promise.all(["a", "b", "c"].map((n, i) => startUpstream(n, { host: `127.0.0.${i + 2}` })));
      dir = await mkdtemp(join(tmpdir(), "ppi-cli-"));
      const members = upstreams.map((u) => ({ ip: u.host, port: u.port, pod: u.name }));
      await writeFile(join(dir, "svc.yaml"), serviceYaml("default", "web", 80) + "---\n" + endpointSlicesYaml("default", "web", members));
      await writeFile(join(dir, "ing.yaml"), ingressYaml("default", "web", [{ host: "demo.test", path: "/", service: "web", port: 80 }]));

      ctl = await startController(["--manifests", dir, "--workers", "2", "--shutdown-delay", "1", "--shutdown-grace", "5", "--access-log=false"]);
      const c = ctl;
      await waitFor(async () => ((await get(c.adminPort, "/readyz")).status === 200 ? true : undefined), { what: "readyz", timeoutMs: 30_000 });
      expect((await get(c.adminPort, "/healthz")).status).toBe(200);

      const names = new Set<string>();
      for (let i = 0; i < 30; i++) names.add((await get(c.httpPort, "/x")).body);
      expect([...names].sort()).toEqual(["a", "b", "c"]);
      expect((await get(c.httpPort, "/x", "other.test")).status).toBe(404);

      // Remove member "c": live within a second, and it gets nothing afterwards.
      await writeFile(join(dir, "svc.yaml"), serviceYaml("default", "web", 80) + "---\n" + endpointSlicesYaml("default", "web", members.slice(0, 2)));
      await waitFor(
        async () => {
          const seen = new Set<string>();
          for (let i = 0; i < 12; i++) seen.add((await get(c.httpPort, "/y")).body);
          return seen.has("c") ? undefined : true;
        },
        { timeoutMs: 3000, what: "member c removed" },
      );
      const cBefore = upstreams[2]?.arrivals.length ?? 0;
      for (let i = 0; i < 20; i++) expect((await get(c.httpPort, "/z")).status).toBe(200);
      expect(upstreams[2]?.arrivals.length).toBe(cBefore);

      // A broken file: logged with its path, the last good config stays live.
      await writeFile(join(dir, "ing.yaml"), "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: [unclosed\n");
      await waitFor(() => (c.output().includes("ing.yaml") ? true : undefined), { timeoutMs: 3000, what: "parse error logged" });
      for (let i = 0; i < 10; i++) expect((await get(c.httpPort, "/w")).status).toBe(200);

      // SIGTERM: unready during the shutdown delay, still serving, then exit 0.
      c.child.kill("SIGTERM");
      await waitFor(async () => ((await get(c.adminPort, "/readyz")).status === 503 ? true : undefined), { what: "readyz 503" });
      expect((await get(c.httpPort, "/v")).status).toBe(200);
      expect(await c.exited).toBe(0);
    });
  });
});
