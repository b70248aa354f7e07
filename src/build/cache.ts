// What a build may reuse from the previous one, passed back and forth through BuildMemory (owned by
// control, opaque to it). Every entry is keyed by the identity of the inputs it was derived from —
// sources keep an unchanged object as the same instance, so an unchanged Service, slice or Ingress
// finds its results here — and is reused only when all of them are the same objects again; a
// changed input simply misses and is computed as in a first build. The builder never mutates a
// cache it is given: each build writes a new one holding only what that build used.
import type { SecretChecks } from "./tls.js";
import type { BalancerConfig, BalancerMembers, BuildCache as BuildCacheHandle, BuildSettings, EndpointSlice, EndpointTable, Ingress, IngressBackend, Member, Route, RouteTable, Secret, Service, VirtualHost } from "../model/index.js";
import type { BalancerSettingsValue, ParsedAnnotations } from "./annotations/index.js";
import type { AuthEntry } from "./auth.js";
import type { BackendResolution } from "./backend.js";
import type { DiagnosticList } from "./diagnostics.js";
import type { Diagnostic } from "../model/index.js";

/** The resolutions of one Service's backends (by port number or name), valid for that Service object and those slice objects. */
export interface ServiceEntry {
  readonly service: Service | undefined;
  readonly slices: ReadonlyArray<EndpointSlice>;
  readonly byPort: Map<number | string, BackendResolution>;
  /** The previous build's entry had the same Service and slice objects: its resolutions hold. */
  readonly reused: boolean;
}

/** One rule path of an Ingress, resolved: its route, or null when its backend did not resolve. */
export interface FragmentPath {
  readonly host: string;
  /** "pathType path": the key of a route in its host's map. */
  readonly key: string;
  readonly route: Route | null;
}

/**
 * What an Ingress's rules contribute before merging with other Ingresses, valid for the same
 * served Ingress object, the same parsed options and the same resolution of each backend.
 */
export interface IngressFragment {
  readonly ingress: Ingress;
  readonly options: object;
  readonly backends: ReadonlyArray<IngressBackend>;
  readonly resolutions: ReadonlyArray<BackendResolution>;
  /** Valid hosts of its rules, sorted, unique. */
  readonly hosts: ReadonlyArray<string>;
  readonly paths: ReadonlyArray<FragmentPath>;
  /** Diagnostics of its own rules (invalid hosts and paths, backend problems), in the order found. */
  readonly diagnostics: ReadonlyArray<Diagnostic>;
}

/** A balancer's config as resolveBalancers made it from these inputs. */
export interface ConfigEntry {
  readonly base: BalancerConfig;
  readonly settings: BalancerSettingsValue;
  readonly settingsFrom: string;
  readonly standby: string | null;
  /** The winner's `upstream-vhost` (the SNI name of TLS members). */
  readonly vhost: string | null;
  /** The `backend-ca-secret` object looked up (verification on), or null. */
  readonly caSecret: Secret | null;
  /** The CA Secret's problem reported on the winner (repeated when reused). */
  readonly tlsProblem: { readonly reason: string; readonly message: string } | null;
  /** The `ajp-secret` Secret object resolved (AJP members), or null. */
  readonly ajpSecret: Secret | null;
  /** What was wrong with it (reported again when the config is reused), or null. */
  readonly ajpProblem: { readonly severity: "error" | "warning"; readonly reason: string; readonly message: string } | null;
  readonly config: BalancerConfig;
}

/** A balancer's members with hot-standby members joined, for the same two member lists. */
export interface StandbyEntry {
  readonly primary: ReadonlyArray<Member>;
  readonly standby: ReadonlyArray<Member>;
  readonly members: ReadonlyArray<Member>;
}

/** A balancer's entry of the endpoint table and its canonical JSON (UTF-8), for the same members array. */
export interface MembersEntry {
  readonly entry: BalancerMembers;
  readonly bytes: Uint8Array;
}

/** A virtual host and the routes (in insertion order) and fallback it was made from. */
export interface HostRoutes {
  readonly routes: ReadonlyArray<Route>;
  readonly fallback: Route | null;
  readonly vh: VirtualHost;
}

export class BuildCache implements BuildCacheHandle {
  /** The settings the entries were derived with (clusterDomain and zone change resolutions). */
  readonly settingsKey: string;
  /** Annotation defaults (global settings) the parsed annotations were derived with. */
  readonly defaultsKey: string;
  readonly parsed: Map<Ingress, ParsedAnnotations> = new Map();
  /** TLS Secret checks (tls.ts), by "ns/name", reused while the Secret object is the same. */
  readonly tlsChecks: SecretChecks = new Map();
  /** Resolved `auth-*` options by Ingress ref (auth.ts). */
  readonly auth: Map<string, AuthEntry> = new Map();
  readonly services: Map<string, ServiceEntry> = new Map();
  readonly fragments: Map<string, IngressFragment> = new Map();
  /** Default-backend routes by Ingress ref: the route for the same Ingress, options and resolution. */
  readonly fallbacks: Map<string, { readonly ingress: Ingress; readonly options: object; readonly resolution: BackendResolution; readonly route: Route }> = new Map();
  readonly configs: Map<string, ConfigEntry> = new Map();
  readonly standby: Map<string, StandbyEntry> = new Map();
  /** Canonical JSON (UTF-8) of each balancer config object. */
  readonly configTexts: Map<BalancerConfig, Uint8Array> = new Map();
  readonly members: Map<string, MembersEntry> = new Map();
  readonly hostRoutes: Map<string, HostRoutes> = new Map();
  /** Hosts of the virtual hosts, sorted (the next build skips sorting when its set of hosts is the same). */
  hostOrder: ReadonlyArray<string> = [];
  /** Creation time of each Ingress object in seconds (null: none or unparseable). */
  readonly ages: Map<Ingress, number | null> = new Map();
  /** Canonical JSON (UTF-8) of each virtual host object. */
  readonly vhTexts: Map<VirtualHost, Uint8Array> = new Map();
  routeTable: { readonly table: RouteTable; readonly serverText: string; readonly tlsText: string } | null = null;
  /** The endpoint table of the build that wrote this cache. */
  endpointTable: EndpointTable | null = null;

  constructor(settingsKey: string, defaultsKey: string) {
    this.settingsKey = settingsKey;
    this.defaultsKey = defaultsKey;
  }
}

/** The settings that resolutions depend on. */
export function settingsKeyOf(settings: BuildSettings): string {
  return `${settings.clusterDomain}\u0000${settings.zone ?? "\u0001"}`;
}

/** The previous cache when it can serve a build with these settings, else null. */
export function usableCache(cache: BuildCacheHandle | undefined, settings: BuildSettings): BuildCache | null {
  return cache instanceof BuildCache && cache.settingsKey === settingsKeyOf(settings) ? cache : null;
}

/** Whether two lists hold the same objects in the same order. */
export function sameItems<T>(a: ReadonlyArray<T>, b: ReadonlyArray<T>): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Adds a fragment's (Ingress) diagnostics to a build's list. */
export function replay(diagnostics: ReadonlyArray<Diagnostic>, list: Pick<DiagnosticList, "ingress">): void {
  for (const d of diagnostics) list.ingress(d.object, d.severity, d.reason, d.message);
}
