// Certificate expiry judged by the builder with the clock the reconciler hands it: an expired
// Secret is a TLSCertificateExpired error on the Ingress (a log line, an Event, a metric) and its
// hosts get the default certificate; the reconciler rebuilds on its own when a served certificate
// expires, with no cluster change, so the diagnostic appears then and not at the next edit.
import { afterEach, describe, expect, it, vi } from "vitest";
import { pino } from "pino";
import { buildSnapshot } from "../../src/build/index.js";
import { Reconciler, type ConfigSource } from "../../src/control/index.js";
import { createCertificate, type PemPair } from "../../src/dataplane/index.js";
import {
  defaultBuildSettings,
  emptyBuildMemory,
  knownKinds,
  type BuildObservation,
  type ClusterView,
  type Diagnostic,
  type EndpointDelta,
  type EndpointTable,
  type RouteTable,
  type SnapshotSink,
  type SourceChange,
} from "../../src/model/index.js";

const day = 86_400_000;
const t0 = Date.parse("2026-06-01T00:00:00Z");

function tlsSecret(name: string, pair: PemPair): unknown {
  return { apiVersion: "v1", kind: "Secret", type: "kubernetes.io/tls", metadata: { name, namespace: "default" }, data: { "tls.crt": Buffer.from(pair.cert).toString("base64"), "tls.key": Buffer.from(pair.key).toString("base64") } };
}

function view(pair: PemPair, fallback: PemPair): ClusterView {
  const objects = [
    { apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: "default" }, spec: { ports: [{ name: "http", port: 80 }] } },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: { name: "shop", namespace: "default", creationTimestamp: "2024-01-01T00:00:00Z" },
      spec: { ingressClassName: "proxypass", tls: [{ hosts: ["shop.test"], secretName: "shop" }], rules: [{ host: "shop.test", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }] } }] },
    },
    tlsSecret("shop", pair),
    tlsSecret("fallback", fallback),
  ].map((o) => {
    const obj = o as { apiVersion: string; kind: string };
    return { key: `${obj.apiVersion}/${obj.kind}`, value: knownKinds[`${obj.apiVersion}/${obj.kind}` as keyof typeof knownKinds].parse(o) };
  });
  const of = <T,>(key: string): T[] => objects.filter((p) => p.key === key).map((p) => p.value as T);
  return { ingresses: of("networking.k8s.io/v1/Ingress"), ingressClasses: [], services: of("v1/Service"), endpointSlices: [], secrets: of("v1/Secret"), configMaps: [] };
}

const settings = { ...defaultBuildSettings, defaultCertificate: { namespace: "default", name: "fallback" } };

async function certs(): Promise<{ shop: PemPair; fallback: PemPair }> {
  const shop = await createCertificate({ commonName: "shop.test", dnsNames: ["shop.test"], notBefore: new Date(t0 - day), notAfter: new Date(t0 + day) });
  const fallback = await createCertificate({ commonName: "fallback", notBefore: new Date(t0 - day), notAfter: new Date(t0 + 2 * day) });
  return { shop, fallback };
}

const reasons = (ds: ReadonlyArray<Diagnostic>): string[] => ds.map((d) => `${d.severity} ${d.object} ${d.reason}`);

describe("certificate expiry in the builder", () => {
  it("valid at now: served; expired at now: the host falls back to the default certificate with an error on the Ingress", async () => {
    const c = await certs();
    const before = buildSnapshot(view(c.shop, c.fallback), emptyBuildMemory, { ...settings, now: new Date(t0).toISOString() });
    expect(reasons(before.diagnostics)).toEqual([]);
    expect(before.snapshot.routes.tls?.hosts).toEqual([{ host: "shop.test", bundle: "default/shop" }]);
    const after = buildSnapshot(view(c.shop, c.fallback), before.memory, { ...settings, now: new Date(t0 + day + 1).toISOString() });
    expect(reasons(after.diagnostics)).toEqual(["error default/shop TLSCertificateExpired"]);
    expect(after.diagnostics[0]?.message).toMatch(/Secret default\/shop: certificate expired at 2026-06-02T00:00:00.000Z; its hosts are served with the default certificate/);
    expect(after.snapshot.routes.tls?.hosts).toEqual([{ host: "shop.test", bundle: null }]);
    expect(after.snapshot.routes.tls?.defaultCertificate).toBe("default/fallback");
    // The rest of the configuration is unaffected.
    expect(after.snapshot.routes.virtualHosts.map((v) => v.host)).toEqual(["shop.test"]);
  });

  it("an expired --default-ssl-certificate: the self-signed one is the default, an error on the Secret", async () => {
    const c = await certs();
    const r = buildSnapshot(view(c.shop, c.fallback), emptyBuildMemory, { ...settings, now: new Date(t0 + 3 * day).toISOString() });
    expect(reasons(r.diagnostics)).toEqual(["error default/shop TLSCertificateExpired", "error default/fallback DefaultCertificateExpired"]);
    expect(r.snapshot.routes.tls?.defaultCertificate).toBeNull();
  });

  it("without a clock nothing is judged (the data plane still refuses expired certificates itself)", async () => {
    const c = await certs();
    const r = buildSnapshot(view(c.shop, c.fallback), emptyBuildMemory, settings);
    expect(reasons(r.diagnostics)).toEqual([]);
  });
});

class StaticSource implements ConfigSource {
  readonly v: ClusterView;
  constructor(v: ClusterView) {
    this.v = v;
  }
  async start(): Promise<void> {}
  current(): { view: ClusterView; diagnostics: Diagnostic[] } {
    return { view: this.v, diagnostics: [] };
  }
  onChange(_listener: (change: SourceChange) => void): void {}
  close(): void {}
}

class Sink implements SnapshotSink {
  routes: RouteTable[] = [];
  async applyRoutes(routes: RouteTable, _endpoints: EndpointTable): Promise<void> {
    this.routes.push(routes);
  }
  async applyEndpoints(_endpoints: EndpointTable): Promise<void> {}
  async applyEndpointDelta(_delta: EndpointDelta): Promise<void> {}
}

describe("the reconciler rebuilds when a served certificate expires", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("no cluster change, yet just after notAfter the host moves to the default certificate and the error is reported", async () => {
    const c = await certs();
    vi.useFakeTimers({ now: t0 + day - 60_000, toFake: ["setTimeout", "clearTimeout", "Date"] });
    const sink = new Sink();
    const seen: BuildObservation[] = [];
    const reconciler = new Reconciler({ source: new StaticSource(view(c.shop, c.fallback)), sink, settings, logger: pino({ level: "silent" }), observers: [{ observe: (o) => void seen.push(o) }] });
    await reconciler.start();
    expect(sink.routes.at(-1)?.tls?.hosts).toEqual([{ host: "shop.test", bundle: "default/shop" }]);
    expect(reasons(seen.at(-1)?.diagnostics ?? [])).toEqual([]);
    await vi.advanceTimersByTimeAsync(60_000 + 1_000 + 1_000);
    await reconciler.settled();
    expect(sink.routes.at(-1)?.tls?.hosts).toEqual([{ host: "shop.test", bundle: null }]);
    expect(reasons(seen.at(-1)?.diagnostics ?? [])).toEqual(["error default/shop TLSCertificateExpired"]);
    reconciler.close();
  });
});
