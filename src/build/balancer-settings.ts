// Balancer settings and members of the route table's balancers. A balancer's settings (lbmethod,
// sticky, failover, health checks, hot standby) come from the oldest admitted Ingress with a served
// route (or canary split) to it; `settingsFrom` names it even when its settings are all defaults.
// Another Ingress routing there with different settings gets a BalancerSettingsConflict warning.
// A hot standby's members join the balancer's own as standby (H) members.
import { errorBackendId, type BalancerConfig, type Member, type Route } from "../model/index.js";
import type { AdmittedIngress } from "./admit.js";
import type { BalancerSettingsValue } from "./annotations/index.js";
import { endpointPortNotFound, withStandby, type ResolvedBackend } from "./backend.js";
import { resolveBackendTls, type SecretLookup } from "./backend-tls.js";
import { resolveBackendAjp } from "./backend-ajp.js";
import type { BalancerSet } from "./balancers.js";
import type { BuildCache } from "./cache.js";
import type { DiagnosticList } from "./diagnostics.js";
import { compareText } from "./order.js";
import type { MergedRoutes } from "./routes.js";

export interface UsedBalancer {
  readonly config: BalancerConfig;
  readonly members: ReadonlyArray<Member>;
}

/** Balancers some route (or canary split) refers to, sorted by id, with their settings and members. */
export function resolveBalancers(
  merged: MergedRoutes,
  admitted: ReadonlyArray<AdmittedIngress>,
  balancers: BalancerSet,
  diagnostics: DiagnosticList,
  caches: { readonly prev: BuildCache | null; readonly next: BuildCache },
  secrets: SecretLookup,
  /** The ConfigMap's error backend for requests no route matches (ServerSettings.notFoundPage), or null. */
  notFoundBackend: string | null = null,
): UsedBalancer[] {
  const users = balancerUsers(merged);
  const age = new Map(admitted.map((a, i) => [a.ref, i]));
  const byRef = new Map(admitted.map((a) => [a.ref, a]));
  const texts = new Map<BalancerSettingsValue, string>();
  const textOf = (s: BalancerSettingsValue): string => {
    let text = texts.get(s);
    if (text === undefined) {
      text = settingsText(s);
      texts.set(s, text);
    }
    return text;
  };
  const out: UsedBalancer[] = [];
  for (const id of [...users.keys()].sort(compareText)) {
    const resolved = balancers.get(id);
    if (resolved === undefined) continue;
    const refs = [...(users.get(id) ?? [])].sort((a, b) => (age.get(a) ?? Infinity) - (age.get(b) ?? Infinity) || compareText(a, b));
    const winner = byRef.get(refs[0] ?? "");
    if (winner === undefined) continue;
    reportConflicts(id, winner, refs.slice(1), byRef, textOf, diagnostics);
    out.push(withSettings(resolved, winner, balancers, diagnostics, caches, secrets));
  }
  addErrorBackends(merged, out, balancers, age, diagnostics, notFoundBackend);
  return out;
}

/**
 * `custom-error-backend` Services: each becomes a balancer (id "ns/service:port") with default
 * settings from the oldest Ingress naming it, unless a route already uses it (then it keeps that
 * route's settings). A missing Service or port is a warning: its balancer has no members, and the
 * routes fall back to the ConfigMap page or the built-in one.
 */
