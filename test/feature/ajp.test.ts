// Feature test of backend-protocol AJP as a user writes it: manifest files (Services,
// EndpointSlices whose pods are named like the Tomcats' jvmRoutes, the ajp-secret Secret, Ingresses
// with the ajp-* and sticky-session annotations) → file source → reconcile loop → one in-process data
// plane → HTTP requests through real sockets → two real Tomcat 10 AJP connectors (secretRequired).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Reconciler } from "../../src/control/index.js";
import { ProxyServer } from "../../src/dataplane/index.js";
import { ManifestSource } from "../../src/files/index.js";
import { defaultBuildSettings, type Diagnostic } from "../../src/model/index.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { startTomcat, type Tomcat } from "../support/tomcat.js";
import { waitFor } from "../support/wait.js";

const log = pino({ level: "silent" });
const SECRET = "feature-ajp-secret";

function secretYaml(ns: string, name: string, data: Record<string, string>): string {
  const lines = Object.entries(data).map(([k, v]) => `  ${k}: ${Buffer.from(v, "utf8").toString("base64")}`);
  return `apiVersion: v1\nkind: Secret\nmetadata: { name: ${name}, namespace: ${ns} }\ntype: Opaque\ndata:\n${lines.join("\n")}\n`;
}

/** key=value lines of the echo/session JSPs. */
function lines(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of text.split("\n")) {
    const i = l.indexOf("=");
    if (i > 0 && !m.has(l.slice(0, i))) m.set(l.slice(0, i), l.slice(i + 1).trim());
  }
  return m;
}

let tomcats: Tomcat[];
let dir: string;
let proxy: ProxyServer;
let source: ManifestSource;
let reconciler: Reconciler;
let port: number;
const holder: { diagnostics: ReadonlyArray<Diagnostic> } = { diagnostics: [] };

async function get(path: string, host: string, headers: Record<string, string> = {}) {
  const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host, ...headers } });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

beforeAll(async () => {
  tomcats = await Promise.all([startTomcat({ jvmRoute: "tomcat-0", secret: SECRET }), startTomcat({ jvmRoute: "tomcat-1", secret: SECRET })]);
  dir = await mkdtemp(join(tmpdir(), "ppi-ajp-"));
  const pods = tomcats.map((t) => ({ ip: "127.0.0.1", port: t.port, pod: t.jvmRoute }));
  const ajp = { "proxypass.io/backend-protocol": "AJP", "proxypass.io/ajp-secret": "tomcat-ajp", "proxypass.io/sticky-session": "JSESSIONID|jsessionid" };
  await writeFile(
    join(dir, "objects.yaml"),
    [
      serviceYaml("shop", "tomcat", 8009, "ajp"),
      endpointSlicesYaml("shop", "tomcat", pods, "ajp"),
      serviceYaml("shop", "tomcat-b", 8009, "ajp"),
      endpointSlicesYaml("shop", "tomcat-b", pods, "ajp"),
      serviceYaml("shop", "tomcat-c", 8009, "ajp"),
      endpointSlicesYaml("shop", "tomcat-c", pods, "ajp"),
      secretYaml("shop", "tomcat-ajp", { secret: SECRET }),
      ingressYaml("shop", "app", [{ host: "app.test", path: "/", service: "tomcat", port: 8009 }], { ...ajp, "proxypass.io/ajp-packet-size": "8192", "proxypass.io/ajp-ping": "2", "proxypass.io/health-check-method": "TCP", "proxypass.io/health-check-interval": "1" }),
      ingressYaml("shop", "nosecret", [{ host: "nosecret.test", path: "/", service: "tomcat-b", port: 8009 }], { ...ajp, "proxypass.io/ajp-secret": "missing" }),
      ingressYaml("shop", "plain", [{ host: "plain.test", path: "/", service: "tomcat-c", port: 8009 }], { "proxypass.io/backend-protocol": "AJP" }),
    ].join("---\n"),
  );
  proxy = new ProxyServer({ logger: log });
  port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
  source = new ManifestSource({ path: dir, logger: log });
  reconciler = new Reconciler({ source, sink: proxy, settings: defaultBuildSettings, logger: log, observers: [{ observe: (o) => (holder.diagnostics = o.diagnostics) }] });
  await reconciler.start();
}, 180_000);

afterAll(async () => {
  reconciler?.close();
  source?.close();
  await proxy?.close(1000);
  await Promise.all((tomcats ?? []).map((t) => t.stop()));
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("AJP Ingress end to end (manifests → Tomcat)", () => {
  it("serves the servlet over AJP with the Secret's secret; client facts from the connection", async () => {
    const r = await get("/echo.jsp?a=1", "app.test", { "x-custom": "v" });
    expect(r.status).toBe(200);
    const l = lines(r.body);
    expect(l.get("query")).toBe("a=1");
    expect(l.get("h.x-custom")).toBe("v");
    expect(l.get("remoteAddr")).toBe("127.0.0.1");
    expect(["tomcat-0", "tomcat-1"]).toContain(l.get("jvmRoute"));
  }, 60_000);

  it("sticky-session JSESSIONID|jsessionid with jvmRoute = pod name: a session stays on its Tomcat", async () => {
    const first = await get("/session.jsp", "app.test");
    const cookie = ([] as string[]).concat(first.headers["set-cookie"] ?? [])[0] ?? "";
    const m = /^JSESSIONID=([A-F0-9]+\.(tomcat-[01]));/.exec(cookie);
    expect(m).not.toBeNull();
    for (let i = 2; i <= 5; i++) {
      const l = lines((await get("/session.jsp", "app.test", { cookie: `JSESSIONID=${m?.[1] ?? ""}` })).body);
      expect(l.get("jvmRoute")).toBe(m?.[2]);
      expect(l.get("count")).toBe(String(i));
    }
  }, 60_000);

  it("health-check-method TCP is CPing/CPong: both Tomcats pass", async () => {
    await waitFor(() => ([...(proxy.healthChecker?.results() ?? [])].filter((r) => r.balancer === "shop/tomcat:8009" && r.healthy && r.checks > 0).length === 2 ? true : undefined), { timeoutMs: 30_000, what: "both Tomcats pass CPing" });
  }, 60_000);

  it("an ajp-secret naming a missing Secret: error diagnostic, 502 (fails closed, nothing sent without the secret)", async () => {
    expect(holder.diagnostics.some((d) => d.reason === "AjpSecretNotFound" && d.object === "shop/nosecret")).toBe(true);
    expect((await get("/echo.jsp", "nosecret.test")).status).toBe(502);
  }, 60_000);

  it("no ajp-secret: served with an AjpSecretNotSet warning (Ghostcat); a secretRequired Tomcat refuses (403)", async () => {
    expect(holder.diagnostics.find((d) => d.reason === "AjpSecretNotSet" && d.object === "shop/plain")?.severity).toBe("warning");
    expect(holder.diagnostics.some((d) => d.reason === "AjpSecretNotSet" && d.object === "shop/app")).toBe(false);
    expect((await get("/echo.jsp", "plain.test")).status).toBe(403);
  }, 60_000);
});
