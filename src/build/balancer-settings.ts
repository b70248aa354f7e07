// Balancer settings and members of the route table's balancers. A balancer's settings (lbmethod,
// sticky, failover, health checks, hot standby) come from the oldest admitted Ingress with a served
// route (or canary split) to it; `settingsFrom` names it even when its settings are all defaults.
// Another Ingress routing there with different settings gets a BalancerSettingsConflict warning.
// A hot standby's members join the balancer's own as standby (H) members.
import type { BalancerConfig, BalancerMembers, Route } from "../model/index.js";
import type { AdmittedIngress } from "./admit.js";
import type { BalancerSettingsValue } from "./annotations/index.js";
import { endpointPortNotFound, withStandby, type ResolvedBackend } from "./backend.js";
import type { BalancerSet } from "./balancers.js";
import type { DiagnosticList } from "./diagnostics.js";
import { compareText } from "./order.js";
import type { MergedRoutes } from "./routes.js";

export interface UsedBalancer {
  readonly config: BalancerConfig;
  readonly members: BalancerMembers;
}

/** Balancers some route (or canary split) refers to, sorted by id, with their settings and members. */
export function resolveBalancers(merged: MergedRoutes, admitted: ReadonlyArray<AdmittedIngress>, balancers: BalancerSet, diagnostics: DiagnosticList): UsedBalancer[] {
  const users = balancerUsers(merged);
  const age = new Map(admitted.map((a, i) => [a.ref, i]));
  const byRef = new Map(admitted.map((a) => [a.ref, a]));
  const out: UsedBalancer[] = [];
  for (const id of [...users.keys()].sort(compareText)) {
    const resolved = balancers.get(id);
    if (resolved === undefined) continue;
    const refs = [...(users.get(id) ?? [])].sort((a, b) => (age.get(a) ?? Infinity) - (age.get(b) ?? Infinity) || compareText(a, b));
    const winner = byRef.get(refs[0] ?? "");
    if (winner === undefined) continue;
    reportConflicts(id, winner, refs.slice(1), byRef, diagnostics);
    out.push(withSettings(resolved, winner, balancers, diagnostics));
  }
  return out;
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
  return JSON.stringify([s.lbmethod, s.sticky, s.failover, s.healthCheck, s.hotStandby]);
}

function reportConflicts(id: string, winner: AdmittedIngress, others: ReadonlyArray<string>, byRef: ReadonlyMap<string, AdmittedIngress>, diagnostics: DiagnosticList): void {
  const text = settingsText(winner.balancer);
  for (const ref of others) {
    const other = byRef.get(ref);
    // Equal annotations share one parsed settings object (admit's parse cache): no text needed then.
    if (other === undefined || other.balancer === winner.balancer || settingsText(other.balancer) === text) continue;
    diagnostics.ingress(
      ref,
      "warning",
      "BalancerSettingsConflict",
      `balancer ${id}: its settings (lbmethod, sticky-*, hot-standby, health-check-*, retry, max-attempts, fail-on-*) come from Ingress ${winner.ref}, the oldest routing to it; this Ingress's differ and are ignored there`,
    );
  }
}

function withSettings(resolved: ResolvedBackend, winner: AdmittedIngress, balancers: BalancerSet, diagnostics: DiagnosticList): UsedBalancer {
  const s = winner.balancer;
  const standby = s.hotStandby === null ? null : resolveStandby(resolved.balancer.id, winner, balancers, diagnostics);
  const config: BalancerConfig = {
    ...resolved.balancer,
    settingsFrom: winner.ref,
    lbmethod: s.lbmethod,
    sticky: s.sticky,
    failover: s.failover,
    healthCheck: s.healthCheck,
    standby: standby === null ? null : standby.balancer.id,
  };
  const members = standby === null ? resolved.members : withStandby(resolved.members, standby.members);
  return { config, members: { balancer: config.id, members } };
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
