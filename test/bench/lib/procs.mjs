// Child process bookkeeping: every process we start gets its own process group, is
// recorded, and is killed on normal exit, Ctrl-C, SIGTERM and uncaught errors. A small
// detached watchdog also kills the groups if this process dies without cleaning up
// (SIGKILL, OOM), so a benchmark never leaves nginx/haproxy/apache/node behind.
import { spawn, spawnSync } from "node:child_process";
import { openSync, writeFileSync, closeSync } from "node:fs";
import { join } from "node:path";

export class Processes {
  #dir;
  #groups = new Map(); // pid -> { name, child }
  #watchdog = null;
  #cleaning = null;

  /** @param {string} dir temp dir for logs and the watchdog's pid list */
  constructor(dir) {
    this.#dir = dir;
  }

  /** Start `cmd args` in its own process group; stdout/stderr go to <dir>/<name>.log. */
  start(name, cmd, args, { cpu = null, env = process.env, cwd = this.#dir } = {}) {
    const log = openSync(join(this.#dir, `${name}.log`), "a");
    const [file, argv] = cpu === null ? [cmd, args] : ["taskset", ["-c", String(cpu), cmd, ...args]];
    const child = spawn(file, argv, { cwd, env, detached: true, stdio: ["ignore", log, log] });
    closeSync(log);
    const entry = { name, child, exited: false, code: null };
    child.on("exit", (code, signal) => {
      entry.exited = true;
      entry.code = code ?? signal;
    });
    child.on("error", () => {
      entry.exited = true;
    });
    if (child.pid !== undefined) this.#groups.set(child.pid, entry);
    this.#writePids();
    return { name, pid: child.pid, child, entry, log: join(this.#dir, `${name}.log`) };
  }

  /** Track a child started elsewhere (detached), e.g. the load generator, until it exits. */
  track(child) {
    if (child.pid === undefined) return;
    const entry = { name: "tracked", child, exited: false, code: null };
    this.#groups.set(child.pid, entry);
    this.#writePids();
    child.on("exit", () => {
      entry.exited = true;
      this.#groups.delete(child.pid);
      this.#writePids();
    });
  }

  /** Stop one process group: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(pid, graceMs = 3000) {
    const entry = this.#groups.get(pid);
    if (entry === undefined) return;
    signalGroup(pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (!entry.exited && Date.now() < deadline) await sleep(50);
    signalGroup(pid, "SIGKILL"); // also reaps grandchildren that ignored the parent's exit
    const hard = Date.now() + 2000;
    while (!entry.exited && Date.now() < hard) await sleep(20);
    this.#groups.delete(pid);
    this.#writePids();
  }

  async stopAll() {
    this.#cleaning ??= Promise.all([...this.#groups.keys()].map((pid) => this.stop(pid)));
    await this.#cleaning;
    this.#cleaning = null;
    if (this.#watchdog !== null) {
      signalGroup(this.#watchdog, "SIGKILL");
      this.#watchdog = null;
    }
  }

  /** Last resort from a synchronous 'exit' handler. */
  killAllSync() {
    for (const pid of this.#groups.keys()) signalGroup(pid, "SIGKILL");
    this.#groups.clear();
    if (this.#watchdog !== null) signalGroup(this.#watchdog, "SIGKILL");
  }

  /** Kill every group if this process disappears without running its handlers. */
  startWatchdog() {
    const list = join(this.#dir, "pgids");
    writeFileSync(list, "");
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; for g in $(cat '${list}' 2>/dev/null); do kill -9 -- -$g 2>/dev/null; done`;
    const child = spawn("sh", ["-c", script], { detached: true, stdio: "ignore" });
    child.unref();
    this.#watchdog = child.pid ?? null;
  }

  #writePids() {
    try {
      writeFileSync(join(this.#dir, "pgids"), [...this.#groups.keys()].join("\n") + "\n");
    } catch {
      // temp dir already removed during shutdown
    }
  }
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `which`, without a shell. */
export function findTool(name) {
  const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  if (r.status === 0 && r.stdout.trim() !== "") return r.stdout.trim();
  for (const dir of ["/usr/sbin", "/sbin", "/usr/local/sbin"]) {
    const p = `${dir}/${name}`;
    if (spawnSync("test", ["-x", p]).status === 0) return p;
  }
  return null;
}
