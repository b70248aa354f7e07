// Process-tree CPU and memory from /proc: a proxy is measured with all its descendants
// (nginx master + worker, apache parent + children, node cluster workers). Threads are
// part of their process's figures already.
import { readdirSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";

/** USER_HZ: 100 on every mainstream Linux build; asked from getconf when present. */
export const clockTicks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim()) || 100;

function readStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // f[0] = state (field 3), so field n is f[n - 3]
    return { ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]) };
  } catch {
    return null;
  }
}

/** The pid and all its descendants that are alive now. */
export function treePids(root) {
  const children = new Map();
  for (const name of readdirSync("/proc")) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const s = readStat(name);
    if (s === null) continue;
    const list = children.get(s.ppid);
    if (list === undefined) children.set(s.ppid, [Number(name)]);
    else list.push(Number(name));
  }
  const out = [];
  const todo = [root];
  while (todo.length > 0 && out.length < 10_000) {
    const pid = todo.pop();
    out.push(pid);
    for (const c of children.get(pid) ?? []) todo.push(c);
  }
  return out;
}

/** utime+stime (+ reaped children's) of the tree, in clock ticks. */
export function treeCpuTicks(root) {
  let ticks = 0;
  for (const pid of treePids(root)) {
    const s = readStat(pid);
    if (s !== null) ticks += s.utime + s.stime + s.cutime + s.cstime;
  }
  return ticks;
}

/** Sum of VmRSS over the tree, in KiB. */
export function treeRssKiB(root) {
  let kib = 0;
  for (const pid of treePids(root)) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m !== null) kib += Number(m[1]);
    } catch {
      // exited between listing and reading
    }
  }
  return kib;
}

/** Whole-machine CPU from /proc/stat, in ticks: busy (incl. steal) and steal. */
export function hostCpuTicks() {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return { busy: user + nice + system + irq + softirq + steal, steal };
}

/** This process plus its reaped children (wrk after it exits), in ticks. */
export function selfCpuTicks() {
  const s = readStat("self");
  return s === null ? 0 : s.utime + s.stime + s.cutime + s.cstime;
}

/** pid -> { name, ticks } for every process, to name the culprits of a noisy run. */
export function allProcessTicks() {
  const out = new Map();
  for (const name of readdirSync("/proc")) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, "utf8");
      const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
      out.set(Number(name), { name: text.slice(text.indexOf("(") + 1, text.lastIndexOf(")")), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // exited
    }
  }
  return out;
}

/** The processes that used most CPU between two snapshots, excluding `skip` pids. */
export function topConsumers(before, after, skip, seconds, n = 3) {
  const rows = [];
  for (const [pid, a] of after) {
    if (skip.has(pid)) continue;
    const d = a.ticks - (before.get(pid)?.ticks ?? 0);
    if (d > 0) rows.push({ pid, name: a.name, cpuPercent: (d / clockTicks / seconds) * 100 });
  }
  return rows.sort((x, y) => y.cpuPercent - x.cpuPercent).slice(0, n);
}
