// The controller binary's own faults (issue #10): SIGTERM (readyz first, Connection: close during
// --shutdown-delay so keep-alive clients move, in-flight requests finish within the grace) and a
// crashed data-plane worker (the test-only PROXYPASS_CHAOS_HOOKS=1 SIGUSR2 hook kills one; it is
// respawned while the other serves).
import { afterEach, describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { startController, type RunningController } from "../support/controller.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { startUpstream, type Upstream } from "../support/upstream.js";
import { waitFor } from "../support/wait.js";

let dir = "";
let ctl: RunningController | null = null;
let upstreams: Upstream[] = [];
const agents: Agent[] = [];

afterEach(async () => {
  if (ctl !== null && ctl.child.exitCode === null) ctl.child.kill("SIGKILL");
  ctl = null;
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await Promise.all(upstreams.map((u) => u.close()));
  upstreams = [];
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function start(args: string[], env: NodeJS.ProcessEnv = process.env, slow = false): Promise<RunningController> {
  upstreams = await Promise.all(
    ["a", "b"].map((n) =>
      startUpstream(n, (req, res) => {
        req.resume();
        const delay = slow && req.url === "/slow" ? 1_500 : 0;
        setTimeout(() => {
          res.writeHead(200, { "content-type": "text/plain" });
          res.end(n);
        }, delay);
      }),
    ),
  );
  dir = await mkdtemp(join(tmpdir(), "ppi-life-"));
  const members = upstreams.map((u) => ({ ip: u.host, port: u.port, pod: u.name }));
  await writeFile(join(dir, "svc.yaml"), serviceYaml("default", "web", 80) + "---\n" + endpointSlicesYaml("default", "web", members));
  await writeFile(join(dir, "ing.yaml"), ingressYaml("default", "web", [{ host: "demo.test", path: "/", service: "web", port: 80 }]));
  const c = await startController(["--manifests", dir, "--workers", "2", "--access-log=false", ...args], env);
  ctl = c;
  await waitFor(async () => ((await request(`http://127.0.0.1:${c.adminPort}/readyz`)).statusCode === 200 ? true : undefined), { what: "readyz", timeoutMs: 60_000 });
  return c;
}

async function get(c: RunningController, path: string, dispatcher?: Agent): Promise<{ status: number; connection: string | undefined; body: string }> {
  const res = await request(`http://127.0.0.1:${c.httpPort}${path}`, { headers: { host: "demo.test" }, ...(dispatcher !== undefined ? { dispatcher } : {}) });
  const connection = res.headers["connection"];
  return { status: res.statusCode, connection: typeof connection === "string" ? connection : undefined, body: await res.body.text() };
}

describe("SIGTERM", () => {
  it("readyz fails at once; during --shutdown-delay requests are served with Connection: close; an in-flight request finishes; exit 0", async () => {
    const c = await start(["--shutdown-delay", "2", "--shutdown-grace", "10"], process.env, true);
    const agent = new Agent({ keepAliveTimeout: 30_000, connections: 1 });
    agents.push(agent);
    const before = await get(c, "/x", agent);
    expect(before.status).toBe(200);
    expect(before.connection).toBe("keep-alive");
    const slow = get(c, "/slow");
    await new Promise((r) => setTimeout(r, 200));
    c.child.kill("SIGTERM");
    await waitFor(async () => ((await request(`http://127.0.0.1:${c.adminPort}/readyz`)).statusCode === 503 ? true : undefined), { what: "readyz 503", timeoutMs: 30_000 });
    const during = await get(c, "/y", agent);
    expect(during.status).toBe(200);
    expect(during.connection).toBe("close");
    expect((await slow).status).toBe(200);
    expect(await c.exited).toBe(0);
  }, 120_000);
});

describe("a crashed data-plane worker", () => {
  it("is respawned with the current snapshot while the other keeps serving (PROXYPASS_CHAOS_HOOKS=1, SIGUSR2)", async () => {
    const c = await start(["--shutdown-delay", "0"], { ...process.env, PROXYPASS_CHAOS_HOOKS: "1" });
    const statusAuto = async (): Promise<string> => (await (await request(`http://127.0.0.1:${c.adminPort}/server-status?auto`)).body.text());
    c.child.kill("SIGUSR2");
    await waitFor(() => (c.output().includes("chaos hook: killing a data-plane worker") ? true : undefined), { what: "hook log line" });
    // Requests on new connections keep succeeding while worker 0 restarts and after.
    for (let i = 0; i < 20; i++) expect((await get(c, "/z")).status).toBe(200);
    await waitFor(() => (c.output().includes("respawning") ? true : undefined), { what: "respawn logged", timeoutMs: 30_000 });
    await waitFor(async () => ((await statusAuto()).includes("Processes: 2") ? true : undefined), { what: "both workers running", timeoutMs: 60_000 });
    for (let i = 0; i < 10; i++) expect((await get(c, "/w")).status).toBe(200);
  }, 120_000);

  it("the hook is off by default: SIGUSR2 without PROXYPASS_CHAOS_HOOKS kills no worker", async () => {
    const env = { ...process.env };
    delete env["PROXYPASS_CHAOS_HOOKS"];
    const c = await start(["--shutdown-delay", "0"], env);
    // Node's default for SIGUSR2 with no listener terminates the process; an unhandled signal must
    // not be mistaken for the hook: the controller exits, it does not respawn a worker.
    c.child.kill("SIGUSR2");
    await c.exited;
    expect(c.output()).not.toContain("chaos hook");
  }, 120_000);
});
