// The controller binary under test (dist/cmd/proxypass-ingress.js): started on free loopback ports,
// its readiness polled, its RSS sampled from /proc (worker threads share the process), its admin
// pages read. Output is kept (the last 200 lines) for the report when something goes wrong.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { request } from "undici";
import { entry, freePort } from "../../support/controller.js";

export interface ControllerOptions {
  readonly args: ReadonlyArray<string>;
  readonly env?: NodeJS.ProcessEnv;
  readonly workers?: number;
}

export class Controller {
  readonly child: ChildProcess;
  readonly httpPort: number;
  readonly adminPort: number;
  readonly exited: Promise<number | null>;
  maxRssBytes = 0;
  #lines: string[] = [];
  #sampler: NodeJS.Timeout;

  private constructor(child: ChildProcess, httpPort: number, adminPort: number) {
    this.child = child;
    this.httpPort = httpPort;
    this.adminPort = adminPort;
    const keep = (d: Buffer): void => {
      for (const line of d.toString().split("\n")) if (line !== "") this.#lines.push(line);
      if (this.#lines.length > 400) this.#lines = this.#lines.slice(-200);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    this.#sampler = setInterval(() => this.sampleRss(), 250);
    this.#sampler.unref();
  }

  static async start(options: ControllerOptions): Promise<Controller> {
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
    const httpPort = await freePort();
    const adminPort = await freePort();
    const child = spawn(
      process.execPath,
      [entry, "--bind-address", "127.0.0.1", "--http-port", String(httpPort), "--admin-port", String(adminPort), "--workers", String(options.workers ?? 2), "--access-log=false", "--log-level", "warn", ...options.args],
      { stdio: ["ignore", "pipe", "pipe"], env: options.env ?? process.env },
    );
    const c = new Controller(child, httpPort, adminPort);
    await c.waitReady(90_000);
    return c;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get output(): string {
    return this.#lines.join("\n");
  }

  /** RSS of the whole process (primary and worker threads), bytes; 0 once it has exited. */
  sampleRss(): number {
    const pid = this.child.pid;
    if (pid === undefined || this.child.exitCode !== null) return 0;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      const rss = m === null ? 0 : Number(m[1]) * 1024;
      if (rss > this.maxRssBytes) this.maxRssBytes = rss;
      return rss;
    } catch {
      return 0;
    }
  }

  async ready(): Promise<boolean> {
    try {
      const res = await request(`http://127.0.0.1:${this.adminPort}/readyz`, { headersTimeout: 2_000, bodyTimeout: 2_000 });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.ready())) {
      if (this.child.exitCode !== null) throw new Error(`controller exited (${this.child.exitCode}):\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`controller not ready after ${timeoutMs} ms:\n${this.output}`);
      await sleep(100);
    }
  }

  async admin(path: string): Promise<string> {
    const res = await request(`http://127.0.0.1:${this.adminPort}${path}`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
    return res.body.text();
  }

  /** A `Key: value` of server-status?auto, as a number (NaN when absent). */
  async statusValue(key: string): Promise<number> {
    const text = await this.admin("/server-status?auto");
    const m = new RegExp(`^${key}: (\\S+)$`, "m").exec(text);
    return m === null ? Number.NaN : Number(m[1]);
  }

  /** A metric's value from /metrics (first series matching the name and label text), NaN when absent. */
  async metric(name: string, labels = ""): Promise<number> {
    const text = await this.admin("/metrics");
    for (const line of text.split("\n")) {
      if (!line.startsWith(name)) continue;
      const rest = line.slice(name.length);
      if (labels === "" ? rest.startsWith(" ") || rest.startsWith("{") : rest.includes(labels)) return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return Number.NaN;
  }

  /** Sum of every series of a metric (NaN when absent). */
  async metricSum(name: string): Promise<number> {
    const text = await this.admin("/metrics");
    let sum = Number.NaN;
    for (const line of text.split("\n")) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      sum = (Number.isNaN(sum) ? 0 : sum) + Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return sum;
  }

  /** Ends the process (SIGKILL unless it has exited); resolves once it is gone. */
  async kill(): Promise<void> {
    clearInterval(this.#sampler);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }

  stopSampling(): void {
    clearInterval(this.#sampler);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
