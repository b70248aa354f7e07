// httpd's mod_status for the admin listener: `/server-status` (HTML, `?refresh=N`) and
// `/server-status?auto` (machine-readable `Key: value` lines, with ProxyStatus's per-balancer
// lines), so Lusitaniae/apache_exporter and runbooks written for httpd work unchanged.
//
// Mapping (docs/observability.md): httpd's "workers" are connection slots; ours are worker
// threads that each serve many connections. BusyWorkers = requests in flight, IdleWorkers = open
// client connections without a request in flight, Processes = running worker threads, Scoreboard =
// one letter per worker thread ("W" serving, "_" idle, "." restarting). Totals come from each
// worker's shared stats region and survive a worker's respawn.
import { createHash } from "node:crypto";
import { hostname, loadavg } from "node:os";
import type { BalancerView, EndpointTable, MemberView, RouteTable, WorkerStatusView } from "../model/index.js";
import { escapeHtml } from "./balancer-manager-page.js";

export const SERVER_STATUS_PATH = "/server-status";

/** What server-status reads at each request. */
export interface ServerStatusSource {
  /** Each data-plane worker's totals (WorkerPool.workerStats fits). */
  workers(): ReadonlyArray<WorkerStatusView>;
  /** Live balancers (BalancerStateReader.balancers fits); null before the first snapshot. */
  balancers(): ReadonlyArray<BalancerView> | null;
  /** The live snapshot's tables (Reconciler.published fits); null before the first. */
  snapshot(): { readonly routes: RouteTable; readonly endpoints: EndpointTable } | null;
}

export interface ServerStatusOptions {
  readonly source: ServerStatusSource;
  /** Date.now() when the controller started. */
  readonly startedAt: number;
  /** "proxypass-ingress/0.1.0": the product token of ServerVersion (apache_exporter reads "NAME/x.y.z"). */
  readonly version: string;
  readonly now?: () => number;
  readonly cpuUsage?: () => NodeJS.CpuUsage;
}

/** The numbers both views show. */
export interface ServerStatusData {
  readonly serverName: string;
  readonly serverVersion: string;
  readonly now: number;
  readonly startedAt: number;
  readonly uptime: number;
  readonly accesses: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  readonly busy: number;
  readonly idle: number;
  readonly connections: number;
  readonly processes: number;
  readonly generation: number;
  readonly lastSwapAt: number;
  readonly cpuUser: number;
  readonly cpuSystem: number;
  readonly workers: ReadonlyArray<WorkerStatusView>;
  readonly counts: { readonly hosts: number; readonly routes: number; readonly balancers: number; readonly members: number } | null;
  readonly balancers: ReadonlyArray<BalancerView>;
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** httpd's ap_ht_time format of CurrentTime/RestartTime: "Thursday, 26-Nov-2026 11:46:52 UTC". */
export function httpdTime(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC`;
}

/** "1 day 2 hours 3 minutes 4 seconds", as httpd's ServerUptime. */
export function httpdUptime(seconds: number): string {
  const parts: string[] = [];
  const add = (n: number, unit: string): void => {
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? "" : "s"}`);
  };
  add(Math.floor(seconds / 86_400), "day");
  add(Math.floor((seconds % 86_400) / 3_600), "hour");
  add(Math.floor((seconds % 3_600) / 60), "minute");
  add(seconds % 60, "second");
  return parts.length === 0 ? "0 seconds" : parts.join(" ");
}

const WSTATUS: ReadonlyArray<readonly [string, string]> = [
  ["I", "Ign "],
  ["N", "Drn "],
  ["D", "Dis "],
  ["S", "Stop "],
  ["E", "Err "],
  ["H", "Stby "],
  ["R", "Spar "],
  ["C", "HcFl "],
];

/** httpd's ap_proxy_parse_wstatus: "Init " + each flag's name + "Ok " when usable (D, S, E, C make it unusable). */
export function memberStatus(m: Pick<MemberView, "flags">): string {
  let s = "Init ";
  for (const [letter, name] of WSTATUS) if (m.flags.includes(letter)) s += name;
  if (!/[DSEC]/.test(m.flags)) s += "Ok ";
  return s;
}

/** The member's URL, as httpd names a balancer worker (BALANCER_WORKER_NAME). */
export function memberUrl(m: Pick<MemberView, "address" | "port">): string {
  return m.address.includes(":") ? `http://[${m.address}]:${m.port}` : `http://${m.address}:${m.port}`;
}

function fixed(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n * 1e6) / 1e6) : "0";
}

export class ServerStatus {
  readonly #source: ServerStatusSource;
  readonly #startedAt: number;
  readonly #version: string;
  readonly #now: () => number;
  readonly #cpu: () => NodeJS.CpuUsage;
  readonly #serverName = hostname();

