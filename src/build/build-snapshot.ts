// The pure builder: cluster objects + last accepted Ingress versions + settings -> snapshot.
import type { BalancerConfig, BalancerMembers, BuildMemory, BuildSettings, ClusterView, Diagnostic, EndpointTable, Ingress, ProxySnapshot, RouteTable, ServerSettings, VirtualHost } from "../model/index.js";
import { contentHash, ContentHasher } from "../util/index.js";
import { admitIngresses } from "./admit.js";
import { indexServices } from "./backend.js";
import { resolveBalancers } from "./balancer-settings.js";
import { BalancerSet } from "./balancers.js";
import { DiagnosticList } from "./diagnostics.js";
import { resolveGlobalSettings, type GlobalSettings } from "./global-settings.js";
import { selectIngresses } from "./ingress-class.js";
import { compareText } from "./order.js";
import { endpointTableVersion } from "./endpoints.js";
import { mergeRoutes, type MergedRoutes } from "./routes.js";
import { balancerConfigJson, balancerMembersJson, RouteJsonWriter, serverSettingsJson } from "./snapshot-json.js";

export interface BuildResult {
  readonly snapshot: ProxySnapshot;
  /** Sorted (compareDiagnostics), de-duplicated. */
  readonly diagnostics: ReadonlyArray<Diagnostic>;
  /** The next build's `memory`: the accepted version of every served Ingress, by "ns/name", and the global settings in effect. */
  readonly memory: BuildMemory;
  /** The global settings in effect (the `--configmap` ConfigMap over built-in defaults). */
  readonly globalSettings: GlobalSettings;
  /** "ns/name" of the Ingresses served, sorted. */
  readonly accepted: ReadonlyArray<string>;
}

/**
 * Builds the proxy snapshot. Pure: no I/O, clock or globals; never mutates its arguments; the
 * same arguments give an equal result (and equal versions). Problems in user input become
 * diagnostics; it throws only on programmer bugs.
 */
export function buildSnapshot(view: ClusterView, memory: BuildMemory, settings: BuildSettings): BuildResult {
  const diagnostics = new DiagnosticList();
  const selection = selectIngresses(view.ingresses, view.ingressClasses, settings);
  for (const d of selection.diagnostics) diagnostics.add(d);
  const global = resolveGlobalSettings(view, settings, memory.settings, diagnostics);
  const admitted = admitIngresses(selection.ours, memory.ingresses, global.annotationDefaults, diagnostics);
  const balancers = new BalancerSet(indexServices(view), settings);
  const merged = mergeRoutes(admitted, balancers, diagnostics);
  const used = resolveBalancers(merged, admitted, balancers, diagnostics);
  const routes = routeTable(merged, used.map((b) => b.config), global.global.server);
  const endpoints = endpointTable(used.map((b) => b.members));
  const snapshot: ProxySnapshot = { version: snapshotVersion(routes.version, endpoints.version), routes, endpoints };
  const refs = admitted.map((a) => a.ref).sort(compareText);
  const byRef = new Map<string, Ingress>(admitted.map((a) => [a.ref, a.ingress]));
  const nextMemory = new Map<string, Ingress>();
  for (const ref of refs) {
    const ingress = byRef.get(ref);
    if (ingress !== undefined) nextMemory.set(ref, ingress);
  }
  return { snapshot, diagnostics: diagnostics.sorted(), memory: { ingresses: nextMemory, settings: global.memory }, globalSettings: global.global, accepted: refs };
}

/** The version of a snapshot made of a route table and an endpoint table of these versions. */
export function snapshotVersion(routesVersion: string, endpointsVersion: string): string {
  return contentHash({ routes: routesVersion, endpoints: endpointsVersion });
}

/**
 * The route table (with the server settings, so a settings change publishes a new table); its
 * version is contentHash of its content (canonical JSON, written by snapshot-json).
 */
function routeTable(merged: MergedRoutes, balancers: ReadonlyArray<BalancerConfig>, server: ServerSettings): RouteTable {
  const hash = new ContentHasher();
  let text = '{"balancers":[';
  for (let i = 0; i < balancers.length; i++) {
    if (i > 0) text += ",";
    text += balancerConfigJson(balancers[i] as BalancerConfig);
    if (text.length >= chunkChars) text = flush(hash, text);
  }
  const writer = new RouteJsonWriter();
  text += `],"defaultRoute":${writer.route(merged.defaultRoute)},"server":${serverSettingsJson(server)},"virtualHosts":[`;
  for (let i = 0; i < merged.virtualHosts.length; i++) {
    if (i > 0) text += ",";
    text += writer.virtualHost(merged.virtualHosts[i] as VirtualHost);
    if (text.length >= chunkChars) text = flush(hash, text);
  }
  return { version: hash.update(`${text}]}`).digest(), virtualHosts: merged.virtualHosts, defaultRoute: merged.defaultRoute, balancers, server };
}

/** Text is hashed in chunks of about this many characters: fewer calls into the hash than one per part, no 10 MB string. */
const chunkChars = 1 << 16;

function flush(hash: ContentHasher, text: string): string {
  hash.update(text);
  return "";
}

/** The endpoint table; its version is contentHash({ balancers }), computed as the endpoint fast lane does. */
function endpointTable(balancers: ReadonlyArray<BalancerMembers>): EndpointTable {
  return { version: endpointTableVersion(balancers.map(balancerMembersJson)), balancers };
}
