// Certificates by SNI from kubernetes.io/tls Secrets, end to end: manifests -> builder (Secret
// validation, diagnostics) -> ProxyServer's TLS listener -> real TLS clients (node:tls, undici).
import { connect as tlsConnect, type DetailedPeerCertificate, type TLSSocket } from "node:tls";
import { Agent, request as undiciRequest } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderConfig } from "../../src/admin/index.js";
import { buildSnapshot, type BuildResult } from "../../src/build/index.js";
import { ProxyServer, createCertificate, type PemPair } from "../../src/dataplane/index.js";
import { defaultBuildSettings, emptyBuildMemory, knownKinds, type ClusterView, type Diagnostic } from "../../src/model/index.js";
import { echo, silentLogger, startUpstream, type Upstream } from "./helpers.js";

const day = 86_400_000;
const now = Date.now();
const valid = { notBefore: new Date(now - day), notAfter: new Date(now + 30 * day) };

let u: Upstream;
let proxy: ProxyServer;
let tlsPort: number;
let ca: PemPair;
let chained: PemPair;
let wild: PemPair;
let rsa: PemPair;
let other: PemPair;
let fallback: PemPair;
let expired: PemPair;

function tlsSecret(name: string, pair: { cert: string; key: string }, ns = "default"): unknown {
  return { apiVersion: "v1", kind: "Secret", type: "kubernetes.io/tls", metadata: { name, namespace: ns }, data: { "tls.crt": Buffer.from(pair.cert).toString("base64"), "tls.key": Buffer.from(pair.key).toString("base64") } };
}

function ingress(name: string, hosts: string[], tls: Array<{ hosts: string[]; secretName?: string }>, created: string): unknown {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name, namespace: "default", creationTimestamp: created },
    spec: { ingressClassName: "proxypass", tls, rules: hosts.map((host) => ({ host, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }] } })) },
  };
}

function view(objects: unknown[]): ClusterView {
  const parsed = objects.map((o) => {
    const obj = o as { apiVersion: string; kind: string };
    return { key: `${obj.apiVersion}/${obj.kind}`, value: knownKinds[`${obj.apiVersion}/${obj.kind}` as keyof typeof knownKinds].parse(o) };
  });
  const of = <T,>(key: string): T[] => parsed.filter((p) => p.key === key).map((p) => p.value as T);
  return {
    ingresses: of("networking.k8s.io/v1/Ingress"),
    ingressClasses: [],
    services: of("v1/Service"),
    endpointSlices: of("discovery.k8s.io/v1/EndpointSlice"),
    secrets: of("v1/Secret"),
    configMaps: of("v1/ConfigMap"),
  };
}

function cluster(secrets: unknown[], extra: unknown[] = []): ClusterView {
  return view([
    { apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: "default" }, spec: { ports: [{ name: "http", port: 80 }] } },
    {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: "web-1", namespace: "default", labels: { "kubernetes.io/service-name": "web" } },
      addressType: "IPv4",
      endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }],
      ports: [{ name: "http", port: u.port }],
    },
    ingress("chained", ["a.example.com"], [{ hosts: ["a.example.com"], secretName: "chained" }], "2024-01-01T00:00:00Z"),
    ingress("wild", ["x.wild.test"], [{ hosts: ["*.wild.test"], secretName: "wild" }], "2024-01-02T00:00:00Z"),
    ingress("rsa", ["rsa.test"], [{ hosts: ["rsa.test"], secretName: "rsa" }], "2024-01-03T00:00:00Z"),
    ingress("bad", ["bad.test"], [{ hosts: ["bad.test"], secretName: "mismatched" }], "2024-01-04T00:00:00Z"),
    ingress("missing", ["missing.test"], [{ hosts: ["missing.test"], secretName: "nope" }], "2024-01-05T00:00:00Z"),
    ingress("old", ["old.test"], [{ hosts: ["old.test"], secretName: "expired" }], "2024-01-06T00:00:00Z"),
    ...secrets,
    ...extra,
  ]);
}

function build(v: ClusterView, configMap: { namespace: string; name: string } | null = null): BuildResult {
  return buildSnapshot(v, emptyBuildMemory, { ...defaultBuildSettings, configMap, defaultCertificate: { namespace: "default", name: "fallback" } });
}

