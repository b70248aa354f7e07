// A small parser of `server-status?auto` that follows Lusitaniae/apache_exporter's collector
// (collector/collector.go): each line is split at the first ":" and both sides trimmed; the keys it
// knows are parsed with strconv.ParseFloat and any failure fails the whole scrape; ServerVersion
// must read "NAME/x.y.z ..."; `ProxyBalancer[i]Name` sets the current balancer,
// `ProxyBalancer[i]Worker[j]Name` the current worker, and the worker's Status/Elected/Busy/Sent/Rcvd
// lines become series labelled with those names (Sent/Rcvd with a trailing k/K trimmed).

export interface ExporterMetrics {
  version: number | null;
  mpm: string;
  generation: number | null;
  accessesTotal: number | null;
  kBytesTotal: number | null;
  durationTotal: number | null;
  uptime: number | null;
  workers: Record<string, number>;
  processes: Record<string, number>;
  connections: Record<string, number>;
  scoreboard: Record<string, number>;
  /** "balancer\0worker\0status" -> 1 */
  balancerStatus: Map<string, number>;
  /** "balancer\0worker" -> value */
  balancerElected: Map<string, number>;
  balancerBusy: Map<string, number>;
  balancerSentKB: Map<string, number>;
  balancerRcvdKB: Map<string, number>;
}

const NUMERIC = new Map<string, (m: ExporterMetrics, v: number) => void>([
  ["ParentServerConfigGeneration", (m, v) => (m.generation = v)],
  ["ParentServerMPMGeneration", () => undefined],
  ["Load1", () => undefined],
  ["Load5", () => undefined],
  ["Load15", () => undefined],
  ["Total Accesses", (m, v) => (m.accessesTotal = v)],
  ["Total kBytes", (m, v) => (m.kBytesTotal = v)],
  ["Total Duration", (m, v) => (m.durationTotal = v)],
  ["CPUUser", () => undefined],
  ["CPUChildrenUser", () => undefined],
  ["CPUSystem", () => undefined],
  ["CPUChildrenSystem", () => undefined],
  ["CPULoad", () => undefined],
  ["Uptime", (m, v) => (m.uptime = v)],
  ["BusyWorkers", (m, v) => (m.workers["busy"] = v)],
  ["IdleWorkers", (m, v) => (m.workers["idle"] = v)],
  ["Processes", (m, v) => (m.processes["all"] = v)],
  ["Stopping", (m, v) => (m.processes["stopping"] = v)],
  ["ConnsTotal", (m, v) => (m.connections["total"] = v)],
  ["ConnsAsyncWriting", (m, v) => (m.connections["writing"] = v)],
  ["ConnsAsyncKeepAlive", (m, v) => (m.connections["keepalive"] = v)],
  ["ConnsAsyncClosing", (m, v) => (m.connections["closing"] = v)],
]);

const SCOREBOARD: Record<string, string> = { _: "idle", S: "startup", R: "read", W: "reply", K: "keepalive", D: "dns", C: "closing", L: "logging", G: "graceful_stop", I: "idle_cleanup", ".": "open_slot" };

/** Go's strconv.ParseFloat, strictly: throws where the exporter would fail the scrape. */
function parseFloatStrict(v: string): number {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)) throw new Error(`strconv.ParseFloat: parsing "${v}": invalid syntax`);
  return Number(v);
}

function splitkv(line: string): [string, string] {
  if (line.length === 0) return ["", ""];
  const i = line.indexOf(":");
  if (i === -1) return [line, ""];
  return [line.slice(0, i).trim(), line.slice(i + 1).trim()];
}

export function parseAuto(text: string): ExporterMetrics {
  const m: ExporterMetrics = {
    version: null,
    mpm: "UNKNOWN",
    generation: null,
    accessesTotal: null,
    kBytesTotal: null,
    durationTotal: null,
    uptime: null,
    workers: {},
    processes: {},
    connections: {},
    scoreboard: {},
    balancerStatus: new Map(),
    balancerElected: new Map(),
    balancerBusy: new Map(),
    balancerSentKB: new Map(),
    balancerRcvdKB: new Map(),
  };
  let balancer = "UNKNOWN";
  let worker = "UNKNOWN";
  for (const line of text.split("\n")) {
    const [key, v] = splitkv(line);
    const numeric = NUMERIC.get(key);
    if (key === "ServerVersion") {
      const afterSlash = v.split("/")[1];
      if (afterSlash === undefined) throw new Error("index out of range: ServerVersion without '/'");
      const parts = (afterSlash.split(" ")[0] ?? "").split(".");
      if (parts.length < 3) throw new Error("index out of range: ServerVersion without x.y.z");
      m.version = parseFloatStrict(`${parts[0]}.${(parts[1] ?? "").padStart(2, "0")}${(parts[2] ?? "").padStart(3, "0")}`);
    } else if (key === "ServerMPM") m.mpm = v;
    else if (numeric !== undefined) numeric(m, parseFloatStrict(v));
    else if (key === "Scoreboard") {
      for (const label of Object.values(SCOREBOARD)) m.scoreboard[label] = 0;
      for (const c of v) {
        const label = SCOREBOARD[c] ?? c;
        m.scoreboard[label] = (m.scoreboard[label] ?? 0) + 1;
      }
    } else if (/ProxyBalancer\[\d+\]Name/.test(key)) balancer = v;
    else {
      const w = /ProxyBalancer\[\d+\]Worker\[\d+\](\S+)/.exec(key);
      if (w === null) continue;
      const id = `${balancer}\u0000${worker}`;
      switch (w[1]) {
        case "Name":
          worker = v;
          break;
        case "Status":
          m.balancerStatus.set(`${id}\u0000${v}`, 1);
          break;
        case "Elected":
          m.balancerElected.set(id, parseFloatStrict(v));
          break;
        case "Busy":
          m.balancerBusy.set(id, parseFloatStrict(v));
          break;
        case "Sent":
          m.balancerSentKB.set(id, parseFloatStrict(v.replace(/[kK]+$/, "")));
          break;
        case "Rcvd":
          m.balancerRcvdKB.set(id, parseFloatStrict(v.replace(/[kK]+$/, "")));
          break;
      }
    }
  }
  return m;
}

/** Prometheus text exposition, tiny: sample lines as { name, labels, value }. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`bad exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_s, c: string) => (c === "n" ? "\n" : c));
    out.push({ name: m[1] as string, labels, value: m[3] === "+Inf" ? Infinity : Number(m[3]) });
  }
  return out;
}

/** Sum of the samples named `name` whose labels include `where`. */
export function sum(samples: ReadonlyArray<Sample>, name: string, where: Readonly<Record<string, string>> = {}): number {
  let total = 0;
  for (const s of samples) if (s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)) total += s.value;
  return total;
}
