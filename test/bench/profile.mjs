// Summarizes V8 CPU profiles (`--cpu-prof`) of a proxy: self time per function and per owner
// (native bindings = the syscalls' side: writev, read...; node:http; node:net/streams; undici;
// our dist/ files one by one; GC; ...), as % of the thread's busy (non-idle) time, and in µs per
// request when the number of requests it served is known. `npm run bench -- --cpu-prof` calls it;
// alone: node test/bench/profile.mjs DIR|FILE... [--requests N] [--top 20] [--json]
import { readFileSync, readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

/** The owner a profile node's self time is charged to. */
export function ownerOf(callFrame) {
  const { functionName: name, url } = callFrame;
  if (name === "(garbage collector)") return "GC";
  if (name === "(program)") return "V8/native (program)";
  if (name === "(idle)" || name === "(root)") return null;
  if (url === "") return "native (C++ bindings: writev, read, ... and their syscalls)";
  if (url.startsWith("node:")) {
    const m = url.slice(5);
    if (/^(_http_|http$|internal\/http)/.test(m)) return "node:http";
    if (/^(net$|stream$|internal\/stream_base_commons|internal\/streams\/|internal\/net)/.test(m)) return "node:net + streams";
    if (/^(events$|internal\/timers|timers$|internal\/process\/task_queues|internal\/async_hooks|internal\/perf\/)/.test(m)) return "node:events, timers, ticks";
    return `node:other (${m.replace(/^internal\//, "")})`;
  }
  if (url.startsWith("wasm://")) return "undici (llhttp wasm parser)";
  const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm !== null) return nm[1];
  const ours = /\/dist\/((?:src|cmd)\/.*)$/.exec(url);
  if (ours !== null) return `ours: ${ours[1]}`;
  const bench = /\/test\/bench\/(.*)$/.exec(url);
  if (bench !== null) return `bench script: ${bench[1]}`;
  return "other";
}

/**
 * One .cpuprofile: self µs per function and per owner, busy and idle µs. `fromUs`/`toUs` keep only
 * samples in that window, in CLOCK_MONOTONIC µs (`process.hrtime.bigint() / 1000n` of any process:
 * V8 stamps profiles with the same clock), e.g. the measured rounds without start-up and warm-up.
 */
export function summarizeProfile(file, { fromUs = -Infinity, toUs = Infinity } = {}) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const deltas = profile.timeDeltas;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += deltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    // A sample's delta is the time until the next sample: charge it to this sample's node.
    const dt = deltas[i + 1] ?? 0;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
  }
  const functions = new Map();
  const owners = new Map();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    const owner = ownerOf(node.callFrame);
    if (owner === null) {
      idle += us;
      continue;
    }
    busy += us;
    owners.set(owner, (owners.get(owner) ?? 0) + us);
    const cf = node.callFrame;
    const where = cf.url === "" ? "" : ` ${cf.url.replace(/^.*\/(node_modules|dist)\//, "$1/")}:${cf.lineNumber + 1}`;
    const key = `${cf.functionName || "(anonymous)"}${where}`;
    const f = functions.get(key) ?? { name: key, owner, us: 0 };
    f.us += us;
    functions.set(key, f);
  }
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]);
  return {
    file: basename(file),
    busyUs: busy,
    idleUs: idle,
    owners: sorted(owners).map(([owner, us]) => ({ owner, us, pct: (us / busy) * 100 })),
    functions: [...functions.values()].sort((a, b) => b.us - a.us).map((f) => ({ ...f, pct: (f.us / busy) * 100 })),
  };
}

/**
 * Every profile in `dir` (one per thread); the request thread first: the one with the most node:http
 * time (a proxypass data-plane worker, not the primary, whose busy time is mostly start-up and builds).
 */
export function summarizeProfiles(dir, window = {}) {
  let files;
  try {
    files = statSync(dir).isDirectory() ? readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).map((f) => join(dir, f)) : [dir];
  } catch {
    return null;
  }
  if (files.length === 0) return null;
  const http = (t) => t.owners.find((o) => o.owner === "node:http")?.us ?? 0;
  const threads = files.map((f) => summarizeProfile(f, window)).sort((a, b) => http(b) - http(a) || b.busyUs - a.busyUs);
  return { threads };
}

/** Prints the busiest thread: owners, then the top functions; µs/request when `requests` is given. */
export function printProfile(id, summary, { top = 15, requests = null } = {}) {
  const t = summary.threads[0];
  const perReq = (us) => (requests ? ` ${(us / requests).toFixed(1).padStart(6)} µs/req` : "");
  console.log("");
  console.log(`profile ${id}: request thread ${t.file}, busy ${(t.busyUs / 1e6).toFixed(1)} s${requests ? ` over ${requests} requests (${(t.busyUs / requests).toFixed(1)} µs/req)` : ""}; other threads busy ${summary.threads.slice(1).map((x) => `${(x.busyUs / 1e6).toFixed(1)} s`).join(", ") || "-"}`);
  console.log("  by owner (self time, % of busy):");
  for (const o of t.owners.slice(0, 14)) console.log(`    ${o.pct.toFixed(1).padStart(5)}%${perReq(o.us)}  ${o.owner}`);
  console.log(`  top ${top} functions (self time):`);
  for (const f of t.functions.slice(0, top)) console.log(`    ${f.pct.toFixed(1).padStart(5)}%${perReq(f.us)}  ${f.name}  [${f.owner}]`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { requests: { type: "string" }, top: { type: "string", default: "20" }, json: { type: "boolean", default: false } } });
  if (positionals.length === 0) {
    console.error("usage: node test/bench/profile.mjs DIR|FILE... [--requests N] [--top 20] [--json]");
    process.exit(2);
  }
  for (const p of positionals) {
    const s = summarizeProfiles(p);
    if (s === null) {
      console.error(`${p}: no .cpuprofile`);
      continue;
    }
    if (values.json) console.log(JSON.stringify({ path: p, ...s, threads: s.threads.map((t) => ({ ...t, functions: t.functions.slice(0, 50) })) }, null, 2));
    else printProfile(p, s, { top: Number(values.top), requests: values.requests === undefined ? null : Number(values.requests) });
  }
}
