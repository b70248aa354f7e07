import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const entry = join(repoRoot, "dist", "cmd", "proxypass-ingress.js");

/** A free TCP port on 127.0.0.1 (bound and released; fine for tests on loopback). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface RunningController {
  readonly child: ChildProcess;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly adminPort: number;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

/** Starts the compiled controller (`npm run build` first) as a child process on free loopback ports. */
export async function startController(args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env): Promise<RunningController> {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first (npm test does)`);
  const httpPort = await freePort();
  const adminPort = await freePort();
  const httpsPort = args.includes("--https-port") ? Number(args[args.indexOf("--https-port") + 1]) : await freePort();
  const child = spawn(
    process.execPath,
    [entry, "--bind-address", "127.0.0.1", "--http-port", String(httpPort), "--admin-port", String(adminPort), ...(args.includes("--https-port") ? [] : ["--https-port", String(httpsPort)]), ...args],
    { stdio: ["ignore", "pipe", "pipe"], env },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, httpPort, httpsPort, adminPort, output: () => out, exited };
}

/** Runs the controller to completion and returns its exit code and output. */
export async function runController(args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [entry, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  return { code, stderr };
}