function addErrorBackends(merged: MergedRoutes, out: UsedBalancer[], balancers: BalancerSet, age: ReadonlyMap<string, number>, diagnostics: DiagnosticList, notFoundBackend: string | null): void {
  // By id, the Ingresses naming it ("" = the ConfigMap, for requests no route matches).
  let wanted: Map<string, Set<string>> | null = notFoundBackend === null ? null : new Map([[notFoundBackend, new Set([""])]]);
  const visit = (route: Route | null): void => {
    if (route === null || route.options.customErrorBackend === undefined) return;
    const id = errorBackendId(route.ingress, route.options.customErrorBackend);
    wanted ??= new Map();
    let refs = wanted.get(id);
    if (refs === undefined) {
      refs = new Set();
      wanted.set(id, refs);
    }
    refs.add(route.ingress);
  };
  for (const vh of merged.virtualHosts) {
    for (const route of vh.routes) visit(route);
    visit(vh.fallback);
  }
  visit(merged.defaultRoute);
  if (wanted === null) return;
  const used = new Set(out.map((b) => b.config.id));
  let added = false;
  for (const [id, users] of wanted as Map<string, Set<string>>) {
    const refs = [...users].sort((a, b) => (age.get(a) ?? Infinity) - (age.get(b) ?? Infinity) || compareText(a, b));
    const slash = id.indexOf("/");
    const colon = id.lastIndexOf(":");
    const ns = id.slice(0, slash);
    const name = id.slice(slash + 1, colon);
    const portText = id.slice(colon + 1);
    const port = /^[0-9]+$/.test(portText) ? { number: Number(portText) } : { name: portText };
    const resolution = balancers.resolve(ns, { service: { name, port } });
    const problems = resolution.ok ? resolution.backend.problems : [{ message: resolution.message }];
    for (const p of problems) {
      const why = p.message.split(";")[0] ?? p.message;
      for (const ref of refs) if (ref !== "") diagnostics.ingress(ref, "warning", "CustomErrorBackendNotFound", `custom-error-backend ${id}: ${why}; error pages come from the ConfigMap or the built-in ones until it has ready endpoints`);
    }
    if (!resolution.ok || used.has(id)) continue;
    // The id as written (a port name stays a name), which is how routes name it (errorBackendId).
    out.push({ config: { ...resolution.backend.balancer, id, settingsFrom: refs[0] ?? "" }, members: resolution.backend.members });
    added = true;
  }
  if (added) out.sort((a, b) => compareText(a.config.id, b.config.id));
}

/** Ingress refs with a served route (or canary split) to each balancer id. */
function balancerUsers(merged: MergedRoutes): Map<string, Set<string>> {
  const users = new Map<string, Set<string>>();
  const add = (balancer: string, ingress: string): void => {
    let set = users.get(balancer);
    if (set === undefined) {
      set = new Set();
      users.set(balancer, set);
    }
    set.add(ingress);
  };
  const visit = (route: Route | null): void => {
    if (route === null) return;
    add(route.balancer, route.ingress);
    if (route.canary !== null) add(route.canary.balancer, route.canary.ingress);
  };
  for (const vh of merged.virtualHosts) {
    for (const route of vh.routes) visit(route);
    visit(vh.fallback);
  }
  visit(merged.defaultRoute);
  return users;
}

function settingsText(s: BalancerSettingsValue): string {
  return JSON.stringify([s.lbmethod, s.sticky, s.failover, s.healthCheck, s.hotStandby, s.protocol, s.tlsVerify, s.caSecret, s.ajp]);
}

function reportConflicts(
  id: string,
  winner: AdmittedIngress,
  others: ReadonlyArray<string>,
  byRef: ReadonlyMap<string, AdmittedIngress>,
  textOf: (s: BalancerSettingsValue) => string,
  diagnostics: DiagnosticList,
): void {
  for (const ref of others) {
    const other = byRef.get(ref);
    // Equal annotations share one parsed settings object (admit's parse cache): no text needed then.
    if (other === undefined || other.balancer === winner.balancer || textOf(other.balancer) === textOf(winner.balancer)) continue;
    diagnostics.ingress(
      ref,
      "warning",
      "BalancerSettingsConflict",
      `balancer ${id}: its settings (lbmethod, sticky-*, hot-standby, health-check-*, retry, max-attempts, fail-on-*, backend-protocol, backend-tls-verify, backend-ca-secret) come from Ingress ${winner.ref}, the oldest routing to it; this Ingress's differ and are ignored there`,
    );
  }
}

