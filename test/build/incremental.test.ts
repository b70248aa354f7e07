// The incremental build (BuildMemory.cache) gives exactly the result of a build without it: random
// clusters take random changes — objects replaced by new instances, added, removed, as the sources
// do, unchanged objects staying the same instances — and after each step the build with the
// previous result's cache is compared with a build of the same view and memory without a cache:
// the same snapshot (byte-identical JSON, same versions), diagnostics, accepted list and memory.
import { describe, expect, it } from "vitest";
import { buildSnapshot, type BuildResult } from "../../src/build/index.js";
import { toClusterView } from "../../src/files/index.js";
import { defaultBuildSettings, type BuildMemory, type BuildSettings, type ClusterView } from "../../src/model/index.js";
import { createTestPki } from "../support/backend-certs.js";
import { goldenCases, loadFixture, memoryFor, settingsFor } from "./golden.js";

/** mulberry32: a small seeded generator, so a failing seed can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Raw = Record<string, unknown>;

class Gen {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = random(seed);
  }
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(list: ReadonlyArray<T>): T {
    return list[this.int(list.length)] as T;
  }
}

const namespaces = ["a", "b"];
const serviceNames = ["s0", "s1", "s2", "s3", "s4", "ext"];
const annotationChoices: ReadonlyArray<Record<string, string>> = [
  {},
  {},
  { "proxypass.io/timeout": "30" },
  { "proxypass.io/timeout": "later" }, // invalid: the last accepted version stays
  { "proxypass.io/lbmethod": "bybusyness" },
  { "proxypass.io/lbmethod": "bytraffic", "proxypass.io/sticky-session": "JSESSIONID" },
  { "proxypass.io/hot-standby": "s1:80" },
  { "proxypass.io/hot-standby": "s2:http" },
  { "proxypass.io/health-check-uri": "/healthz" },
  { "proxypass.io/canary": "true", "proxypass.io/canary-weight": "20" },
  { "proxypass.io/request-headers": "set X-A 1\n" },
  { "proxypass.io/preserve-host": "false" },
  { "proxypass.io/unknown-key": "x" },
  { "proxypass.io/backend-protocol": "HTTPS", "proxypass.io/backend-tls-verify": "true", "proxypass.io/backend-ca-secret": "ca" },
  { "proxypass.io/backend-protocol": "GRPCS", "proxypass.io/upstream-vhost": "api.example.com:8443" },
];

let testCa: string | null = null;

/** A `backend-ca-secret` Secret: a CA, another CA, or no certificate. */
function caSecret(g: Gen, ns: string): Raw {
  testCa ??= createTestPki(["x.example.com"]).ca;
  const text = g.pick([testCa, `${testCa}\n${testCa}`, "not a certificate"]);
  return { apiVersion: "v1", kind: "Secret", metadata: { namespace: ns, name: "ca" }, type: "Opaque", stringData: { "ca.crt": text } };
}

function service(g: Gen, ns: string, name: string): Raw {
  if (name === "ext") return { apiVersion: "v1", kind: "Service", metadata: { namespace: ns, name }, spec: { type: "ExternalName", externalName: g.pick(["db.example.com", "not a name"]), ports: [{ name: "http", port: 80 }] } };
  const ports = g.chance(0.8) ? [{ name: "http", port: 80 }] : [{ name: "http", port: 80 }, { name: "admin", port: 8080 }];
  return { apiVersion: "v1", kind: "Service", metadata: { namespace: ns, name }, spec: { type: "ClusterIP", ports } };
}

