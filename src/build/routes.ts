// Routes of the admitted Ingresses, merged per host: the oldest Ingress wins a (host, path,
// pathType); spec.defaultBackend becomes the fallback of its hosts and, for the oldest one, the
// default route for unmatched hosts. Canary Ingresses add no routes: each of their rules splits the
// existing route of the same host, path and pathType (the oldest canary wins).
import type { CanaryConfig, IngressBackend, Route, RouteOptions, VirtualHost } from "../model/index.js";
import type { AdmittedIngress } from "./admit.js";
import type { CanaryValue } from "./annotations/index.js";
import type { BalancerSet } from "./balancers.js";
import type { DiagnosticList } from "./diagnostics.js";
import { checkRuleHost } from "./host.js";
import { compareText } from "./order.js";
import { checkPath } from "./path.js";

interface HostEntry {
  readonly routes: Map<string, Route>;
  fallback: Route | null;
}

export interface MergedRoutes {
  /** Sorted by host; routes in match order. */
  readonly virtualHosts: ReadonlyArray<VirtualHost>;
  readonly defaultRoute: Route | null;
}

interface Context {
  readonly balancers: BalancerSet;
  readonly diagnostics: DiagnosticList;
  readonly hosts: Map<string, HostEntry>;
}

/** `admitted` must be oldest first: earlier entries win conflicts. */
export function mergeRoutes(admitted: ReadonlyArray<AdmittedIngress>, balancers: BalancerSet, diagnostics: DiagnosticList): MergedRoutes {
  const ctx: Context = { balancers, diagnostics, hosts: new Map() };
  const primaries = admitted.filter((a) => a.canary === null);
  const hostsOf = new Map<string, ReadonlyArray<string>>();
  for (const a of primaries) hostsOf.set(a.ref, addRules(a, ctx));
  let defaultRoute: Route | null = null;
  for (const a of primaries) {
    const route = defaultBackendRoute(a, ctx);
    if (route === null) continue;
    if (defaultRoute === null) defaultRoute = route;
    else diagnostics.ingress(a.ref, "warning", "DefaultBackendConflict", `spec.defaultBackend is not the default for unmatched hosts: Ingress ${defaultRoute.ingress} is older and has one`);
    for (const host of hostsOf.get(a.ref) ?? []) setFallback(host, route, ctx);
  }
  for (const a of admitted) if (a.canary !== null) addCanary(a, a.canary, ctx);
  return { virtualHosts: virtualHosts(ctx.hosts), defaultRoute };
}

/** A rule path that passed validation: its host, field name ("spec.rules[i].http.paths[j]"), path, pathType and route key. */
interface RulePath {
  readonly host: string;
  readonly field: string;
  readonly path: string;
  readonly pathType: Route["pathType"];
  /** "pathType path": the key of a route in its host's map. */
  readonly key: string;
  readonly backend: IngressBackend;
}

/**
 * Visits every valid rule path of an Ingress (and, first, each rule's valid host); invalid hosts and
 * paths are reported and skipped.
 */
function forEachRulePath(a: AdmittedIngress, ctx: Context, onHost: (host: string) => void, visit: (p: RulePath) => void): void {
  for (const [i, rule] of a.ingress.spec.rules.entries()) {
    const host = ruleHost(a.ref, rule.host, i, ctx);
    if (host === null) continue;
    onHost(host);
    for (const [j, path] of (rule.http?.paths ?? []).entries()) {
      const checked = checkPath(path.path, path.pathType);
      const field = `spec.rules[${i}].http.paths[${j}]`;
      if (!checked.ok) {
        ctx.diagnostics.ingress(a.ref, "error", "InvalidPath", `${field}: ${checked.reason}; this path is not served`);
        continue;
      }
      visit({ host, field, path: checked.path, pathType: checked.pathType, key: `${checked.pathType} ${checked.path}`, backend: path.backend });
    }
  }
}

/** Adds an Ingress's rules; returns the hosts it contributes rules to. */
function addRules(a: AdmittedIngress, ctx: Context): string[] {
  const hosts = new Set<string>();
  const onHost = (host: string): void => {
    hosts.add(host);
    hostEntry(host, ctx);
  };
  forEachRulePath(a, ctx, onHost, (p) => {
    const entry = hostEntry(p.host, ctx);
    const route = routeTo(a, p.backend, p.path, p.pathType, p.field, ctx);
    if (route === null) return;
    const winner = entry.routes.get(p.key);
    if (winner === undefined) entry.routes.set(p.key, route);
    else reportConflict(a.ref, p.host, route, winner, ctx);
  });
  return [...hosts].sort(compareText);
}

