// Backend resolution: Ingress backend -> Service port -> balancer config and members.
import { defaultBalancerSettings, type BalancerConfig, type BuildSettings, type ClusterView, type Endpoint, type EndpointSlice, type IngressBackend, type Member, type Service, type ServicePort } from "../model/index.js";
import { contentHash } from "../util/index.js";
import { isDnsName } from "./host.js";
import { compareText } from "./order.js";

export const serviceNameLabel = "kubernetes.io/service-name";

/** Services by "ns/name"; EndpointSlices by "ns/service", sorted by slice name. */
export interface ServiceIndex {
  readonly services: ReadonlyMap<string, Service>;
  readonly slices: ReadonlyMap<string, ReadonlyArray<EndpointSlice>>;
}

/** Indexes every Service and its slices, or only those of the Services in `only` ("ns/name"). */
export function indexServices(view: ClusterView, only: ReadonlySet<string> | null = null): ServiceIndex {
  // With `only`, objects of other Services are skipped without building their keys.
  const wanted = only === null ? null : namesByNamespace(only);
  const isWanted = (ns: string, name: string): boolean => wanted === null || (wanted.get(ns)?.has(name) ?? false);
  const services = new Map<string, Service>();
  for (const s of view.services) {
    if (isWanted(s.metadata.namespace, s.metadata.name)) services.set(`${s.metadata.namespace}/${s.metadata.name}`, s);
  }
  const slices = new Map<string, EndpointSlice[]>();
  for (const slice of view.endpointSlices) {
    const service = slice.metadata.labels[serviceNameLabel];
    if (service === undefined || !isWanted(slice.metadata.namespace, service)) continue;
    const key = `${slice.metadata.namespace}/${service}`;
    const list = slices.get(key);
    if (list === undefined) slices.set(key, [slice]);
    else list.push(slice);
  }
  for (const list of slices.values()) list.sort((a, b) => compareText(a.metadata.name, b.metadata.name));
  return { services, slices };
}

/** "ns/name" keys as namespace -> names. */
function namesByNamespace(keys: ReadonlySet<string>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const key of keys) {
    const slash = key.indexOf("/");
    const ns = key.slice(0, slash);
    let names = out.get(ns);
    if (names === undefined) {
      names = new Set();
      out.set(ns, names);
    }
    names.add(key.slice(slash + 1));
  }
  return out;
}

/** The one backend problem that depends on EndpointSlices (not only on the Service). */
export const endpointPortNotFound = "EndpointPortNotFound";

export function endpointProblemPrefix(service: string): string {
  return `EndpointSlices of Service ${service} have`;
}

/** Something wrong with a backend that still gets a (memberless, 503) balancer. */
export interface BackendProblem {
  readonly severity: "error" | "warning";
  readonly reason: string;
  readonly message: string;
}

export interface ResolvedBackend {
  readonly balancer: BalancerConfig;
  /** Sorted by key. */
  readonly members: ReadonlyArray<Member>;
  readonly problems: ReadonlyArray<BackendProblem>;
}

export type BackendResolution = { readonly ok: true; readonly backend: ResolvedBackend } | { readonly ok: false; readonly reason: string; readonly message: string };

/** Resolves a backend of an Ingress in namespace `ns`. Resource backends are not supported. */
export function resolveBackend(ns: string, backend: IngressBackend, index: ServiceIndex, settings: BuildSettings): BackendResolution {
  if (backend.service === undefined) {
    if (backend.resource !== undefined) {
      return { ok: false, reason: "UnsupportedBackend", message: `resource backends (${backend.resource.kind} ${backend.resource.name}) are not supported; only service backends are` };
    }
    return { ok: false, reason: "InvalidBackend", message: "backend names neither a service nor a resource" };
  }
  const { name, port } = backend.service;
  const portText = port.number !== undefined ? String(port.number) : `"${port.name ?? ""}"`;
  const service = index.services.get(`${ns}/${name}`);
  if (service === undefined) {
    const problem = { severity: "error" as const, reason: "ServiceNotFound", message: `Service ${ns}/${name} not found; routes to it answer 503 until it exists` };
    return memberless(ns, name, port.number ?? port.name ?? "", settings, problem);
  }
  const servicePort = service.spec.ports.find((p) => (port.number !== undefined ? p.port === port.number : p.name === port.name));
  if (isExternalName(service)) return externalNameBackend(ns, service, servicePort?.port ?? port.number, portText);
  if (servicePort === undefined) {
    const problem = { severity: "error" as const, reason: "ServicePortNotFound", message: `Service ${ns}/${name} has no port ${portText}; routes to it answer 503 until it does` };
    return memberless(ns, name, port.number ?? port.name ?? "", settings, problem);
  }
  return { ok: true, backend: serviceBackend(ns, service, servicePort, index, settings) };
}