function standardSecrets(chainedPair = chained): unknown[] {
  return [
    tlsSecret("chained", chainedPair),
    tlsSecret("wild", wild),
    tlsSecret("rsa", rsa),
    tlsSecret("mismatched", { cert: rsa.cert, key: wild.key }),
    tlsSecret("fallback", fallback),
    tlsSecret("expired", expired),
  ];
}

interface Handshake {
  readonly cn: string;
  readonly chain: number;
  readonly keyType: string;
  readonly socket: TLSSocket;
}

function handshake(servername: string | undefined, options: { maxVersion?: "TLSv1.2" | "TLSv1.3"; keep?: boolean } = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port: tlsPort, rejectUnauthorized: false, ...(servername !== undefined ? { servername } : {}), ...(options.maxVersion !== undefined ? { maxVersion: options.maxVersion } : {}) });
    socket.once("secureConnect", () => {
      const peer = socket.getPeerCertificate(true);
      let chain = 1;
      let c: DetailedPeerCertificate = peer;
      while (c.issuerCertificate !== undefined && c.issuerCertificate !== c && chain < 5) {
        c = c.issuerCertificate;
        chain++;
      }
      const cn = String(peer.subject?.CN ?? "");
      const keyType = socket.getPeerX509Certificate()?.publicKey.asymmetricKeyType ?? "";
      if (options.keep !== true) socket.destroy();
      resolve({ cn, chain, keyType, socket });
    });
    socket.once("error", reject);
  });
}

function errors(result: BuildResult): Diagnostic[] {
  return result.diagnostics.filter((d: Diagnostic) => d.severity === "error");
}

beforeAll(async () => {
  u = await startUpstream("u", echo);
  ca = await createCertificate({ commonName: "Test CA", keyKind: "rsa", isCa: true, ...valid });
  chained = await createCertificate({ commonName: "a.example.com", dnsNames: ["a.example.com"], issuer: ca, ...valid });
  wild = await createCertificate({ commonName: "*.wild.test", dnsNames: ["*.wild.test"], keyKind: "ecdsa", ...valid });
  rsa = await createCertificate({ commonName: "rsa.test", dnsNames: ["rsa.test"], keyKind: "rsa", ...valid });
  other = await createCertificate({ commonName: "a.example.com rotated", dnsNames: ["a.example.com"], ...valid });
  fallback = await createCertificate({ commonName: "fallback.test", dnsNames: ["fallback.test"], ...valid });
  expired = await createCertificate({ commonName: "old.test", dnsNames: ["old.test"], notBefore: new Date(now - 10 * day), notAfter: new Date(now - day) });
  proxy = new ProxyServer({ logger: silentLogger });
  await proxy.listen({ port: 0, host: "127.0.0.1" });
  tlsPort = (await proxy.listenTls({ port: 0, host: "127.0.0.1" })).port;
  const result = build(cluster(standardSecrets()));
  await proxy.applyRoutes(result.snapshot.routes, result.snapshot.endpoints);
}, 120_000);

afterAll(async () => {
  await proxy.close(1_000);
  await u.close();
});