/** Sets the canary of the routes a canary Ingress's rules match; rules without such a route are not served. */
function addCanary(a: AdmittedIngress, canary: CanaryValue, ctx: Context): void {
  if (a.ingress.spec.defaultBackend !== undefined) {
    ctx.diagnostics.ingress(a.ref, "warning", "CanaryDefaultBackend", "spec.defaultBackend of a canary Ingress is ignored; only its rules split routes");
  }
  forEachRulePath(a, ctx, noop, (p) => {
    const entry = ctx.hosts.get(p.host);
    const what = `host ${JSON.stringify(p.host)} path ${JSON.stringify(p.path)} (${p.pathType})`;
    const primary = entry?.routes.get(p.key);
    if (entry === undefined || primary === undefined) {
      ctx.diagnostics.ingress(a.ref, "warning", "CanaryWithoutPrimary", `${p.field}: canary of ${what}, but no non-canary Ingress serves it; this canary rule is not served`);
      return;
    }
    if (primary.canary !== null) {
      const message =
        primary.canary.ingress === a.ref
          ? `${p.field}: ${what} appears twice in this canary Ingress; the first one is used`
          : `${p.field}: ${what} already has the canary Ingress ${primary.canary.ingress} (older, or as old and first by namespace/name); this canary rule is ignored`;
      ctx.diagnostics.ingress(a.ref, "warning", "CanaryConflict", message);
      return;
    }
    const resolution = ctx.balancers.resolve(a.ingress.metadata.namespace, p.backend);
    if (!resolution.ok) {
      ctx.diagnostics.ingress(a.ref, "error", resolution.reason, `${p.field}: ${resolution.message}; this canary rule is not served`);
      return;
    }
    for (const problem of resolution.backend.problems) ctx.diagnostics.ingress(a.ref, problem.severity, problem.reason, problem.message);
    const split: CanaryConfig = { ingress: a.ref, balancer: resolution.backend.balancer.id, weight: canary.weight, byHeader: canary.byHeader, byCookie: canary.byCookie };
    entry.routes.set(p.key, { ...primary, canary: split });
  });
}

function noop(): void {}

function ruleHost(ref: string, raw: string | undefined, i: number, ctx: Context): string | null {
  if (raw === undefined || raw === "") return "";
  const checked = checkRuleHost(raw);
  if (checked.ok) return checked.host;
  ctx.diagnostics.ingress(ref, "error", "InvalidHost", `spec.rules[${i}].host ${JSON.stringify(raw)}: ${checked.reason}; this rule is not served`);
  return null;
}

function hostEntry(host: string, ctx: Context): HostEntry {
  let entry = ctx.hosts.get(host);
  if (entry === undefined) {
    entry = { routes: new Map(), fallback: null };
    ctx.hosts.set(host, entry);
  }
  return entry;
}

function routeTo(a: AdmittedIngress, backend: IngressBackend, path: string, pathType: Route["pathType"], field: string, ctx: Context): Route | null {
  const resolution = ctx.balancers.resolve(a.ingress.metadata.namespace, backend);
  if (!resolution.ok) {
    ctx.diagnostics.ingress(a.ref, "error", resolution.reason, `${field}: ${resolution.message}; this path is not served`);
    return null;
  }
  for (const p of resolution.backend.problems) ctx.diagnostics.ingress(a.ref, p.severity, p.reason, p.message);
  return makeRoute(path, pathType, a.ref, resolution.backend.balancer.id, a.options);
}

function makeRoute(path: string, pathType: Route["pathType"], ingress: string, balancer: string, options: RouteOptions): Route {
  return { path, pathType, ingress, balancer, options, canary: null };
}

function reportConflict(ref: string, host: string, loser: Route, winner: Route, ctx: Context): void {
  const what = `host ${JSON.stringify(host)} path ${JSON.stringify(loser.path)} (${loser.pathType})`;
  const message =
    winner.ingress === ref
      ? `${what} appears twice in this Ingress; the first one is served`
      : `${what} is already served by Ingress ${winner.ingress} (older, or as old and first by namespace/name); this Ingress's rule is ignored`;
  ctx.diagnostics.ingress(ref, "warning", "RouteConflict", message);
}

function defaultBackendRoute(a: AdmittedIngress, ctx: Context): Route | null {
  const backend = a.ingress.spec.defaultBackend;
  if (backend === undefined) return null;
  return routeTo(a, backend, "/", "Prefix", "spec.defaultBackend", ctx);
}

function setFallback(host: string, route: Route, ctx: Context): void {
  const entry = hostEntry(host, ctx);
  if (entry.fallback === null) {
    entry.fallback = route;
    return;
  }
  if (entry.fallback.ingress === route.ingress) return;
  ctx.diagnostics.ingress(route.ingress, "warning", "DefaultBackendConflict", `spec.defaultBackend is not the fallback of host ${JSON.stringify(host)}: Ingress ${entry.fallback.ingress} is older and has one`);
}

/** Longer paths first; at equal length Exact before Prefix; then by path text. */
export function compareRoutes(a: Route, b: Route): number {
  return b.path.length - a.path.length || typeRank(a) - typeRank(b) || compareText(a.path, b.path);
}

function typeRank(route: Route): number {
  return route.pathType === "Exact" ? 0 : 1;
}

function virtualHosts(hosts: ReadonlyMap<string, HostEntry>): VirtualHost[] {
  return [...hosts]
    .filter(([, entry]) => entry.routes.size > 0 || entry.fallback !== null)
    .sort(([a], [b]) => compareText(a, b))
    .map(([host, entry]) => ({ host, routes: [...entry.routes.values()].sort(compareRoutes), fallback: entry.fallback }));
}
