// Property test (fast-check): random Ingress rule sets go through the real pipeline (manifest
// objects -> toClusterView -> buildSnapshot -> compileRoutes) and every random request is routed as
// a small reference model of the Ingress rules says: most specific host (exact, then one-label
// wildcard, then the host-less rules; no fallthrough), longest path (Prefix element-wise, trailing
// "/" ignored; Exact beats Prefix of equal length), the same host+path+type in two Ingresses goes
// to the oldest, then the host's defaultBackend (oldest Ingress of that host having one), then the
// oldest defaultBackend overall, else 404.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildSnapshot } from "../../src/build/index.js";
import { BalancerRegistry, Scoreboard, compileRoutes, normalizeHost } from "../../src/dataplane/index.js";
import { toClusterView } from "../../src/files/index.js";
import { defaultBuildSettings, emptyBuildMemory } from "../../src/model/index.js";

const RULE_HOSTS = ["a.test", "b.test", "*.w.test", ""] as const;
const REQUEST_HOSTS = ["a.test", "b.test", "x.w.test", "y.w.test", "w.test", "z.x.w.test", "other.test", "A.TEST"] as const;
const SEGMENTS = ["a", "b", "ab", "a.b"] as const;

interface PathRule {
  readonly path: string;
  readonly pathType: "Exact" | "Prefix" | "ImplementationSpecific";
}
interface Rule {
  readonly host: string;
  readonly paths: ReadonlyArray<PathRule>;
}
interface Ing {
  readonly rules: ReadonlyArray<Rule>;
  readonly defaultBackend: boolean;
}

const segmentPath = fc.array(fc.constantFrom(...SEGMENTS), { minLength: 0, maxLength: 3 }).map((s) => `/${s.join("/")}`);
const rulePath = fc.tuple(segmentPath, fc.boolean()).map(([p, slash]) => (slash && p !== "/" ? `${p}/` : p));
const pathRule: fc.Arbitrary<PathRule> = fc.record({ path: rulePath, pathType: fc.constantFrom("Exact" as const, "Prefix" as const, "ImplementationSpecific" as const) });
const rule: fc.Arbitrary<Rule> = fc.record({ host: fc.constantFrom(...RULE_HOSTS), paths: fc.array(pathRule, { minLength: 1, maxLength: 4 }) });
const ing: fc.Arbitrary<Ing> = fc.record({ rules: fc.array(rule, { minLength: 0, maxLength: 3 }), defaultBackend: fc.boolean() });
const requestPath = fc.tuple(fc.array(fc.constantFrom(...SEGMENTS, ""), { minLength: 0, maxLength: 4 }), fc.boolean()).map(([s, slash]) => `/${s.join("/")}${slash ? "/" : ""}`);

/** Service of path k of rule j of Ingress i: identifies the route in the router's answer. */
const svc = (i: number, j: number, k: number): string => `s${i}-${j}-${k}`;
const defaultSvc = (i: number): string => `d${i}`;

function manifests(ingresses: ReadonlyArray<Ing>): unknown[] {
  const objects: unknown[] = [];
  const service = (name: string): unknown => ({ apiVersion: "v1", kind: "Service", metadata: { name, namespace: "ns" }, spec: { ports: [{ name: "http", port: 80 }] } });
  ingresses.forEach((g, i) => {
    const rules = g.rules.map((r, j) => ({
      ...(r.host !== "" ? { host: r.host } : {}),
      http: { paths: r.paths.map((p, k) => ({ path: p.path, pathType: p.pathType, backend: { service: { name: svc(i, j, k), port: { number: 80 } } } })) },
    }));
    g.rules.forEach((r, j) => r.paths.forEach((_, k) => objects.push(service(svc(i, j, k)))));
    if (g.defaultBackend) objects.push(service(defaultSvc(i)));
    objects.push({
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      // Names sort in age order too, but age decides: creationTimestamp increases with i.
      metadata: { name: `ing${String(9 - i)}`, namespace: "ns", creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() },
      spec: { ingressClassName: "proxypass", ...(g.defaultBackend ? { defaultBackend: { service: { name: defaultSvc(i), port: { number: 80 } } } } : {}), rules },
    });
  });
  return objects;
}

/** The reference: which service answers `host` + `path`, or null (404). */
function reference(ingresses: ReadonlyArray<Ing>, rawHost: string, path: string): string | null {
  const host = rawHost.toLowerCase();
  const hostsInUse = new Set<string>();
  for (const g of ingresses) for (const r of g.rules) hostsInUse.add(r.host);
  let chosen: string | null = null;
  if (hostsInUse.has(host)) chosen = host;
  else {
    const dot = host.indexOf(".");
    if (dot > 0 && hostsInUse.has(`*.${host.slice(dot + 1)}`)) chosen = `*.${host.slice(dot + 1)}`;
    else if (hostsInUse.has("")) chosen = "";
  }
  let best: { len: number; exact: boolean; service: string } | null = null;
  if (chosen !== null) {
    const seen = new Set<string>();
    ingresses.forEach((g, i) =>
      g.rules.forEach((r, j) => {
        if (r.host !== chosen) return;
        r.paths.forEach((p, k) => {
          const exact = p.pathType === "Exact";
          const norm = exact ? p.path : p.path.replace(/\/+$/, "") || "/";
          const key = `${exact ? "E" : "P"} ${norm}`;
          if (seen.has(key)) return; // same host+path+type: the oldest keeps it
          seen.add(key);
          const matches = exact ? path === norm : norm === "/" || path === norm || path.startsWith(`${norm}/`);
          if (!matches) return;
          if (best === null || norm.length > best.len || (norm.length === best.len && exact && !best.exact)) best = { len: norm.length, exact, service: svc(i, j, k) };
        });
      }),
    );
    if (best !== null) return (best as { service: string }).service;
    const owner = ingresses.findIndex((g) => g.defaultBackend && g.rules.some((r) => r.host === chosen));
    if (owner !== -1) return defaultSvc(owner);
  }
  const oldest = ingresses.findIndex((g) => g.defaultBackend);
  return oldest === -1 ? null : defaultSvc(oldest);
}

describe("router against a reference model of Ingress host/path rules", () => {
  it("routes every request as the model does (random rule sets, hosts and paths)", () => {
    fc.assert(
      fc.property(fc.array(ing, { minLength: 1, maxLength: 5 }), fc.array(fc.tuple(fc.constantFrom(...REQUEST_HOSTS), requestPath), { minLength: 1, maxLength: 30 }), (ingresses, requests) => {
        const objects = manifests(ingresses).map((value, index) => ({ file: "m.yaml", index, value }));
        const { view } = toClusterView(objects);
        const { snapshot } = buildSnapshot(view, emptyBuildMemory, defaultBuildSettings);
        const router = compileRoutes(snapshot.routes, new BalancerRegistry(Scoreboard.create({ members: 16, balancers: 128 })));
        for (const [host, path] of requests) {
          const got = router.route(normalizeHost(host), path);
          const service = got === null ? null : (got.balancer.config.id.split("/")[1]?.split(":")[0] ?? "?");
          expect({ host, path, service }).toEqual({ host, path, service: reference(ingresses, host, path) });
        }
      }),
      { numRuns: 150, seed: 10 },
    );
  });
});
