// Routes of the admitted Ingresses, merged per host: the oldest Ingress wins a (host, path,
// pathType); spec.defaultBackend becomes the fallback of its hosts and, for the oldest one, the
// default route for unmatched hosts. Canary Ingresses add no routes: each of their rules splits the
// existing route of the same host, path and pathType (the oldest canary wins).
import type { CanaryConfig, IngressBackend, Route, RouteOptions, VirtualHost } from "../model/index.js";
import type { AdmittedIngress } from "./admit.js";
import type { CanaryValue } from "./annotations/index.js";
import type { BalancerSet } from "./balancers.js";
import { replay, type BuildCache, type FragmentPath, type IngressFragment } from "./cache.js";
import type { DiagnosticList } from "./diagnostics.js";
import type { BackendResolution } from "./backend.js";
import type { Diagnostic } from "../model/index.js";
import { checkRuleHost } from "./host.js";
import { compareText } from "./order.js";
import { checkPath } from "./path.js";

interface HostEntry {
  readonly routes: Map<string, Route>;
  fallback: Route | null;
}

/** Where the previous build's results are read and this build's are written (see cache.ts). */
interface Caches {
  readonly prev: BuildCache | null;
  readonly next: BuildCache;
}

export interface MergedRoutes {
  /** Sorted by host; routes in match order. */
  readonly virtualHosts: ReadonlyArray<VirtualHost>;
  readonly defaultRoute: Route | null;
}

interface Context {
  readonly balancers: BalancerSet;
  readonly diagnostics: Pick<DiagnosticList, "ingress">;
  readonly hosts: Map<string, HostEntry>;
}