function slice(g: Gen, ns: string, svc: string, index: number): Raw {
  const endpoints = [];
  const n = g.int(4);
  for (let i = 0; i < n; i++) {
    const ready = g.chance(0.8);
    endpoints.push({
      addresses: [`10.${ns === "a" ? 1 : 2}.${g.int(3)}.${g.int(6)}`],
      conditions: ready ? { ready: true } : { ready: false, serving: g.chance(0.5), terminating: true },
      ...(g.chance(0.7) ? { targetRef: { kind: "Pod", name: `${svc}-${g.int(9)}` } } : {}),
      ...(g.chance(0.5) ? { zone: g.pick(["z1", "z2"]) } : {}),
      ...(g.chance(0.3) ? { hints: { forZones: [{ name: g.pick(["z1", "z2"]) }] } } : {}),
    });
  }
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { namespace: ns, name: `${svc}-${index}`, labels: { "kubernetes.io/service-name": svc } },
    addressType: "IPv4",
    ports: [{ name: g.pick(["http", "http", "admin", "other"]), port: g.pick([8080, 9090]) }],
    endpoints,
  };
}

function backend(g: Gen): Raw {
  const port = g.pick([{ number: 80 }, { name: "http" }, { number: 8080 }, { name: "admin" }, { number: 81 }]);
  return { service: { name: g.pick([...serviceNames, "missing"]), port } };
}

function ingress(g: Gen, ns: string, name: string, minute: number): Raw {
  const rules = [];
  for (let r = 0; r < 1 + g.int(2); r++) {
    const paths = [];
    for (let p = 0; p < 1 + g.int(3); p++) {
      paths.push({ path: g.pick(["/", "/api", "/api/", "/x", "bad"]), pathType: g.pick(["Prefix", "Exact", "Prefix", "ImplementationSpecific"]), backend: backend(g) });
    }
    rules.push({ ...(g.chance(0.9) ? { host: g.pick(["one.test", "two.test", "*.w.test", "three.test", "Bad_Host"]) } : {}), http: { paths } });
  }
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { namespace: ns, name, annotations: { ...g.pick(annotationChoices) }, creationTimestamp: `2026-01-01T00:${String(minute % 60).padStart(2, "0")}:00Z` },
    spec: { ingressClassName: g.chance(0.95) ? "proxypass" : "other", ...(g.chance(0.2) ? { defaultBackend: backend(g) } : {}), rules },
  };
}

function configMap(g: Gen): Raw {
  const data: Record<string, string> = {};
  if (g.chance(0.5)) data["timeout"] = g.pick(["20", "40", "never"]);
  if (g.chance(0.3)) data["lbmethod"] = g.pick(["random2", "byrequests"]);
  if (g.chance(0.3)) data["keep-alive-timeout"] = g.pick(["5", "9"]);
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { namespace: "ops", name: "settings" }, data };
}

/** A cluster as raw objects by identity key; each parsed once (the parsed instance is kept until the raw object is replaced). */
class Cluster {
  readonly raw = new Map<string, Raw>();
  readonly #parsed = new Map<Raw, ClusterView>();

  set(key: string, value: Raw): void {
    this.raw.set(key, value);
  }

  view(): ClusterView {
    const view = { ingresses: [], ingressClasses: [], services: [], endpointSlices: [], secrets: [], configMaps: [] } as { [K in keyof ClusterView]: Array<ClusterView[K][number]> };
    const parsed = new Map<Raw, ClusterView>();
    for (const key of [...this.raw.keys()].sort()) {
      const raw = this.raw.get(key) as Raw;
      const one = this.#parsed.get(raw) ?? toClusterView([{ file: key, index: 0, value: raw }]).view;
      parsed.set(raw, one);
      for (const kind of Object.keys(view) as Array<keyof ClusterView>) (view[kind] as unknown[]).push(...one[kind]);
    }
    this.#parsed.clear();
    for (const [raw, one] of parsed) this.#parsed.set(raw, one);
    return view;
  }
}

function initial(g: Gen): Cluster {
  const c = new Cluster();
  for (const ns of namespaces) {
    for (const name of serviceNames) {
      if (g.chance(0.85)) c.set(`svc/${ns}/${name}`, service(g, ns, name));
      for (let i = 0; i < g.int(3); i++) c.set(`slice/${ns}/${name}-${i}`, slice(g, ns, name, i));
    }
    for (let i = 0; i < 6; i++) c.set(`ing/${ns}/i${i}`, ingress(g, ns, `i${i}`, g.int(5)));
    if (g.chance(0.5)) c.set(`secret/${ns}/ca`, caSecret(g, ns));
  }
  c.set("cm/ops/settings", configMap(g));
  return c;
}

