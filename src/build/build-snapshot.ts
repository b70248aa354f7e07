// The pure builder: cluster objects + last accepted Ingress versions + settings -> snapshot.
import type { BalancerConfig, BalancerMembers, BuildMemory, BuildSettings, ClusterView, Diagnostic, EndpointTable, Ingress, ProxySnapshot, RouteTable, ServerSettings, VirtualHost } from "../model/index.js";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { contentHash } from "../util/index.js";
import { admitIngresses } from "./admit.js";
import { resolveAuth } from "./auth.js";
import { indexServices } from "./backend.js";
import { resolveBalancers, type UsedBalancer } from "./balancer-settings.js";
import { SecretLookup } from "./backend-tls.js";
import { BalancerSet } from "./balancers.js";
import { BuildCache, sameItems, settingsKeyOf, usableCache } from "./cache.js";
import { DiagnosticList } from "./diagnostics.js";
import { resolveGlobalSettings, type GlobalSettings } from "./global-settings.js";
import { selectIngresses } from "./ingress-class.js";
import { compareText } from "./order.js";
import { balancerMembersBytes, endpointTableVersion } from "./endpoints.js";
import { mergeRoutes, type MergedRoutes } from "./routes.js";
import { balancerConfigJson, RouteJsonWriter, serverSettingsJson } from "./snapshot-json.js";
import { buildTlsTable, tlsSettingsOf } from "./tls.js";
import { canonicalJson } from "../util/index.js";
import type { Secret, TlsTable } from "../model/index.js";

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
 *
 * Incremental: `memory.cache` (the previous result's) lets results derived from objects that are
 * still the same instances be reused — a Service's members and their JSON, an Ingress's routes,
 * virtual hosts and balancer configs with their JSON, a table version when nothing in it changed.
 * The result equals a build with no cache (test/build/incremental.test.ts checks that on random
 * changes); the new cache holds only what this build used.
 */
export function buildSnapshot(view: ClusterView, memory: BuildMemory, settings: BuildSettings): BuildResult {
  const diagnostics = new DiagnosticList();
  const selection = selectIngresses(view.ingresses, view.ingressClasses, settings);
  for (const d of selection.diagnostics) diagnostics.add(d);
  const global = resolveGlobalSettings(view, settings, memory.settings, diagnostics);
  const caches = { prev: usableCache(memory.cache, settings), next: new BuildCache(settingsKeyOf(settings), JSON.stringify(global.annotationDefaults)) };
  const admitted = resolveAuth(admitIngresses(selection.ours, memory.ingresses, global.annotationDefaults, diagnostics, caches.prev, caches.next), view.secrets, diagnostics, caches.prev, caches.next);
  const balancers = new BalancerSet(indexServices(view), settings, caches.prev, caches.next);
  const merged = mergeRoutes(admitted, balancers, diagnostics, caches);
  const used = resolveBalancers(merged, admitted, balancers, diagnostics, caches, new SecretLookup(view), global.global.server.notFoundPage?.backend ?? null);
  const secrets = new Map<string, Secret>(view.secrets.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s] as const));
  const defaultCert = settings.defaultCertificate ?? null;
  const tls = buildTlsTable(
    {
      ingresses: admitted,
      secrets,
      defaultCertificate: defaultCert === null ? null : `${defaultCert.namespace}/${defaultCert.name}`,
      settings: tlsSettingsOf(global.global.values),
      prevChecks: caches.prev?.tlsChecks ?? null,
      nextChecks: caches.next.tlsChecks,
      now: settings.now ?? null,
    },
    diagnostics,
  );
  const routes = routeTable(merged, used.map((b) => b.config), global.global.server, tls, caches.prev, caches.next);
  const endpoints = endpointTable(used, caches.prev, caches.next);
  const snapshot: ProxySnapshot = { version: snapshotVersion(routes.version, endpoints.version), routes, endpoints };
  const refs = admitted.map((a) => a.ref).sort(compareText);
  const byRef = new Map<string, Ingress>(admitted.map((a) => [a.ref, a.ingress]));
  const nextMemory = new Map<string, Ingress>();
  for (const ref of refs) {
    const ingress = byRef.get(ref);
    if (ingress !== undefined) nextMemory.set(ref, ingress);
  }
  return { snapshot, diagnostics: diagnostics.sorted(), memory: { ingresses: nextMemory, settings: global.memory, cache: caches.next }, globalSettings: global.global, accepted: refs };
}

