// The compiled controller binary (`npm run build` first) on a manifests directory with one sticky
// balancer shop/web:80 of two loopback members, pods "web-a" and "web-b".
import { request as httpRequest } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startController, type RunningController } from "../support/controller.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { startUpstream, type Upstream, type UpstreamHandler } from "../support/upstream.js";
import { waitFor } from "../support/wait.js";

export const BALANCER = "shop/web:80";
export const HOST = "shop.test";

export interface Cluster {
  readonly dir: string;
  readonly ups: Record<"web-a" | "web-b", Upstream>;
  readonly key: (pod: "web-a" | "web-b") => string;
  close(): Promise<void>;
}

/** Upstreams answer with their pod name; `/slow` requests wait for `release()`. */
export async function startCluster(): Promise<Cluster & { release: () => void; held: () => number }> {
  const waiting: Array<() => void> = [];
  const handler = (name: string): UpstreamHandler => (req, res) => {
    req.resume();
    const answer = (): void => {
      res.writeHead(200, { "content-type": "text/plain", "x-upstream": name });
      res.end(name);
    };
    if ((req.url ?? "").startsWith("/slow")) waiting.push(answer);
    else answer();
  };
  const a = await startUpstream("web-a", { host: "127.0.0.21", handler: handler("web-a") });
  const b = await startUpstream("web-b", { host: "127.0.0.22", handler: handler("web-b") });
  const dir = await mkdtemp(join(tmpdir(), "ppi-admin-"));
  await writeFile(
    join(dir, "cluster.yaml"),
    [
      serviceYaml("shop", "web", 80),
      endpointSlicesYaml("shop", "web", [
        { ip: "127.0.0.21", port: a.port, pod: "web-a" },
        { ip: "127.0.0.22", port: b.port, pod: "web-b" },
      ]),
      ingressYaml("shop", "web", [{ host: HOST, path: "/", service: "web", port: 80 }], { "proxypass.io/sticky-session": "ROUTEID" }),
    ].join("---\n"),
  );
  const ups = { "web-a": a, "web-b": b };
  return {
    dir,
    ups,
    key: (pod) => `${ups[pod].host}:${ups[pod].port}`,
    release: () => {
      for (const w of waiting.splice(0)) w();
    },
    held: () => waiting.length,
    close: async () => {
      for (const w of waiting.splice(0)) w();
      await Promise.all([a.close(), b.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One request through the controller; resolves with the answering pod (or the status). */
export function hit(ctl: RunningController, cookie?: string, path = "/"): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port: ctl.httpPort, path, headers: { host: HOST, ...(cookie !== undefined ? { cookie } : {}) }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(res.statusCode === 200 ? Buffer.concat(chunks).toString() : String(res.statusCode)));
    });
    req.on("error", reject);
    req.end();
  });
}

export async function hits(ctl: RunningController, n: number, cookie?: string): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await hit(ctl, cookie));
  return out;
}

/** Starts the controller and waits until it serves the balancer. */
export async function startServing(cluster: Cluster, args: ReadonlyArray<string>): Promise<RunningController> {
  const ctl = await startController(["--manifests", cluster.dir, "--workers", "2", ...args]);
  try {
    await waitFor(async () => (["web-a", "web-b"].includes(await hit(ctl).catch(() => "down")) ? true : undefined), { timeoutMs: 20_000, what: "controller serving" });
  } catch (err) {
    ctl.child.kill("SIGKILL");
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${ctl.output()}`, { cause: err });
  }
  return ctl;
}

export async function stop(ctl: RunningController | null): Promise<void> {
  if (ctl === null) return;
  ctl.child.kill("SIGINT");
  await ctl.exited;
}

export async function adminJson(ctl: RunningController, path = "/balancer-manager?json"): Promise<{ nonce: string; balancers: Array<{ id: string; lbmethod: string; members: Array<{ key: string; route: string; flags: string; busy: number; loadfactor: number }> }> }> {
  const r = await fetch(`http://127.0.0.1:${ctl.adminPort}${path}`);
  if (r.status !== 200) throw new Error(`admin ${path}: ${r.status}`);
  return (await r.json()) as Awaited<ReturnType<typeof adminJson>>;
}

export async function post(ctl: RunningController, body: Record<string, unknown>): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${ctl.adminPort}/balancer-manager`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.text() };
}