/** One random change: a replaced, added or removed object (new instances; the rest stay the same). */
function change(g: Gen, c: Cluster): void {
  const keys = [...c.raw.keys()];
  const roll = g.int(10);
  const ns = g.pick(namespaces);
  if (roll < 3) {
    const name = g.pick(serviceNames);
    const i = g.int(3);
    c.set(`slice/${ns}/${name}-${i}`, slice(g, ns, name, i));
  } else if (roll < 5) {
    const i = g.int(8);
    c.set(`ing/${ns}/i${i}`, ingress(g, ns, `i${i}`, g.int(5)));
  } else if (roll < 6) {
    const name = g.pick(serviceNames);
    c.set(`svc/${ns}/${name}`, service(g, ns, name));
  } else if (roll < 7) {
    if (g.chance(0.5)) c.set("cm/ops/settings", configMap(g));
    else c.set(`secret/${ns}/ca`, caSecret(g, ns));
  } else if (roll < 9 && keys.length > 0) {
    c.raw.delete(g.pick(keys));
  } else {
    // The same content as a new instance (a watch event for a metadata-only change).
    const key = g.pick(keys);
    c.set(key, structuredClone(c.raw.get(key) as Raw));
  }
}

/** Everything a build returns, in one comparable, byte-exact form. */
function canonical(r: BuildResult): string {
  return JSON.stringify({
    snapshot: r.snapshot,
    diagnostics: r.diagnostics,
    accepted: r.accepted,
    globalSettings: r.globalSettings,
    memory: { ingresses: [...r.memory.ingresses], settings: r.memory.settings },
  });
}

function withoutCache(memory: BuildMemory): BuildMemory {
  return { ingresses: memory.ingresses, settings: memory.settings };
}

describe("incremental build", () => {
  it.each(Array.from({ length: 40 }, (_, i) => ({ name: `seed ${i + 1}: 25 random changes`, seed: i + 1 })))("equals a build without the cache: $name", ({ seed }) => {
    const g = new Gen(seed);
    const c = initial(g);
    let settings: BuildSettings = { ...defaultBuildSettings, configMap: { namespace: "ops", name: "settings" } };
    let memory: BuildMemory = { ingresses: new Map(), settings: { found: false, values: {} } };
    for (let step = 0; step < 25; step++) {
      if (step > 0) {
        for (let n = 1 + g.int(3); n > 0; n--) change(g, c);
        if (g.chance(0.05)) settings = { ...settings, zone: g.pick([null, "z1", "z2"]) };
      }
      const view = c.view();
      const incremental = buildSnapshot(view, memory, settings);
      const cold = buildSnapshot(view, withoutCache(memory), settings);
      expect(canonical(incremental), `seed ${seed} step ${step}`).toBe(canonical(cold));
      expect(incremental.snapshot.version).toBe(cold.snapshot.version);
      memory = incremental.memory;
    }
  });

  it("reuses unchanged results: an unchanged view gives the previous tables themselves", () => {
    const g = new Gen(7);
    const c = initial(g);
    const settings = { ...defaultBuildSettings, configMap: { namespace: "ops", name: "settings" } };
    const view = c.view();
    const first = buildSnapshot(view, { ingresses: new Map(), settings: { found: false, values: {} } }, settings);
    const second = buildSnapshot(view, first.memory, settings);
    expect(second.snapshot.routes).toBe(first.snapshot.routes);
    expect(second.snapshot.endpoints).toBe(first.snapshot.endpoints);
  });

  it.each(goldenCases())("a rebuild of the same view with the cache equals the golden build: $name", ({ id }) => {
    const { view } = loadFixture(`${id}.in.yaml`);
    const settings = settingsFor(id);
    const cold = buildSnapshot(view, memoryFor(id), settings);
    const again = buildSnapshot(view, cold.memory, settings);
    expect(canonical(again)).toBe(canonical(buildSnapshot(view, withoutCache(cold.memory), settings)));
  });
});