/**
 * The canonical JSON (UTF-8) of a balancer's endpoint-table entry as the build that returned
 * `memory` kept it, when `entry` is that build's object; else undefined. Lets the endpoint ledger
 * share the bytes instead of serializing the table again.
 */
export function cachedMembersBytes(memory: BuildMemory, entry: BalancerMembers): Uint8Array | undefined {
  const cached = memory.cache instanceof BuildCache ? memory.cache.members.get(entry.balancer) : undefined;
  return cached !== undefined && cached.entry === entry ? cached.bytes : undefined;
}

/** The version of a snapshot made of a route table and an endpoint table of these versions. */
export function snapshotVersion(routesVersion: string, endpointsVersion: string): string {
  return contentHash({ routes: routesVersion, endpoints: endpointsVersion });
}

/**
 * The route table (with the server settings, so a settings change publishes a new table); its
 * version is contentHash of its content (canonical JSON, written by snapshot-json). The previous
 * table is reused when it has the same objects; the JSON of unchanged virtual hosts and balancer
 * configs is reused, kept as UTF-8 bytes (off the JS heap) and hashed part by part.
 */
function routeTable(merged: MergedRoutes, balancers: ReadonlyArray<BalancerConfig>, server: ServerSettings, tls: TlsTable, prev: BuildCache | null, next: BuildCache): RouteTable {
  const serverText = serverSettingsJson(server);
  const tlsText = canonicalJson(tls);
  const last = prev?.routeTable ?? null;
  const reuse = last !== null && last.serverText === serverText && last.tlsText === tlsText && last.table.defaultRoute === merged.defaultRoute && sameItems(last.table.balancers, balancers) && sameItems(last.table.virtualHosts, merged.virtualHosts);
  const writer = new RouteJsonWriter();
  const hash = reuse ? null : createHash("sha256");
  hash?.update('{"balancers":[');
  for (let i = 0; i < balancers.length; i++) {
    const b = balancers[i] as BalancerConfig;
    const part = prev?.configTexts.get(b) ?? utf8(balancerConfigJson(b));
    next.configTexts.set(b, part);
    if (hash !== null) {
      if (i > 0) hash.update(comma);
      hash.update(part);
    }
  }
  hash?.update(`],"defaultRoute":${writer.route(merged.defaultRoute)},"server":${serverText},"tls":${tlsText},"virtualHosts":[`);
  for (let i = 0; i < merged.virtualHosts.length; i++) {
    const vh = merged.virtualHosts[i] as VirtualHost;
    const part = prev?.vhTexts.get(vh) ?? utf8(writer.virtualHost(vh));
    next.vhTexts.set(vh, part);
    if (hash !== null) {
      if (i > 0) hash.update(comma);
      hash.update(part);
    }
  }
  if (last !== null && hash === null) {
    next.routeTable = last;
    return last.table;
  }
  const version = (hash ?? createHash("sha256")).update("]}").digest("hex").slice(0, 16);
  const table: RouteTable = { version, virtualHosts: merged.virtualHosts, defaultRoute: merged.defaultRoute, balancers, server, tls };
  next.routeTable = { table, serverText, tlsText };
  return table;
}

const comma = Buffer.from(",", "utf8");

function utf8(text: string): Uint8Array {
  return Buffer.from(text, "utf8");
}

/**
 * The endpoint table; its version is contentHash({ balancers }), computed as the endpoint fast lane
 * does. A balancer whose members array is the previous build's keeps its entry and JSON bytes; the
 * previous table is reused when every entry is.
 */
function endpointTable(used: ReadonlyArray<UsedBalancer>, prev: BuildCache | null, next: BuildCache): EndpointTable {
  const balancers: BalancerMembers[] = [];
  const parts: Uint8Array[] = [];
  for (const b of used) {
    const id = b.config.id;
    let cached = prev?.members.get(id);
    if (cached === undefined || cached.entry.members !== b.members) {
      const entry: BalancerMembers = { balancer: id, members: b.members };
      cached = { entry, bytes: balancerMembersBytes(entry) };
    }
    next.members.set(id, cached);
    balancers.push(cached.entry);
    parts.push(cached.bytes);
  }
  const last = prev?.endpointTable ?? null;
  const table = last !== null && sameItems(last.balancers, balancers) ? last : { version: endpointTableVersion(parts), balancers };
  next.endpointTable = table;
  return table;
}