function isExternalName(service: Service): boolean {
  return service.spec.type === "ExternalName";
}

/** The default settings without `protocol`, which is written right after `hostHeader` (the golden files' key order). */
const { protocol: defaultProtocol, ...otherDefaults } = defaultBalancerSettings;

function balancerConfig(ns: string, name: string, port: number | string, hostHeader: string): BalancerConfig {
  return { id: `${ns}/${name}:${port}`, service: `${ns}/${name}`, hostHeader, protocol: defaultProtocol, ...otherDefaults };
}

function serviceHost(ns: string, name: string, port: number | string, settings: BuildSettings): string {
  const host = `${name}.${ns}.svc.${settings.clusterDomain}`;
  return typeof port === "number" && port !== 80 ? `${host}:${port}` : host;
}

function memberless(ns: string, name: string, port: number | string, settings: BuildSettings, problem: BackendProblem): BackendResolution {
  return { ok: true, backend: { balancer: balancerConfig(ns, name, port, serviceHost(ns, name, port, settings)), members: [], problems: [problem] } };
}

/** ExternalName: one member, the DNS name at the Service port (or the port asked for). */
function externalNameBackend(ns: string, service: Service, port: number | undefined, portText: string): BackendResolution {
  const name = service.metadata.name;
  const externalName = (service.spec.externalName ?? "").toLowerCase();
  const id = port ?? portText.replaceAll('"', "");
  const balancer = balancerConfig(ns, name, id, externalName);
  if (port === undefined) {
    return { ok: true, backend: { balancer, members: [], problems: [{ severity: "error", reason: "ServicePortNotFound", message: `ExternalName Service ${ns}/${name} has no port ${portText}; routes to it answer 503 until it does` }] } };
  }
  if (!isDnsName(externalName)) {
    return { ok: true, backend: { balancer, members: [], problems: [{ severity: "error", reason: "InvalidExternalName", message: `ExternalName Service ${ns}/${name} has externalName ${JSON.stringify(service.spec.externalName ?? "")}, not a DNS name; routes to it answer 503` }] } };
  }
  const key = memberKey(externalName, port);
  const member: Member = { key, address: externalName, port, route: hashRoute(key), zone: null, ready: true, standby: false, lbset: 0 };
  return { ok: true, backend: { balancer, members: [member], problems: [] } };
}

function serviceBackend(ns: string, service: Service, servicePort: ServicePort, index: ServiceIndex, settings: BuildSettings): ResolvedBackend {
  const name = service.metadata.name;
  const balancer = balancerConfig(ns, name, servicePort.port, serviceHost(ns, name, servicePort.port, settings));
  const slices = index.slices.get(`${ns}/${name}`) ?? [];
  const portName = servicePort.name ?? "";
  const matching = slices.filter((s) => s.ports.some((p) => (p.name ?? "") === portName && p.port !== undefined));
  const problems: BackendProblem[] = [];
  if (slices.length > 0 && matching.length === 0) {
    problems.push({ severity: "warning", reason: endpointPortNotFound, message: `${endpointProblemPrefix(`${ns}/${name}`)} no port named ${JSON.stringify(portName)}; the balancer has no members and answers 503` });
  }
  return { balancer, members: sliceMembers(matching, portName, settings.zone), problems };
}

/** A member's route id when the endpoint has no usable pod name or hostname: "a" + 10 hex of sha256 of its key. */
export function hashRoute(key: string): string {
  return `a${contentHash(key).slice(0, 10)}`;
}