/** `admitted` must be oldest first: earlier entries win conflicts. */
export function mergeRoutes(admitted: ReadonlyArray<AdmittedIngress>, balancers: BalancerSet, diagnostics: DiagnosticList, caches: Caches): MergedRoutes {
  const ctx: Context = { balancers, diagnostics, hosts: new Map() };
  const primaries = admitted.filter((a) => a.canary === null);
  const hostsOf = new Map<string, ReadonlyArray<string>>();
  for (const a of primaries) hostsOf.set(a.ref, addRules(a, ctx, caches));
  let defaultRoute: Route | null = null;
  for (const a of primaries) {
    const route = defaultBackendRoute(a, ctx, caches);
    if (route === null) continue;
    if (defaultRoute === null) defaultRoute = route;
    else diagnostics.ingress(a.ref, "warning", "DefaultBackendConflict", `spec.defaultBackend is not the default for unmatched hosts: Ingress ${defaultRoute.ingress} is older and has one`);
    for (const host of hostsOf.get(a.ref) ?? []) setFallback(host, route, ctx);
  }
  for (const a of admitted) if (a.canary !== null) addCanary(a, a.canary, ctx);
  return { virtualHosts: virtualHosts(ctx.hosts, caches), defaultRoute };
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

/** Adds an Ingress's rules (its fragment, reused when still valid); returns the hosts it contributes rules to. */
function addRules(a: AdmittedIngress, ctx: Context, caches: Caches): ReadonlyArray<string> {
  const ns = a.ingress.metadata.namespace;
  const prev = caches.prev?.fragments.get(a.ref);
  const fragment = prev !== undefined && isValidFragment(prev, a, ns, ctx) ? prev : ingressFragment(a, ctx);
  caches.next.fragments.set(a.ref, fragment);
  replay(fragment.diagnostics, ctx.diagnostics);
  for (const host of fragment.hosts) hostEntry(host, ctx);
  for (const p of fragment.paths) {
    if (p.route === null) continue;
    const entry = hostEntry(p.host, ctx);
    const winner = entry.routes.get(p.key);
    if (winner === undefined) entry.routes.set(p.key, p.route);
    else reportConflict(a.ref, p.host, p.route, winner, ctx);
  }
  return fragment.hosts;
}

/** Same served Ingress object and options, and every backend resolves to the same resolution (resolving registers them, as a first build would). */
function isValidFragment(f: IngressFragment, a: AdmittedIngress, ns: string, ctx: Context): boolean {
  if (f.ingress !== a.ingress || f.options !== a.options) return false;
  for (let i = 0; i < f.backends.length; i++) {
    if (ctx.balancers.resolve(ns, f.backends[i] as IngressBackend) !== f.resolutions[i]) return false;
  }
  return true;
}

/** What an Ingress's rules contribute, before merging: its valid hosts, resolved paths and its own diagnostics. */
function ingressFragment(a: AdmittedIngress, ctx: Context): IngressFragment {
  const diagnostics: Diagnostic[] = [];
  const recorder = { ingress: (ref: string, severity: Diagnostic["severity"], reason: string, message: string) => void diagnostics.push({ severity, kind: "Ingress", object: ref, reason, message }) };
  const own: Context = { balancers: ctx.balancers, diagnostics: recorder, hosts: ctx.hosts };
  const hosts = new Set<string>();
  const backends: IngressBackend[] = [];
  const resolutions: BackendResolution[] = [];
  const paths: FragmentPath[] = [];
  forEachRulePath(a, own, (host) => hosts.add(host), (p) => {
    const resolution = ctx.balancers.resolve(a.ingress.metadata.namespace, p.backend);
    backends.push(p.backend);
    resolutions.push(resolution);
    paths.push({ host: p.host, key: p.key, route: routeFrom(a, resolution, p.path, p.pathType, p.field, own) });
  });
  return { ingress: a.ingress, options: a.options, backends, resolutions, hosts: [...hosts].sort(compareText), paths, diagnostics };
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

function routeFrom(a: AdmittedIngress, resolution: BackendResolution, path: string, pathType: Route["pathType"], field: string, ctx: Context): Route | null {
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

/** The route of an Ingress's spec.defaultBackend, reused for the same Ingress object, options and resolution. */
function defaultBackendRoute(a: AdmittedIngress, ctx: Context, caches: Caches): Route | null {
  const backend = a.ingress.spec.defaultBackend;
  if (backend === undefined) return null;
  const resolution = ctx.balancers.resolve(a.ingress.metadata.namespace, backend);
  const prev = caches.prev?.fallbacks.get(a.ref);
  if (prev !== undefined && prev.ingress === a.ingress && prev.options === a.options && prev.resolution === resolution && resolution.ok) {
    for (const p of resolution.backend.problems) ctx.diagnostics.ingress(a.ref, p.severity, p.reason, p.message);
    caches.next.fallbacks.set(a.ref, prev);
    return prev.route;
  }
  const route = routeFrom(a, resolution, "/", "Prefix", "spec.defaultBackend", ctx);
  if (route !== null) caches.next.fallbacks.set(a.ref, { ingress: a.ingress, options: a.options, resolution, route });
  return route;
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

/**
 * The virtual hosts, sorted by host; a host whose routes (in insertion order) and fallback are the
 * previous build's objects keeps its previous VirtualHost object.
 */
function virtualHosts(hosts: ReadonlyMap<string, HostEntry>, caches: Caches): VirtualHost[] {
  const order = sortedHosts(hosts, caches.prev?.hostOrder ?? null);
  caches.next.hostOrder = order;
  const out: VirtualHost[] = [];
  for (const host of order) {
    const entry = hosts.get(host);
    if (entry === undefined || (entry.routes.size === 0 && entry.fallback === null)) continue;
    const prev = caches.prev?.hostRoutes.get(host);
    let cached = prev !== undefined && prev.fallback === entry.fallback && sameValues(prev.routes, entry.routes) ? prev : undefined;
    if (cached === undefined) {
      const routes = [...entry.routes.values()];
      cached = { routes, fallback: entry.fallback, vh: { host, routes: [...routes].sort(compareRoutes), fallback: entry.fallback } };
    }
    caches.next.hostRoutes.set(host, cached);
    out.push(cached.vh);
  }
  return out;
}

/** The hosts sorted; the previous build's order when the set of hosts is the same. */
function sortedHosts(hosts: ReadonlyMap<string, HostEntry>, prev: ReadonlyArray<string> | null): ReadonlyArray<string> {
  if (prev !== null && prev.length === hosts.size && prev.every((h) => hosts.has(h))) return prev;
  return [...hosts.keys()].sort(compareText);
}

/** Whether `map` holds the objects of `list`, in the same (insertion) order. */
function sameValues<T>(list: ReadonlyArray<T>, map: ReadonlyMap<string, T>): boolean {
  if (list.length !== map.size) return false;
  let i = 0;
  for (const value of map.values()) if (value !== list[i++]) return false;
  return true;
}

