// What the image's runtime stage holds, reproduced without Docker: the built dist/ plus
// package.json and package-lock.json in an empty directory, `npm ci --omit=dev` there (as the
// prod-deps stage does), then the controller started from that directory with the Dockerfile's
// NODE_OPTIONS, serving manifests: /healthz, /readyz and a routed request, then SIGTERM.
// Needs `npm run build` first (npm test does) and the npm cache or registry for the install.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { cp, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, repoRoot } from "../support/controller.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { startUpstream, type Upstream } from "../support/upstream.js";
import { waitFor } from "../support/wait.js";
import { dockerfileText, readStages } from "./dockerfile.js";

const run = promisify(execFile);

async function get(port: number, path: string, host = "prod.test"): Promise<{ status: number; body: string }> {
  const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host } });
  return { status: res.statusCode, body: await res.body.text() };
}

/** NODE_OPTIONS of the Dockerfile's runtime stage. */
function imageNodeOptions(): string {
  const { stages } = readStages(dockerfileText());
  const env = stages[stages.length - 1]?.instructions.filter((i) => i.op === "ENV").map((i) => i.args) ?? [];
  const line = env.find((e) => e.startsWith("NODE_OPTIONS="));
  return JSON.parse((line ?? 'NODE_OPTIONS=""').slice("NODE_OPTIONS=".length)) as string;
}

describe("production install (the image's runtime stage, without Docker)", () => {
  let app = "";
  let manifests = "";
  let upstream: Upstream | null = null;
  let child: ChildProcess | null = null;

  beforeAll(async () => {
    const dist = join(repoRoot, "dist", "cmd", "proxypass-ingress.js");
    if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`npm run build\` first (npm test does)`);
    app = await mkdtemp(join(tmpdir(), "ppi-image-"));
    await cp(join(repoRoot, "dist", "cmd"), join(app, "dist", "cmd"), { recursive: true });
    await cp(join(repoRoot, "dist", "src"), join(app, "dist", "src"), { recursive: true });
    await cp(join(repoRoot, "package.json"), join(app, "package.json"));
    await cp(join(repoRoot, "package-lock.json"), join(app, "package-lock.json"));
    // the Dockerfile's prod-deps stage, with the local npm cache
    await run("npm", ["ci", "--omit=dev", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund"], { cwd: app, timeout: 110_000, maxBuffer: 16 * 1024 * 1024 });
  }, 120_000);

  afterAll(async () => {
    if (child !== null && child.exitCode === null) child.kill("SIGKILL");
    await upstream?.close();
    if (app) await rm(app, { recursive: true, force: true });
    if (manifests) await rm(manifests, { recursive: true, force: true });
  });

  it("node_modules holds the production dependencies and no dev tooling", async () => {
    const top = await readdir(join(app, "node_modules"));
    for (const dep of ["pino", "undici", "yaml", "zod", "prom-client"]) expect(top).toContain(dep);
    for (const dev of ["typescript", "vitest", "eslint", "node", "kubernetes-models", "adm-zip"]) expect(top).not.toContain(dev);
    expect(top).not.toContain("@aws-cdk");
  });

  it("starts from the installed directory, reports healthy and ready, routes a request, stops on SIGTERM", async () => {
    upstream = await startUpstream("prod", { host: "127.0.0.1" });
    manifests = await mkdtemp(join(tmpdir(), "ppi-image-manifests-"));
    await writeFile(
      join(manifests, "app.yaml"),
      `${serviceYaml("default", "web", 80)}---\n${endpointSlicesYaml("default", "web", [{ ip: upstream.host, port: upstream.port, pod: "web-0" }])}---\n${ingressYaml("default", "web", [{ host: "prod.test", path: "/", service: "web", port: 80 }])}`,
    );
    const httpPort = await freePort();
    const adminPort = await freePort();
    // Only what the image has: no HOME, the Dockerfile's NODE_ENV/NODE_OPTIONS, cwd /app-like.
    const env = { PATH: process.env.PATH ?? "", NODE_ENV: "production", NODE_OPTIONS: imageNodeOptions(), TMPDIR: tmpdir() };
    const c = spawn(process.execPath, ["dist/cmd/proxypass-ingress.js", "--manifests", manifests, "--bind-address", "127.0.0.1", "--http-port", String(httpPort), "--https-port", String(await freePort()), "--admin-port", String(adminPort), "--workers", "1", "--shutdown-delay", "0", "--shutdown-grace", "2"], {
      cwd: app,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = c;
    let out = "";
    c.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => c.on("exit", (code) => resolve(code)));

    await waitFor(async () => ((await get(adminPort, "/readyz").catch(() => ({ status: 0 }))).status === 200 ? true : undefined), { what: `readyz (output: ${out.slice(-500)})`, timeoutMs: 20_000 });
    expect((await get(adminPort, "/healthz")).status).toBe(200);
    const routed = await get(httpPort, "/hello");
    expect(routed).toEqual({ status: 200, body: "prod" });
    expect(upstream.arrivals.map((a) => a.url)).toContain("/hello");

    c.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 40_000);
});
