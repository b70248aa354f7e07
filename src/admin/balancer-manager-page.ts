// The balancer-manager page: server-rendered HTML, every value escaped, usable without JavaScript
// (each action is a small POST form carrying the nonce); a few lines of inline script refresh the
// counters from `?json` every 2 s.
import { createHash } from "node:crypto";
import type { BalancerView, MemberView } from "../model/index.js";
import { ADMIN_FLAGS, LB_METHODS } from "../model/index.js";

const ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const FLAG_NAMES: Readonly<Record<string, string>> = {
  N: "drain",
  D: "disabled",
  S: "stopped",
  H: "standby",
  R: "spare",
  I: "ignore errors",
  E: "error",
  C: "health check failed",
};

export interface PageInput {
  readonly balancers: ReadonlyArray<BalancerView> | null;
  readonly nonce: string;
  /** Where edits persist, e.g. "memory", "file /var/lib/x.json", "ConfigMap ns/name". */
  readonly persistence: string;
  /** The page's own path (forms post here). */
  readonly action: string;
}

export function stateText(m: MemberView): string {
  const letters = m.flags === "" ? "Ok" : m.flags;
  return m.ready ? letters : `${letters} terminating`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;
}

function seconds(ms: number | null): string {
  return ms === null ? "none" : `${ms / 1000} s`;
}

function renderBalancer(b: BalancerView, input: PageInput): string {
  const c = b.config;
  const e = escapeHtml;
  const routes = b.routes.length === 0 ? "<em>none</em>" : b.routes.map((r) => `${e(r.host === "" ? "*" : r.host)}${e(r.path)} <small>(${e(r.pathType)}, ${e(r.ingress)})</small>`).join("<br>");
  const canaries = b.canaries.length === 0 ? "none" : b.canaries.map((k) => `${e(k.host === "" ? "*" : k.host)}${e(k.path)}: ${e(k.weight)}% from ${e(k.primary)} <small>(${e(k.ingress)}${k.byHeader !== null ? `, header ${e(k.byHeader)}` : ""}${k.byCookie !== null ? `, cookie ${e(k.byCookie)}` : ""})</small>`).join("<br>");
  const f = c.failover;
  const hc = c.healthCheck;
  const options = [`<option value=""${b.lbmethodOverridden ? "" : " selected"}>annotation (${e(c.lbmethod)})</option>`, ...LB_METHODS.map((m) => `<option value="${m}"${b.lbmethodOverridden && b.lbmethod === m ? " selected" : ""}>${m}</option>`)].join("");
  const rows = b.members.map((m) => renderMember(b, m, input)).join("\n");
  return `<section class="balancer" data-b="${e(b.id)}">
<h2>balancer <code>${e(b.id)}</code></h2>
<table class="settings">
<tr><th>Routes</th><td>${routes}</td></tr>
<tr><th>Service</th><td>${e(c.service)} <small>settings from ${e(c.settingsFrom === "" ? "(defaults)" : c.settingsFrom)}</small></td></tr>
<tr><th>LB method</th><td><b>${e(b.lbmethod)}</b> ${b.lbmethodOverridden ? `<span class="ovr">override (annotation: ${e(c.lbmethod)})</span>` : "(annotation)"}
<form method="post" action="${e(input.action)}" class="inline">${hidden("nonce", input.nonce)}${hidden("b", b.id)}<label>set <select name="b_lbm" aria-label="lbmethod of ${e(b.id)}">${options}</select></label> <button type="submit">Apply</button></form></td></tr>
<tr><th>Sticky session</th><td>${c.sticky === null ? "none" : `${e(c.sticky.cookie)}${c.sticky.param !== null ? `|${e(c.sticky.param)}` : ""}${c.sticky.noFailover ? " (nofailover)" : ""}`}</td></tr>
<tr><th>Failover</th><td>maxattempts ${f.maxAttempts === null ? "members - 1" : e(f.maxAttempts)}, retry ${e(seconds(f.retryMs))}, failonstatus ${f.failOnStatus.length === 0 ? "none" : e(f.failOnStatus.join(","))}, failontimeout ${f.failOnTimeout ? "on" : "off"}</td></tr>
<tr><th>Health check</th><td>${hc === null ? "none" : `${e(hc.method)} ${hc.method === "TCP" ? "" : e(hc.uri)} every ${e(seconds(hc.intervalMs))}, passes ${e(hc.passes)}, fails ${e(hc.fails)}, expect ${e(hc.expect.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(","))}`}</td></tr>
<tr><th>Hot standby</th><td>${c.standby === null ? "none" : e(c.standby)}</td></tr>
<tr><th>Canary splits</th><td>${canaries}</td></tr>
</table>
<table class="members">
<thead><tr><th>Route</th><th>Address</th><th>Zone</th><th>Set</th><th>Factor</th><th>Status</th><th>Elected</th><th>Busy</th><th>To</th><th>From</th><th>Errors</th><th>Health</th><th>Flags</th><th>Weights</th></tr></thead>
<tbody>
${rows === "" ? '<tr><td colspan="14"><em>no members</em></td></tr>' : rows}
</tbody>
</table>
</section>`;
}