  constructor(options: ServerStatusOptions) {
    this.#source = options.source;
    this.#startedAt = options.startedAt;
    this.#version = options.version;
    this.#now = options.now ?? Date.now;
    this.#cpu = options.cpuUsage ?? (() => process.cpuUsage());
  }

  data(): ServerStatusData {
    const now = this.#now();
    const workers = this.#source.workers();
    let accesses = 0;
    let bytesOut = 0;
    let durationMs = 0;
    let busy = 0;
    let connections = 0;
    let processes = 0;
    let generation = 0;
    let lastSwapAt = 0;
    for (const w of workers) {
      accesses += w.accesses;
      bytesOut += w.bytesOut;
      durationMs += w.durationMs;
      busy += w.busy;
      connections += w.connections;
      if (w.running) processes++;
      generation = Math.max(generation, w.generation);
      lastSwapAt = Math.max(lastSwapAt, w.lastSwapAt);
    }
    const snapshot = this.#source.snapshot();
    let counts: ServerStatusData["counts"] = null;
    if (snapshot !== null) {
      let routes = snapshot.routes.defaultRoute === null ? 0 : 1;
      for (const vh of snapshot.routes.virtualHosts) routes += vh.routes.length + (vh.fallback === null ? 0 : 1);
      let members = 0;
      for (const b of snapshot.endpoints.balancers) members += b.members.length;
      counts = { hosts: snapshot.routes.virtualHosts.length, routes, balancers: snapshot.routes.balancers.length, members };
    }
    const cpu = this.#cpu();
    return {
      serverName: this.#serverName,
      serverVersion: `${this.#version} (Node.js ${process.version})`,
      now,
      startedAt: this.#startedAt,
      uptime: Math.max(0, Math.floor((now - this.#startedAt) / 1000)),
      accesses,
      bytesOut,
      durationMs,
      busy,
      idle: Math.max(0, connections - busy),
      connections,
      processes,
      generation,
      lastSwapAt,
      cpuUser: cpu.user / 1e6,
      cpuSystem: cpu.system / 1e6,
      workers,
      counts,
      balancers: this.#source.balancers() ?? [],
    };
  }

  /** `?auto`: httpd's `Key: value` lines, then ProxyStatus's per-balancer lines. */
  renderAuto(d: ServerStatusData = this.data()): string {
    const up = d.uptime;
    const per = (n: number, by: number): string => fixed(by > 0 ? n / by : 0);
    const [l1 = 0, l5 = 0, l15 = 0] = loadavg();
    const lines = [
      d.serverName,
      `ServerVersion: ${d.serverVersion}`,
      "ServerMPM: worker_threads",
      `CurrentTime: ${httpdTime(d.now)}`,
      `RestartTime: ${httpdTime(d.startedAt)}`,
      `ParentServerConfigGeneration: ${d.generation}`,
      "ParentServerMPMGeneration: 0",
      `ServerUptimeSeconds: ${up}`,
      `ServerUptime: ${httpdUptime(up)}`,
      `Load1: ${l1.toFixed(2)}`,
      `Load5: ${l5.toFixed(2)}`,
      `Load15: ${l15.toFixed(2)}`,
      `Total Accesses: ${d.accesses}`,
      `Total kBytes: ${Math.floor(d.bytesOut / 1024)}`,
      `Total Duration: ${Math.round(d.durationMs)}`,
      `CPUUser: ${fixed(d.cpuUser)}`,
      `CPUSystem: ${fixed(d.cpuSystem)}`,
      "CPUChildrenUser: 0",
      "CPUChildrenSystem: 0",
      `CPULoad: ${per((d.cpuUser + d.cpuSystem) * 100, up)}`,
      `Uptime: ${up}`,
      `ReqPerSec: ${per(d.accesses, up)}`,
      `BytesPerSec: ${per(d.bytesOut, up)}`,
      `BytesPerReq: ${per(d.bytesOut, d.accesses)}`,
      `DurationPerReq: ${per(d.durationMs, d.accesses)}`,
      `BusyWorkers: ${d.busy}`,
      `IdleWorkers: ${d.idle}`,
      `Processes: ${d.processes}`,
      "Stopping: 0",
      `ConnsTotal: ${d.connections}`,
      `ConnsAsyncKeepAlive: ${d.idle}`,
      `Scoreboard: ${d.workers.map((w) => (!w.running ? "." : w.busy > 0 ? "W" : "_")).join("")}`,
    ];
    d.balancers.forEach((b, i) => {
      lines.push(`ProxyBalancer[${i}]Name: balancer://${b.id}`);
      b.members.forEach((m, j) => {
        const p = `ProxyBalancer[${i}]Worker[${j}]`;
        lines.push(`${p}Name: ${memberUrl(m)}`, `${p}Status: ${memberStatus(m)}`, `${p}Elected: ${m.elected}`, `${p}Busy: ${m.busy}`, `${p}Sent: ${Math.floor(m.sent / 1024)}K`, `${p}Rcvd: ${Math.floor(m.read / 1024)}K`);
      });
    });
    return `${lines.join("\n")}\n`;
  }

  /** The HTML page; `refresh` seconds (validated by the caller) adds a meta refresh. */
  renderHtml(refresh: number | null, d: ServerStatusData = this.data()): string {
    const e = escapeHtml;
    const up = d.uptime;
    const per = (n: number, by: number): string => (by > 0 ? (n / by).toFixed(3) : "0");
    const time = (ms: number): string => (ms === 0 ? "never" : httpdTime(ms));
    const counts = d.counts === null ? "<p>No snapshot is live yet.</p>" : `<p>${d.counts.hosts} hosts, ${d.counts.routes} routes, ${d.counts.balancers} balancers, ${d.counts.members} members</p>`;
    const workers = d.workers
      .map(
        (w) =>
          `<tr><td>${w.id}</td><td>${w.running ? (w.busy > 0 ? "W" : "_") : "."}</td><td>${w.accesses}</td><td>${(w.bytesOut / 1024).toFixed(1)}</td><td>${w.busy}</td><td>${Math.max(0, w.connections - w.busy)}</td><td>${w.generation}</td><td>${e(time(w.lastSwapAt))}</td><td>${e(time(w.startedAt))}</td></tr>`,
      )
      .join("\n");
    const balancers = d.balancers
      .map((b) => {
        const rows = b.members
          .map(
            (m) =>
              `<tr><td>http</td><td>${e(`${m.address}:${m.port}`)}</td><td>${e(memberStatus(m).trim())}</td><td>${e(m.route)}</td><td></td><td>${m.loadfactor}</td><td>${m.lbset}</td><td>${m.elected}</td><td>${m.busy}</td><td>${(m.sent / 1024).toFixed(1)}K</td><td>${(m.read / 1024).toFixed(1)}K</td></tr>`,
          )
          .join("\n");
        const sticky = b.config.sticky === null ? "(none)" : b.config.sticky.cookie;
        return `<h2>Proxy LoadBalancer Status for balancer://${e(b.id)}</h2>
<table><tr><th>SSes</th><th>Timeout</th><th>Method</th></tr><tr><td>${e(sticky)}</td><td>0</td><td>${e(b.lbmethod)}</td></tr></table>
<table><tr><th>Sch</th><th>Host</th><th>Stat</th><th>Route</th><th>Redir</th><th>F</th><th>Set</th><th>Acc</th><th>Busy</th><th>Wr</th><th>Rd</th></tr>
${rows}
</table>`;
      })
      .join("\n");
    return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">${refresh === null ? "" : `<meta http-equiv="refresh" content="${refresh}">`}
<title>proxypass-ingress server-status</title><style>${STYLE}</style></head>
<body>
<h1>proxypass-ingress Server Status for ${e(d.serverName)}</h1>
<dl>
<dt>Server Version: ${e(d.serverVersion)}</dt>
<dt>Current Time: ${e(httpdTime(d.now))}</dt>
<dt>Restart Time: ${e(httpdTime(d.startedAt))}</dt>
<dt>Server uptime: ${e(httpdUptime(up))}</dt>
<dt>Parent Server Config. Generation: ${d.generation} (last swap: ${e(time(d.lastSwapAt))})</dt>
<dt>Total accesses: ${d.accesses} - Total Traffic: ${(d.bytesOut / 1024).toFixed(1)} kB - Total Duration: ${Math.round(d.durationMs)} ms</dt>
<dt>CPU Usage: u${d.cpuUser.toFixed(2)} s${d.cpuSystem.toFixed(2)}</dt>
<dt>${per(d.accesses, up)} requests/sec - ${per(d.bytesOut, up)} B/second - ${per(d.bytesOut, d.accesses)} B/request - ${per(d.durationMs, d.accesses)} ms/request</dt>
<dt>${d.busy} requests currently being processed, ${d.idle} idle connections, ${d.processes} worker threads</dt>
</dl>
${counts}
<h2>Workers</h2>
<table><tr><th>Worker</th><th>Mode</th><th>Acc</th><th>kB</th><th>Busy</th><th>Idle conns</th><th>Generation</th><th>Last swap</th><th>Started</th></tr>
${workers}
</table>
${balancers}
</body></html>
`;
  }
}

const STYLE = "body{font-family:sans-serif}table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #999;padding:2px 6px;text-align:left}";

/** CSP of the page: no script, only its own inline style. */
export const SERVER_STATUS_CSP = `default-src 'none'; style-src 'sha256-${createHash("sha256").update(STYLE).digest("base64")}'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'`;

/** `?refresh=N`: 1-3600 seconds, else null (httpd caps nothing; we refuse silly values). */
export function parseRefresh(value: string | null): number | null {
  if (value === null || !/^\d{1,4}$/.test(value)) return null;
  const n = Number(value);
  return n >= 1 && n <= 3600 ? n : null;
}