describe("the builder's TLS section", () => {
  it("a key that does not match its certificate and a missing Secret are errors on their Ingresses; the rest is unaffected", () => {
    const result = build(cluster(standardSecrets()));
    expect(errors(result).map((d) => [d.object, d.reason])).toEqual([
      ["default/bad", "InvalidTLSSecret"],
      ["default/missing", "TLSSecretNotFound"],
    ]);
    expect(errors(result)[0]?.message).toContain("does not match");
    const tls = result.snapshot.routes.tls;
    expect(tls?.hosts).toEqual([
      { host: "*.wild.test", bundle: "default/wild" },
      { host: "a.example.com", bundle: "default/chained" },
      { host: "bad.test", bundle: null },
      { host: "missing.test", bundle: null },
      { host: "old.test", bundle: "default/expired" },
      { host: "rsa.test", bundle: "default/rsa" },
    ]);
    expect(tls?.defaultCertificate).toBe("default/fallback");
    // Every Ingress is still served.
    expect(result.accepted).toHaveLength(6);
  });

  it.each([
    { name: "not base64", secret: { apiVersion: "v1", kind: "Secret", type: "kubernetes.io/tls", metadata: { name: "mismatched", namespace: "default" }, data: { "tls.crt": "%%%", "tls.key": "%%%" } }, reason: "not base64" },
    { name: "no PEM certificate", secret: { apiVersion: "v1", kind: "Secret", type: "kubernetes.io/tls", metadata: { name: "mismatched", namespace: "default" }, data: { "tls.crt": Buffer.from("hello").toString("base64"), "tls.key": Buffer.from("x").toString("base64") } }, reason: "no PEM certificate" },
    { name: "wrong type", secret: { apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name: "mismatched", namespace: "default" }, data: {} }, reason: "kubernetes.io/tls" },
  ])("a Secret with $name is refused with a reason", ({ secret, reason }) => {
    const secrets = standardSecrets().filter((s) => (s as { metadata: { name: string } }).metadata.name !== "mismatched");
    const result = build(cluster([...secrets, secret]));
    const bad = errors(result).find((d) => d.object === "default/bad");
    expect(bad?.reason).toBe("InvalidTLSSecret");
    expect(bad?.message).toContain(reason);
  });

  it("a chain whose second certificate did not issue the first is refused", () => {
    const leaf = chained.cert.split(/(?=-----BEGIN CERTIFICATE-----)/)[0] ?? "";
    const broken = { cert: leaf + wild.cert, key: chained.key };
    const result = build(cluster(standardSecrets(broken)));
    expect(errors(result).find((d) => d.object === "default/chained")?.message).toContain("did not issue");
  });

  it("/config shows hosts, Secret names and fingerprints, never certificate or key material", () => {
    const result = build(cluster(standardSecrets()));
    const text = renderConfig({ snapshot: () => result.snapshot });
    expect(text).not.toContain("BEGIN");
    expect(text).not.toContain("PRIVATE");
    const key = chained.key.split("\n")[1] ?? "";
    expect(key.length).toBeGreaterThan(20);
    expect(text).not.toContain(key.slice(0, 20));
    const doc = JSON.parse(text) as { routes: { tls: { hosts: unknown[]; bundles: Array<{ id: string; fingerprint: string; cert: string; key: string }> } } };
    expect(doc.routes.tls.hosts).toContainEqual({ host: "a.example.com", bundle: "default/chained" });
    const c = doc.routes.tls.bundles.find((x) => x.id === "default/chained");
    expect(c?.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(c?.cert).toBe("[redacted]");
    expect(c?.key).toBe("[redacted]");
  });
});