function renderMember(b: BalancerView, m: MemberView, input: PageInput): string {
  const e = escapeHtml;
  const h = m.health;
  const health = h === null ? "-" : `${h.healthy ? "ok" : "failed"}${h.lastStatus !== null ? ` ${e(h.lastStatus)}` : ""}${h.lastError !== null ? ` <small>${e(h.lastError)}</small>` : ""}`;
  const buttons = ADMIN_FLAGS.map((f) => {
    const on = m.flags.includes(f);
    return `<button type="submit" name="w_status_${f}" value="${on ? "0" : "1"}" class="${on ? "on" : "off"}" title="${on ? "clear" : "set"} ${e(FLAG_NAMES[f])}" aria-label="${on ? "clear" : "set"} ${f} (${e(FLAG_NAMES[f])}) on ${e(m.route)}">${on ? "-" : "+"}${f}</button>`;
  }).join("");
  const clears = (["E", "C"] as const)
    .filter((f) => m.flags.includes(f))
    .map((f) => `<button type="submit" name="w_clear" value="${f}" class="on" title="clear ${e(FLAG_NAMES[f])}" aria-label="clear ${f} (${e(FLAG_NAMES[f])}) on ${e(m.route)}">-${f}</button>`)
    .join("");
  const stateTitle = [...m.flags].map((f) => FLAG_NAMES[f] ?? f).join(", ");
  return `<tr data-w="${e(m.key)}" data-route="${e(m.route)}">
<td>${e(m.route)}</td><td>${e(m.address)}:${e(m.port)}</td><td>${e(m.zone ?? "-")}</td><td>${e(m.lbset)}</td><td>${e(m.loadfactor)}</td>
<td data-f="state" title="${e(stateTitle)}" class="${m.flags === "" && m.ready ? "ok" : "warn"}">${e(stateText(m))}</td>
<td data-f="elected">${e(m.elected)}</td><td data-f="busy">${e(m.busy)}</td><td data-f="sent">${e(bytes(m.sent))}</td><td data-f="read">${e(bytes(m.read))}</td><td data-f="errors">${e(m.errors)}</td><td>${health}</td>
<td><form method="post" action="${e(input.action)}" class="inline">${hidden("nonce", input.nonce)}${hidden("b", b.id)}${hidden("w", m.key)}${buttons}${clears}</form></td>
<td><form method="post" action="${e(input.action)}" class="inline">${hidden("nonce", input.nonce)}${hidden("b", b.id)}${hidden("w", m.key)}<label>factor <input name="w_lf" type="number" min="1" max="100" value="${e(m.loadfactor)}" size="3" aria-label="loadfactor of ${e(m.route)}"></label> <label>set <input name="w_ls" type="number" min="0" max="99" value="${e(m.lbset)}" size="2" aria-label="lbset of ${e(m.route)}"></label> <button type="submit">Set</button></form></td>
</tr>`;
}

const SCRIPT = `(function(){
var fmt=function(n){if(n<1024)return n+" B";if(n<1048576)return (n/1024).toFixed(1)+" KiB";if(n<1073741824)return (n/1048576).toFixed(1)+" MiB";return (n/1073741824).toFixed(2)+" GiB";};
function tick(){fetch(location.pathname+"?json",{cache:"no-store"}).then(function(r){return r.json();}).then(function(d){
(d.balancers||[]).forEach(function(b){var s=null;document.querySelectorAll("section.balancer").forEach(function(x){if(x.getAttribute("data-b")===b.id)s=x;});if(!s)return;
b.members.forEach(function(m){s.querySelectorAll("tr[data-w]").forEach(function(tr){if(tr.getAttribute("data-w")!==m.key)return;
var set=function(f,v){var c=tr.querySelector('[data-f="'+f+'"]');if(c)c.textContent=v;};
set("elected",m.elected);set("busy",m.busy);set("sent",fmt(m.sent));set("read",fmt(m.read));set("errors",m.errors);set("state",(m.flags===""?"Ok":m.flags)+(m.ready?"":" terminating"));});});});
document.getElementById("updated").textContent=new Date().toLocaleTimeString();}).catch(function(){});}
setInterval(tick,2000);})();`;

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em}
table{border-collapse:collapse;margin:.4em 0}th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
table.settings th{background:#f3f3f3;width:10em}table.members th{background:#e8eef7}
td.ok{color:#176b1e;font-weight:bold}td.warn{color:#a33;font-weight:bold}
form.inline{display:inline;margin:0}button{margin:0 1px;padding:1px 5px;font:inherit;font-size:12px}
button.on{background:#fbe3e3;border:1px solid #c66}button.off{background:#f4f4f4;border:1px solid #aaa}
.ovr{color:#a35a00}input[type=number]{width:4em}small{color:#666}`;

const hash = (text: string): string => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

/** Content-Security-Policy of the page: only its own inline script and style, fetches to itself, no framing. */
export const PAGE_CSP = `default-src 'none'; script-src ${hash(SCRIPT)}; style-src ${hash(STYLE)}; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

export function renderBalancerManager(input: PageInput): string {
  const e = escapeHtml;
  const body =
    input.balancers === null
      ? "<p>No configuration is live yet.</p>"
      : input.balancers.length === 0
        ? "<p>No balancers: no Ingress routes to a Service.</p>"
        : input.balancers.map((b) => renderBalancer(b, input)).join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Balancer Manager - proxypass-ingress</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Load Balancer Manager</h1>
<p>Changes persist in: <b>${e(input.persistence)}</b>. Counters refreshed <span id="updated">at page load</span>.
Flags: N drain, D disabled, S stopped, H standby, R spare, I ignore errors, E error, C health check failed. JSON: <a href="?json">?json</a>.</p>
${body}
<script>${SCRIPT}</script>
</body>
</html>
`;
}
