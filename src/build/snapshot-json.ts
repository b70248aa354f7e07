// Canonical JSON of the snapshot tables, written field by field: byte-identical to
// `canonicalJson` (keys sorted) for the model types, without JSON.stringify's replacer (which is
// called for every value and copies every object) — the bulk of a full rebuild's hashing cost. The
// key lists are checked against the model types at compile time, and test/build/snapshot-json.test.ts
// checks the text equals canonicalJson, so a field added to the model must be added here.
import type { BalancerConfig, BalancerMembers, HeaderRule, Member, Route, RouteOptions, Timeouts, VirtualHost } from "../model/index.js";

/** Compile-time check that `K` (the keys written, sorted) are exactly the keys of `T`. */
type Exactly<T, K extends ReadonlyArray<keyof T>> = [Exclude<keyof T, K[number]>] extends [never] ? K : never;
const keys = <T>() => <const K extends ReadonlyArray<keyof T>>(k: Exactly<T, K>): K => k;
// Sorted key lists (referenced so a model change fails the typecheck here).
export const canonicalKeys = {
  route: keys<Route>()(["balancer", "ingress", "options", "path", "pathType"]),
  options: keys<RouteOptions>()(["preserveHost", "requestHeaders", "responseHeaders", "timeouts", "upstreamVhost"]),
  timeouts: keys<Timeouts>()(["connectMs", "readMs"]),
  header: keys<HeaderRule>()(["name", "op", "value"]),
  virtualHost: keys<VirtualHost>()(["fallback", "host", "routes"]),
  balancer: keys<BalancerConfig>()(["hostHeader", "id", "protocol", "service"]),
  member: keys<Member>()(["address", "key", "port", "ready", "route", "zone"]),
  balancerMembers: keys<BalancerMembers>()(["balancer", "members"]),
} as const;

const str = JSON.stringify as (value: string | number | boolean | null) => string;

function headersJson(rules: ReadonlyArray<HeaderRule>): string {
  let out = "[";
  for (let i = 0; i < rules.length; i++) {
    const h = rules[i] as HeaderRule;
    if (i > 0) out += ",";
    out += `{"name":${str(h.name)},"op":${str(h.op)},"value":${str(h.value)}}`;
  }
  return `${out}]`;
}

function optionsJson(o: RouteOptions): string {
  return (
    `{"preserveHost":${str(o.preserveHost)},"requestHeaders":${headersJson(o.requestHeaders)},"responseHeaders":${headersJson(o.responseHeaders)},` +
    `"timeouts":{"connectMs":${str(o.timeouts.connectMs)},"readMs":${str(o.timeouts.readMs)}},"upstreamVhost":${str(o.upstreamVhost)}}`
  );
}

/**
 * Writes routes; options objects are shared by the routes of Ingresses with equal annotations, so
 * their text is kept per object for the life of one writer (one table), never across builds.
 */
export class RouteJsonWriter {
  readonly #options = new Map<RouteOptions, string>();

  route(r: Route | null): string {
    if (r === null) return "null";
    let options = this.#options.get(r.options);
    if (options === undefined) {
      options = optionsJson(r.options);
      this.#options.set(r.options, options);
    }
    return `{"balancer":${str(r.balancer)},"ingress":${str(r.ingress)},"options":${options},"path":${str(r.path)},"pathType":${str(r.pathType)}}`;
  }

  virtualHost(vh: VirtualHost): string {
    let out = `{"fallback":${this.route(vh.fallback)},"host":${str(vh.host)},"routes":[`;
    for (let i = 0; i < vh.routes.length; i++) {
      if (i > 0) out += ",";
      out += this.route(vh.routes[i] as Route);
    }
    return `${out}]}`;
  }
}

export function balancerConfigJson(b: BalancerConfig): string {
  return `{"hostHeader":${str(b.hostHeader)},"id":${str(b.id)},"protocol":${str(b.protocol)},"service":${str(b.service)}}`;
}

function memberJson(m: Member): string {
  return `{"address":${str(m.address)},"key":${str(m.key)},"port":${str(m.port)},"ready":${str(m.ready)},"route":${str(m.route)},"zone":${str(m.zone)}}`;
}

/** canonicalJson(members), written directly. */
export function balancerMembersJson(b: BalancerMembers): string {
  let out = `{"balancer":${str(b.balancer)},"members":[`;
  for (let i = 0; i < b.members.length; i++) {
    if (i > 0) out += ",";
    out += memberJson(b.members[i] as Member);
  }
  return `${out}]}`;
}