describe("SNI on the TLS listener", () => {
  it.each([
    { name: "exact host: its certificate with the full chain (RSA CA)", sni: "a.example.com", cn: "a.example.com", chain: 2, keyType: "ec" },
    { name: "one-label wildcard: ECDSA certificate", sni: "x.wild.test", cn: "*.wild.test", chain: 1, keyType: "ec" },
    { name: "RSA certificate", sni: "rsa.test", cn: "rsa.test", chain: 1, keyType: "rsa" },
    { name: "two labels under a wildcard: the default certificate", sni: "a.b.wild.test", cn: "fallback.test", chain: 1, keyType: "ec" },
    { name: "unknown name: the default certificate (--default-ssl-certificate)", sni: "unknown.test", cn: "fallback.test", chain: 1, keyType: "ec" },
    { name: "no SNI: the default certificate", sni: undefined, cn: "fallback.test", chain: 1, keyType: "ec" },
    { name: "host whose Secret is invalid: the default certificate", sni: "bad.test", cn: "fallback.test", chain: 1, keyType: "ec" },
    { name: "host whose Secret is missing: the default certificate", sni: "missing.test", cn: "fallback.test", chain: 1, keyType: "ec" },
    { name: "host whose certificate expired: the default certificate", sni: "old.test", cn: "fallback.test", chain: 1, keyType: "ec" },
    { name: "SNI is case-insensitive", sni: "A.Example.COM", cn: "a.example.com", chain: 2, keyType: "ec" },
  ])("$name", async ({ sni, cn, chain, keyType }) => {
    const h = await handshake(sni);
    expect(h.cn).toBe(cn);
    expect(h.chain).toBe(chain);
    expect(h.keyType).toBe(keyType);
  });

  it("an undici client verifying against the test CA reaches the exact host over TLS", async () => {
    const dispatcher = new Agent({ connect: { ca: ca.cert, servername: "a.example.com" } });
    try {
      const res = await undiciRequest(`https://127.0.0.1:${tlsPort}/verified`, { dispatcher, headers: { host: "a.example.com" } });
      expect(res.statusCode).toBe(200);
      const seen = (await res.body.json()) as { headers: Record<string, string> };
      expect(seen.headers["x-forwarded-proto"]).toBe("https");
    } finally {
      await dispatcher.close();
    }
  });

  it("applying a table with the same Secrets creates no secure context", async () => {
    const contexts = proxy.tlsContexts;
    const before = contexts?.created ?? -1;
    const result = build(cluster(standardSecrets()));
    await proxy.applyRoutes(result.snapshot.routes, result.snapshot.endpoints);
    expect(contexts?.created).toBe(before);
  });

  it("rotation: a kept-alive TLS connection goes on working; a new handshake gets the new certificate", async () => {
    const first = await handshake("a.example.com", { keep: true });
    const socket = first.socket;
    expect(first.cn).toBe("a.example.com");
    const ask = (path: string): Promise<string> =>
      new Promise((resolve) => {
        let text = "";
        const onData = (c: Buffer): void => {
          text += c.toString("latin1");
          const m = /content-length: (\d+)\r\n[\s\S]*?\r\n\r\n/i.exec(text);
          const done = m !== null ? text.length >= text.indexOf("\r\n\r\n") + 4 + Number(m[1]) : text.endsWith("\r\n0\r\n\r\n");
          if (done) {
            socket.off("data", onData);
            resolve(text);
          }
        };
        socket.on("data", onData);
        socket.once("close", () => resolve(`closed: ${text}`));
        socket.write(`GET ${path} HTTP/1.1\r\nhost: a.example.com\r\n\r\n`);
      });
    expect((await ask("/before")).startsWith("HTTP/1.1 200")).toBe(true);
    const rotated = build(cluster(standardSecrets(other)));
    await proxy.applyRoutes(rotated.snapshot.routes, rotated.snapshot.endpoints);
    // The established connection keeps working on its session.
    expect((await ask("/after")).startsWith("HTTP/1.1 200")).toBe(true);
    socket.destroy();
    // A new handshake presents the rotated certificate.
    const fresh = await handshake("a.example.com");
    expect(fresh.cn).toBe("a.example.com rotated");
    expect(fresh.chain).toBe(1);
    // Back to the original for the other tests.
    const back = build(cluster(standardSecrets()));
    await proxy.applyRoutes(back.snapshot.routes, back.snapshot.endpoints);
    expect((await handshake("a.example.com")).cn).toBe("a.example.com");
  });

  it("ssl-protocols: TLSv1.3 only refuses a TLS 1.2 client; the default accepts both", async () => {
    expect((await handshake("rsa.test", { maxVersion: "TLSv1.2" })).cn).toBe("rsa.test");
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "default" }, data: { "ssl-protocols": "TLSv1.3" } };
    const only13 = build(cluster(standardSecrets(), [cm]), { namespace: "default", name: "settings" });
    expect(only13.snapshot.routes.tls?.settings.protocols).toEqual(["TLSv1.3"]);
    await proxy.applyRoutes(only13.snapshot.routes, only13.snapshot.endpoints);
    try {
      await expect(handshake("rsa.test", { maxVersion: "TLSv1.2" })).rejects.toThrow();
      await expect(handshake("unknown.test", { maxVersion: "TLSv1.2" })).rejects.toThrow();
      expect((await handshake("rsa.test")).cn).toBe("rsa.test");
    } finally {
      const back = build(cluster(standardSecrets()));
      await proxy.applyRoutes(back.snapshot.routes, back.snapshot.endpoints);
    }
  });

  it("ssl-protocols: an invalid value (TLSv1) is a ConfigMap diagnostic and the default stays", () => {
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "default" }, data: { "ssl-protocols": "TLSv1 TLSv1.2" } };
    const result = build(cluster(standardSecrets(), [cm]), { namespace: "default", name: "settings" });
    expect(result.diagnostics.some((d: Diagnostic) => d.kind === "ConfigMap" && d.message.includes("ssl-protocols"))).toBe(true);
    expect(result.snapshot.routes.tls?.settings.protocols).toEqual(["TLSv1.2", "TLSv1.3"]);
  });
});
