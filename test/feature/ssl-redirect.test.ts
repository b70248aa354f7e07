// Redirects to TLS, HSTS and the global response headers, end to end as a user runs them: the
// compiled controller, manifest files (a kubernetes.io/tls Secret, Ingresses with and without
// spec.tls, the redirect annotations, a ConfigMap with the hsts*, ssl-redirect-port and
// global-response-headers keys), a real backend on loopback, and real clients: node:http on the
// plain port, node:https and node:http2 (ALPN h2) on the TLS port, a raw WebSocket upgrade.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { connect as h2connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import { connect as netConnect, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCertificate } from "../../src/dataplane/index.js";
import { startController, type RunningController } from "../support/controller.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { waitFor } from "../support/wait.js";
import { send } from "../dataplane/helpers.js";

let ctl: RunningController;
let dir: string;
let backend: Server;

function tlsIngress(name: string, host: string, annotations: Record<string, string> = {}): string {
  // ingressYaml has no spec.tls: append it.
  return `${ingressYaml("r", name, [{ host, path: "/", service: "web", port: 80 }], annotations)}  tls:\n    - hosts: [${JSON.stringify(host)}]\n      secretName: site\n`;
}

function configMap(data: Record<string, string>): string {
  const lines = Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
  return `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: global, namespace: r }\ndata:\n${lines.join("\n")}\n`;
}

const globalHeaders = "set X-Content-Type-Options nosniff\nset X-Frame-Options DENY";

async function writeCluster(extraConfig: Record<string, string> = {}): Promise<void> {
  const port = (backend.address() as AddressInfo).port;
  const pair = await certificate;
  const secret = `apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nmetadata: { name: site, namespace: r }\ndata:\n  tls.crt: ${Buffer.from(pair.cert).toString("base64")}\n  tls.key: ${Buffer.from(pair.key).toString("base64")}\n`;
  await writeFile(
    join(dir, "cluster.yaml"),
    [
      serviceYaml("r", "web", 80),
      endpointSlicesYaml("r", "web", [{ ip: "127.0.0.1", port, pod: "web-0" }]),
      serviceYaml("r", "empty", 80),
      secret,
      tlsIngress("secure", "secure.test"),
      tlsIngress("optout", "optout.test", { "proxypass.io/ssl-redirect": "false" }),
      ingressYaml("r", "plain", [{ host: "plain.test", path: "/", service: "web", port: 80 }]),
      ingressYaml("r", "forced", [{ host: "forced.test", path: "/", service: "web", port: 80 }], { "proxypass.io/force-ssl-redirect": "true" }),
      ingressYaml("r", "down", [{ host: "down.test", path: "/", service: "empty", port: 80 }]),
      configMap({ "hsts-max-age": "600", "hsts-include-subdomains": "true", "ssl-redirect-port": "8443", "global-response-headers": globalHeaders, ...extraConfig }),
    ].join("---\n"),
  );
}

const certificate = (async () => {
  const day = 86_400_000;
  return createCertificate({ commonName: "secure.test", dnsNames: ["secure.test", "optout.test"], notBefore: new Date(Date.now() - day), notAfter: new Date(Date.now() + 30 * day) });
})();

beforeAll(async () => {
  backend = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      // A member's own HSTS: the proxy's replaces it on TLS hosts.
      res.writeHead(200, { "content-type": "application/json", "strict-transport-security": "max-age=1" });
      res.end(JSON.stringify({ url: req.url, proto: req.headers["x-forwarded-proto"] ?? null }));
    });
  });
  await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
  dir = await mkdtemp(join(tmpdir(), "ppi-sslredirect-"));
  await writeCluster();
  // Loopback (this test) is a trusted proxy: its X-Forwarded-Proto/-Port are believed.
  ctl = await startController(["--manifests", dir, "--configmap", "r/global", "--trusted-proxies", "127.0.0.0/8", "--workers", "1", "--shutdown-delay", "0", "--shutdown-grace", "1"]);
  await waitFor(async () => ((await send(ctl.httpPort, { path: "/", headers: { host: "plain.test" } }).catch(() => null))?.status === 200 ? true : undefined), {
    timeoutMs: 20_000,
    what: "controller serving plain.test",
  });
}, 40_000);

