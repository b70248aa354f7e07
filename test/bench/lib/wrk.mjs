// Runs wrk once (bounded by a hard timeout) and parses its --latency report.
import { spawn } from "node:child_process";

const timeUnits = { us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
const sizeUnits = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** "1.23ms" -> 1.23 (milliseconds) */
export function parseMs(text) {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  return m === null ? null : Number(m[1]) * timeUnits[m[2]];
}

function parseBytes(text) {
  const m = /^([\d.]+)(B|KB|MB|GB|TB)$/.exec(text.trim());
  return m === null ? null : Number(m[1]) * sizeUnits[m[2]];
}

export function parseWrk(out) {
  const pick = (re) => re.exec(out);
  const done = pick(/(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read/);
  const rps = pick(/Requests\/sec:\s+([\d.]+)/);
  const p50 = pick(/^\s+50%\s+(\S+)/m);
  const p99 = pick(/^\s+99%\s+(\S+)/m);
  const sock = pick(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const non2xx = pick(/Non-2xx or 3xx responses: (\d+)/);
  if (done === null || rps === null) return null;
  const seconds = parseMs(done[2]) / 1000;
  return {
    requests: Number(done[1]),
    seconds,
    bytesRead: parseBytes(done[3]),
    rps: Number(rps[1]),
    p50Ms: p50 === null ? null : parseMs(p50[1]),
    p99Ms: p99 === null ? null : parseMs(p99[1]),
    socketErrors: sock === null ? 0 : Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]),
    non2xx: non2xx === null ? 0 : Number(non2xx[1]),
  };
}

/**
 * @param {{ wrk: string, url: string, connections: number, threads: number, seconds: number, cpu: number|null, processes: import("./procs.mjs").Processes, name: string, headers?: string[] }} o
 *   `headers`: extra request header lines ("Connection: close", "Host: h.test"), one `-H` each
 */
export async function runWrk(o) {
  const extra = (o.headers ?? []).flatMap((h) => ["-H", h]);
  const args = [`-t${Math.min(o.threads, o.connections)}`, `-c${o.connections}`, `-d${o.seconds}s`, "--timeout", "2s", "--latency", ...extra, o.url];
  const file = o.cpu === null ? o.wrk : "taskset";
  const argv = o.cpu === null ? args : ["-c", String(o.cpu), o.wrk, ...args];
  const child = spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d) => (out += d));
  const killer = setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // gone
    }
  }, (o.seconds + 15) * 1000);
  o.processes.track(child);
  const code = await new Promise((resolve) => child.on("close", resolve));
  clearTimeout(killer);
  const parsed = parseWrk(out);
  if (parsed === null) throw new Error(`wrk failed for ${o.name} (exit ${code}):\n${out.slice(0, 2000)}`);
  return { ...parsed, raw: out };
}