/** Cookie-safe route ids ([a-z0-9.-], starting with a letter or digit, like pod names and hostnames). */
const routePattern = /^[a-z0-9][a-z0-9.-]{0,252}$/;

function memberRoute(endpoint: Endpoint, key: string): string {
  const pod = endpoint.targetRef?.name;
  if (pod !== undefined && routePattern.test(pod)) return pod;
  const host = endpoint.hostname;
  if (host !== undefined && routePattern.test(host)) return host;
  return hashRoute(key);
}

/** Whether an endpoint carries topology hints (`hints.forZones` with at least one zone). */
function hasHints(endpoint: Endpoint): boolean {
  return (endpoint.hints?.forZones?.length ?? 0) > 0;
}

function hintsInclude(endpoint: Endpoint, zone: string): boolean {
  return endpoint.hints?.forZones?.some((z) => z.name === zone) ?? false;
}

/**
 * Members of the slices at the port named `portName`: ready endpoints (ready != false) as ready,
 * serving+terminating ones as not ready, others dropped. The first address of an endpoint is used;
 * an address in several slices counts once (ready if any copy is ready). With a `zone` and topology
 * hints on every ready endpoint, members hinted for the zone get lbset 0 and the others lbset 1;
 * otherwise all are lbset 0.
 */
export function sliceMembers(slices: ReadonlyArray<EndpointSlice>, portName: string, zone: string | null = null): Member[] {
  const candidates: Member[] = [];
  const hinted: Endpoint[] = [];
  let tiers = zone !== null;
  let anyReady = false;
  for (const slice of slices) {
    const port = slice.ports.find((p) => (p.name ?? "") === portName)?.port;
    if (port === undefined) continue;
    for (const endpoint of slice.endpoints) {
      const c = endpoint.conditions;
      const ready = c.ready !== false;
      if (!ready && !(c.serving === true && c.terminating === true)) continue;
      const address = endpoint.addresses[0];
      if (address === undefined) continue;
      const key = memberKey(address, port);
      if (ready) {
        anyReady = true;
        if (!hasHints(endpoint)) tiers = false;
      }
      hinted.push(endpoint);
      candidates.push({ key, address, port, route: memberRoute(endpoint, key), zone: endpoint.zone ?? null, ready, standby: false, lbset: 0 });
    }
  }
  if (tiers && anyReady && zone !== null) {
    for (let i = 0; i < candidates.length; i++) {
      const m = candidates[i] as Member;
      if (!hintsInclude(hinted[i] as Endpoint, zone)) candidates[i] = { ...m, lbset: 1 };
    }
  }
  // A stable sort keeps copies of one key in slice order, next to each other: the first copy wins
  // unless it is not ready and a later one is (the first ready copy then).
  if (!sortedByKey(candidates)) candidates.sort(compareMembers);
  let n = 0;
  for (const m of candidates) {
    const last = n > 0 ? candidates[n - 1] : undefined;
    if (last !== undefined && last.key === m.key) {
      if (!last.ready && m.ready) candidates[n - 1] = m;
      continue;
    }
    candidates[n++] = m;
  }
  candidates.length = n;
  return candidates;
}

function compareMembers(a: Member, b: Member): number {
  return compareText(a.key, b.key);
}

/** Whether keys never decrease (then sorting is skipped: endpoints often come in order). */
function sortedByKey(members: ReadonlyArray<Member>): boolean {
  for (let i = 1; i < members.length; i++) if ((members[i - 1] as Member).key > (members[i] as Member).key) return false;
  return true;
}

/** "address:port", with IPv6 addresses bracketed. */
export function memberKey(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * The members of a balancer with a hot standby: its own members, then the standby Service's
 * members as standby (H, lbset 0) unless a primary member has the same key; sorted by key.
 */
export function withStandby(primary: ReadonlyArray<Member>, standby: ReadonlyArray<Member>): ReadonlyArray<Member> {
  if (standby.length === 0) return primary;
  const keys = new Set(primary.map((m) => m.key));
  const out: Member[] = [...primary];
  for (const m of standby) if (!keys.has(m.key)) out.push({ ...m, standby: true, lbset: 0 });
  return out.sort(compareMembers);
}
