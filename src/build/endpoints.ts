// The endpoint fast lane's half of the builder: members of some balancers, resolved by the same
// code the full build uses (resolveBackend), and the endpoint table version computed from
// per-balancer texts so a caller that keeps them can re-version a table after changing a few.
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { BalancerConfig, BalancerMembers, BuildSettings, ClusterView, Diagnostic, IngressBackend } from "../model/index.js";
import { endpointPortNotFound, endpointProblemPrefix, indexServices, resolveBackend, withStandby, type ResolvedBackend, type ServiceIndex } from "./backend.js";
import { balancerMembersJson } from "./snapshot-json.js";

/**
 * Members of `balancers` (configs of the current route table) in `view`, in the order given, exactly
 * as `buildSnapshot` would resolve them, hot-standby members and zone lbsets included; null when
 * that cannot be guaranteed — a balancer (or its standby) whose resolution now differs from its
 * config or reports a problem (a diagnostic would change), or whose Service has several ports with
 * its port number — and the caller must run a full build.
 */
export function buildBalancerMembers(view: ClusterView, balancers: ReadonlyArray<BalancerConfig>, settings: BuildSettings): BalancerMembers[] | null {
  const services = new Set<string>();
  for (const b of balancers) {
    services.add(b.service);
    if (b.standby !== null) services.add(serviceOfId(b.standby));
  }
  const index = indexServices(view, services);
  const out: BalancerMembers[] = [];
  for (const config of balancers) {
    const primary = resolveExactly(config.id, config.service, index, settings);
    if (primary === null || primary.balancer.hostHeader !== config.hostHeader) return null;
    let members = primary.members;
    if (config.standby !== null) {
      const standby = resolveExactly(config.standby, serviceOfId(config.standby), index, settings);
      if (standby === null) return null;
      members = withStandby(members, standby.members);
    }
    out.push({ balancer: config.id, members });
  }
  return out;
}

/** The Service ("ns/name") of a balancer id ("ns/name:port"). */
export function serviceOfId(id: string): string {
  const colon = id.lastIndexOf(":");
  return colon < 0 ? id : id.slice(0, colon);
}

/**
 * Resolves balancer `id` of `service` as the full build does; null when the result could differ
 * from the full build's: the id resolves differently, a problem is reported (a diagnostic would
 * change), or the Service has several ports with the id's port number.
 */
function resolveExactly(id: string, service: string, index: ServiceIndex, settings: BuildSettings): ResolvedBackend | null {
  const backend = backendOf(id, service);
  if (backend === null) return null;
  const svc = index.services.get(service);
  const portNumber = backend.backend.service?.port.number;
  if (svc !== undefined && portNumber !== undefined && svc.spec.ports.filter((p) => p.port === portNumber).length > 1) return null;
  const resolution = resolveBackend(backend.namespace, backend.backend, index, settings);
  if (!resolution.ok) return null;
  const { balancer, problems } = resolution.backend;
  // An id with a port name (a custom-error-backend's, kept as written) resolves to the port's number.
  if (problems.length > 0 || (balancer.id !== id && /^[0-9]+$/.test(id.slice(service.length + 1)))) return null;
  return resolution.backend;
}

/**
 * Whether `diagnostics` (of the last full build) report a slice-dependent problem of one of
 * `services`: such a diagnostic may go away with an endpoint change, so only a full build may
 * decide.
 */
export function hasEndpointProblem(diagnostics: ReadonlyArray<Diagnostic>, services: Iterable<string>): boolean {
  const problems = diagnostics.filter((d) => d.reason === endpointPortNotFound);
  if (problems.length === 0) return false;
  for (const service of services) {
    const prefix = endpointProblemPrefix(service);
    if (problems.some((d) => d.message.startsWith(`${prefix} `))) return true;
  }
  return false;
}

/** The Ingress backend a balancer id ("ns/service:port") stands for. */
function backendOf(id: string, service: string): { namespace: string; backend: IngressBackend } | null {
  const slash = service.indexOf("/");
  if (slash < 0 || !id.startsWith(`${service}:`)) return null;
  const namespace = service.slice(0, slash);
  const name = service.slice(slash + 1);
  const port = id.slice(service.length + 1);
  if (port === "") return null;
  return { namespace, backend: { service: { name, port: /^[0-9]+$/.test(port) ? { number: Number(port) } : { name: port } } } };
}

/** The text of one balancer's members that the endpoint table version hashes: canonicalJson(members). */
export function balancerMembersText(members: BalancerMembers): string {
  return balancerMembersJson(members);
}

/** balancerMembersText as UTF-8: what callers that keep a balancer's text keep (hashed without re-encoding). */
export function balancerMembersBytes(members: BalancerMembers): Uint8Array {
  return Buffer.from(balancerMembersJson(members), "utf8");
}

const tableStart = Buffer.from('{"balancers":[', "utf8");
const comma = Buffer.from(",", "utf8");
const tableEnd = Buffer.from("]}", "utf8");

/**
 * The endpoint table version from the texts of its balancers (sorted by id; strings or their
 * UTF-8 bytes): equal to the `endpoints.version` buildSnapshot gives for the same balancers,
 * without re-serializing them. Each part goes to the hash as it is: no joined text, no garbage.
 */
export function endpointTableVersion(texts: Iterable<string | Uint8Array>): string {
  const hash = createHash("sha256");
  hash.update(tableStart);
  let first = true;
  for (const text of texts) {
    if (!first) hash.update(comma);
    hash.update(text);
    first = false;
  }
  return hash.update(tableEnd).digest("hex").slice(0, 16);
}