afterAll(async () => {
  if (ctl !== undefined && ctl.child.exitCode === null) {
    ctl.child.kill("SIGTERM");
    await ctl.exited;
  }
  backend?.closeAllConnections();
  await new Promise<void>((resolve) => (backend === undefined ? resolve() : backend.close(() => resolve())));
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

interface TlsReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function getHttps(host: string, path: string): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port: ctl.httpsPort, servername: host, path, headers: { host }, rejectUnauthorized: false, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

function getH2(host: string, path: string): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`https://127.0.0.1:${ctl.httpsPort}`, { servername: host, rejectUnauthorized: false });
    session.on("error", reject);
    const stream = session.request({ ":path": path, ":authority": host });
    let body = "";
    let headers: Record<string, string | string[] | undefined> = {};
    stream.setEncoding("utf8");
    stream.on("response", (h) => (headers = h as Record<string, string | string[] | undefined>));
    stream.on("data", (c: string) => (body += c));
    stream.on("end", () => {
      session.close();
      resolve({ status: Number(headers[":status"]), headers, body });
    });
    stream.on("error", reject);
  });
}

describe("ssl-redirect and force-ssl-redirect", () => {
  it("a plain-HTTP request for a host with TLS gets 308 to https with path and query intact, on ssl-redirect-port", async () => {
    const reply = await send(ctl.httpPort, { path: "/a/b%2Fc?x=1&y=%C3%A9", headers: { host: "Secure.Test:8080" } });
    expect(reply.status).toBe(308);
    expect(reply.headers.location).toBe("https://secure.test:8443/a/b%2Fc?x=1&y=%C3%A9");
    expect(reply.headers["strict-transport-security"]).toBeUndefined(); // never over plain HTTP (RFC 6797 §7.2)
    expect(reply.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("a POST is redirected with 308 (the client repeats method and body), without the body being read upstream", async () => {
    const reply = await send(ctl.httpPort, { method: "POST", path: "/form", headers: { host: "secure.test" }, body: "a=1" });
    expect(reply.status).toBe(308);
    expect(reply.headers.location).toBe("https://secure.test:8443/form");
  });

  it("ACME HTTP-01 challenges are served over plain HTTP", async () => {
    const reply = await send(ctl.httpPort, { path: "/.well-known/acme-challenge/tok3n", headers: { host: "secure.test" } });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body.toString())).toEqual({ url: "/.well-known/acme-challenge/tok3n", proto: "http" });
  });

  it("a host without TLS is served over HTTP; force-ssl-redirect redirects it anyway; ssl-redirect: false opts a TLS host out", async () => {
    expect((await send(ctl.httpPort, { path: "/p", headers: { host: "plain.test" } })).status).toBe(200);
    const forced = await send(ctl.httpPort, { path: "/p?q", headers: { host: "forced.test" } });
    expect(forced.status).toBe(308);
    expect(forced.headers.location).toBe("https://forced.test:8443/p?q");
    const optout = await send(ctl.httpPort, { path: "/p", headers: { host: "optout.test" } });
    expect(optout.status).toBe(200);
  });

  it("behind a trusted TLS-terminating load balancer (X-Forwarded-Proto: https) nothing is redirected and the member sees https", async () => {
    const forced = await send(ctl.httpPort, { path: "/lb", headers: { host: "forced.test", "x-forwarded-proto": "https", "x-forwarded-port": "443" } });
    expect(forced.status).toBe(200);
    expect(JSON.parse(forced.body.toString())).toEqual({ url: "/lb", proto: "https" });
    const secure = await send(ctl.httpPort, { path: "/lb", headers: { host: "secure.test", "x-forwarded-proto": "HTTPS" } });
    expect(secure.status).toBe(200);
    // The client reached the load balancer over TLS: HSTS applies.
    expect(secure.headers["strict-transport-security"]).toBe("max-age=600; includeSubDomains");
    // Anything but http/https is not believed.
    const odd = await send(ctl.httpPort, { path: "/lb", headers: { host: "secure.test", "x-forwarded-proto": "wss" } });
    expect(odd.status).toBe(308);
    const plain = await send(ctl.httpPort, { path: "/lb", headers: { host: "secure.test", "x-forwarded-proto": "http" } });
    expect(plain.status).toBe(308);
  });

  it("a plain WebSocket upgrade to a TLS host gets 308 too", async () => {
    const head = await new Promise<string>((resolve, reject) => {
      const s = netConnect(ctl.httpPort, "127.0.0.1", () => {
        s.write("GET /ws HTTP/1.1\r\nHost: secure.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
      });
      let text = "";
      s.setEncoding("latin1");
      s.on("data", (d: string) => (text += d));
      s.on("end", () => resolve(text));
      s.on("error", reject);
    });
    expect(head.startsWith("HTTP/1.1 308 ")).toBe(true);
    expect(head.toLowerCase()).toContain("location: https://secure.test:8443/ws\r\n");
  });
});

describe("HSTS over TLS", () => {
  it("HTTPS responses of a TLS host carry the ConfigMap's HSTS (replacing the member's) and the global headers", async () => {
    const reply = await getHttps("secure.test", "/x");
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ url: "/x", proto: "https" });
    expect(reply.headers["strict-transport-security"]).toBe("max-age=600; includeSubDomains");
    expect(reply.headers["x-frame-options"]).toBe("DENY");
  });

  it("HTTP/2 responses carry it as well", async () => {
    const reply = await getH2("secure.test", "/h2");
    expect(reply.status).toBe(200);
    expect(reply.headers["strict-transport-security"]).toBe("max-age=600; includeSubDomains");
    expect(reply.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("a host without TLS in any Ingress gets no HSTS from the proxy (the member's passes through)", async () => {
    const reply = await getHttps("plain.test", "/y");
    expect(reply.status).toBe(200);
    expect(reply.headers["strict-transport-security"]).toBe("max-age=1");
  });

  it("errors the proxy generates carry the global headers", async () => {
    const reply = await send(ctl.httpPort, { path: "/", headers: { host: "down.test" } });
    expect(reply.status).toBe(503);
    expect(reply.headers["x-content-type-options"]).toBe("nosniff");
    const none = await send(ctl.httpPort, { path: "/", headers: { host: "nowhere.test" } });
    expect(none.status).toBe(404);
    expect(none.headers["x-frame-options"]).toBe("DENY");
  });
});

describe("ConfigMap changes", () => {
  it("hsts: false turns HSTS off live; an invalid value keeps the last valid one and is logged", async () => {
    await writeCluster({ hsts: "false", "hsts-max-age": "ten" });
    await waitFor(async () => ((await getHttps("secure.test", "/z")).headers["strict-transport-security"] === "max-age=1" ? true : undefined), { timeoutMs: 15_000, what: "HSTS off" });
    expect(ctl.output()).toMatch(/hsts-max-age/);
    // The redirect and the global headers are unaffected.
    const reply = await send(ctl.httpPort, { path: "/", headers: { host: "secure.test" } });
    expect(reply.status).toBe(308);
    expect(reply.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("a global ssl-redirect: false stops redirects for every host except the forced ones", async () => {
    await writeCluster({ "ssl-redirect": "false" });
    await waitFor(async () => ((await send(ctl.httpPort, { path: "/", headers: { host: "secure.test" } })).status === 200 ? true : undefined), { timeoutMs: 15_000, what: "redirect off" });
    expect((await send(ctl.httpPort, { path: "/", headers: { host: "forced.test" } })).status).toBe(308);
  });
});