function withSettings(
  resolved: ResolvedBackend,
  winner: AdmittedIngress,
  balancers: BalancerSet,
  diagnostics: DiagnosticList,
  caches: { readonly prev: BuildCache | null; readonly next: BuildCache },
  secrets: SecretLookup,
): UsedBalancer {
  const s = winner.balancer;
  const id = resolved.balancer.id;
  const standby = s.hotStandby === null ? null : resolveStandby(id, winner, balancers, diagnostics);
  const standbyId = standby === null ? null : standby.balancer.id;
  const namespace = winner.ingress.metadata.namespace;
  const vhost = winner.options.upstreamVhost;
  const caSecret = s.caSecret === null || !s.tlsVerify ? null : (secrets.get(namespace, s.caSecret) ?? null);
  const ajpSecret = s.protocol !== "ajp" || s.ajp.secret === null ? null : (secrets.get(namespace, s.ajp.secret) ?? null);
  // The same resolution, settings object, winner, standby, upstream vhost and CA Secret object as the previous build: the same config object.
  const prev = caches.prev?.configs.get(id);
  let config: BalancerConfig;
  if (prev !== undefined && prev.base === resolved.balancer && prev.settings === s && prev.settingsFrom === winner.ref && prev.standby === standbyId && prev.vhost === vhost && prev.caSecret === caSecret && prev.ajpSecret === ajpSecret) {
    config = prev.config;
    caches.next.configs.set(id, prev);
    if (prev.tlsProblem !== null) diagnostics.ingress(winner.ref, "error", prev.tlsProblem.reason, prev.tlsProblem.message);
    if (prev.ajpProblem !== null) diagnostics.ingress(winner.ref, prev.ajpProblem.severity, prev.ajpProblem.reason, prev.ajpProblem.message);
  } else {
    const { tls, problem } = resolveBackendTls(s, namespace, vhost, resolved.balancer.hostHeader, secrets, id);
    if (problem !== null) diagnostics.ingress(winner.ref, "error", problem.reason, problem.message);
    const { ajp, problem: ajpProblem } = resolveBackendAjp(s, namespace, secrets, id);
    if (ajpProblem !== null) diagnostics.ingress(winner.ref, ajpProblem.severity, ajpProblem.reason, ajpProblem.message);
    config = { ...resolved.balancer, settingsFrom: winner.ref, lbmethod: s.lbmethod, sticky: s.sticky, failover: s.failover, healthCheck: s.healthCheck, standby: standbyId, protocol: s.protocol, tls, ajp };
    caches.next.configs.set(id, { base: resolved.balancer, settings: s, settingsFrom: winner.ref, standby: standbyId, vhost, caSecret, tlsProblem: problem, ajpSecret, ajpProblem, config });
  }
  if (standby === null) return { config, members: resolved.members };
  const joined = caches.prev?.standby.get(id);
  const members = joined !== undefined && joined.primary === resolved.members && joined.standby === standby.members ? joined.members : withStandby(resolved.members, standby.members);
  caches.next.standby.set(id, { primary: resolved.members, standby: standby.members, members });
  return { config, members };
}

/** The hot-standby backend of a balancer, or null (with a warning) when its Service or port is missing. */
function resolveStandby(id: string, winner: AdmittedIngress, balancers: BalancerSet, diagnostics: DiagnosticList): ResolvedBackend | null {
  const ref = winner.balancer.hotStandby;
  if (ref === null) return null;
  const ns = winner.ingress.metadata.namespace;
  const port = typeof ref.port === "number" ? { number: ref.port } : { name: ref.port };
  const resolution = balancers.resolve(ns, { service: { name: ref.service, port } });
  if (!resolution.ok) return null;
  const missing = resolution.backend.problems.find((p) => p.reason !== endpointPortNotFound);
  if (missing !== undefined) {
    const why = missing.message.split(";")[0] ?? missing.message;
    diagnostics.ingress(winner.ref, "warning", "HotStandbyNotFound", `annotation proxypass.io/hot-standby ${ref.service}:${ref.port} of balancer ${id}: ${why}; the balancer has no standby members until it exists`);
    return null;
  }
  // Slices without the port: the standby has no members; reported like a backend's (a full build decides when it clears).
  for (const p of resolution.backend.problems) diagnostics.ingress(winner.ref, p.severity, p.reason, p.message);
  return resolution.backend;
}
