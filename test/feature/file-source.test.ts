// Feature tests: manifest files → file source → reconcile loop → one in-process data plane →
// HTTP assertions through real sockets.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { request } from "undici";
import { Reconciler } from "../../src/control/index.js";
import { ProxyServer } from "../../src/dataplane/index.js";
import { ManifestSource } from "../../src/files/index.js";
import { defaultBuildSettings } from "../../src/model/index.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { startUpstream, type Upstream } from "../support/upstream.js";
import { waitFor } from "../support/wait.js";

const log = pino({ level: "silent" });

interface Env {
  dir: string;
  proxy: ProxyServer;
  source: ManifestSource;
  reconciler: Reconciler;
  port: number;
  upstreams: Upstream[];
}

async function get(env: Env, path: string, host: string, headers: Record<string, string> = {}) {
  const res = await request(`http://127.0.0.1:${env.port}${path}`, { headers: { host, ...headers } });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

describe("file source to data plane", () => {
  let env: Env;

  beforeEach(async () => {
    const upstreams = await Promise.all(
      ["web-0", "web-1", "api-0"].map((n, i) =>
        startUpstream(n, {
          host: `127.0.0.${i + 2}`,
          handler: (req, res) => {
            req.resume();
            res.writeHead(200, { "x-upstream": n, "x-seen-host": req.headers.host ?? "", "x-seen-hello": String(req.headers["x-hello"] ?? "") });
            res.end(`${n} ${req.url}`);
          },
        }),
      ),
    );
    const dir = await mkdtemp(join(tmpdir(), "ppi-feature-"));
    const [w0, w1, a0] = upstreams as [Upstream, Upstream, Upstream];
    await writeFile(
      join(dir, "services.yaml"),
      [
        serviceYaml("shop", "web", 80),
        endpointSlicesYaml("shop", "web", [
          { ip: w0.host, port: w0.port, pod: "web-0" },
          { ip: w1.host, port: w1.port, pod: "web-1" },
        ]),
        serviceYaml("shop", "api", 8080),
        endpointSlicesYaml("shop", "api", [{ ip: a0.host, port: a0.port, pod: "api-0" }]),
      ].join("---\n"),
    );
    await writeFile(
      join(dir, "ingress.yaml"),
      ingressYaml(
        "shop",
        "shop",
        [
          { host: "shop.test", path: "/", service: "web", port: 80 },
          { host: "shop.test", path: "/api", service: "api", port: 8080 },
          { host: "shop.test", path: "/exact", pathType: "Exact", service: "api", port: 8080 },
          { host: "*.shop.test", path: "/", service: "api", port: 8080 },
        ],
        { "proxypass.io/request-headers": "set X-Hello world", "proxypass.io/response-headers": "set X-Served-By proxypass" },
      ),
    );
    const proxy = new ProxyServer({ logger: log });
    const address = await proxy.listen({ port: 0, host: "127.0.0.1" });
    const source = new ManifestSource({ path: dir, logger: log });
    const reconciler = new Reconciler({ source, sink: proxy, settings: defaultBuildSettings, logger: log });
    await reconciler.start();
    env = { dir, proxy, source, reconciler, port: address.port, upstreams };
  });

  afterEach(async () => {
    env.reconciler.close();
    env.source.close();
    await env.proxy.close(1000);
    await Promise.all(env.upstreams.map((u) => u.close()));
    await rm(env.dir, { recursive: true, force: true });
  });

  it.each([
    { name: "root prefix goes to web", host: "shop.test", path: "/cart", want: /^web-[01] \/cart$/ },
    { name: "longer prefix /api goes to api", host: "shop.test", path: "/api/users?x=1", want: /^api-0 \/api\/users\?x=1$/ },
    { name: "prefix is element-wise: /apix stays on web", host: "shop.test", path: "/apix", want: /^web-[01] \/apix$/ },
    { name: "Exact path", host: "shop.test", path: "/exact", want: /^api-0 \/exact$/ },
    { name: "Exact does not match a sub-path", host: "shop.test", path: "/exact/more", want: /^web-[01] / },
    { name: "one-label wildcard host", host: "eu.shop.test", path: "/", want: /^api-0 \/$/ },
    { name: "host header port is ignored for matching", host: "shop.test:8080", path: "/api", want: /^api-0 / },
  ])("$name", async ({ host, path, want }) => {
    const r = await get(env, path, host);
    expect(r.status).toBe(200);
    expect(r.body).toMatch(want);
  });

  it.each([
    { name: "wildcard matches one label only", host: "a.b.shop.test" },
    { name: "unknown host", host: "nope.test" },
  ])("404 for $name", async ({ host }) => {
    expect((await get(env, "/", host)).status).toBe(404);
  });

  it("applies request and response header annotations and preserves Host", async () => {
    const r = await get(env, "/", "shop.test");
    expect(r.headers["x-served-by"]).toBe("proxypass");
    expect(r.headers["x-seen-hello"]).toBe("world");
    expect(r.headers["x-seen-host"]).toBe("shop.test");
  });

  it("balances round robin over both web members", async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const up = String((await get(env, "/", "shop.test")).headers["x-upstream"]);
      seen.set(up, (seen.get(up) ?? 0) + 1);
    }
    expect(seen.get("web-0")).toBe(10);
    expect(seen.get("web-1")).toBe(10);
  });

  it("an endpoint-only change reaches the data plane without recompiling routes", async () => {
    const compiled = env.proxy.routesCompiled;
    const [w0, , a0] = env.upstreams as [Upstream, Upstream, Upstream];
    await writeFile(
      join(env.dir, "services.yaml"),
      [
        serviceYaml("shop", "web", 80),
        endpointSlicesYaml("shop", "web", [{ ip: w0.host, port: w0.port, pod: "web-0" }]),
        serviceYaml("shop", "api", 8080),
        endpointSlicesYaml("shop", "api", [{ ip: a0.host, port: a0.port, pod: "api-0" }]),
      ].join("---\n"),
    );
    await waitFor(async () => {
      for (let i = 0; i < 6; i++) if ((await get(env, "/", "shop.test")).headers["x-upstream"] !== "web-0") return undefined;
      return true;
    }, { timeoutMs: 3000, what: "web-1 removed" });
    expect(env.proxy.routesCompiled).toBe(compiled);
  });

  it("an invalid annotation keeps the last valid version of the Ingress serving", async () => {
    await writeFile(
      join(env.dir, "ingress.yaml"),
      ingressYaml("shop", "shop", [{ host: "shop.test", path: "/other", service: "api", port: 8080 }], { "proxypass.io/timeout": "soon" }),
    );
    const builds = env.reconciler.builds;
    await waitFor(() => (env.reconciler.builds > builds ? true : undefined), { timeoutMs: 3000, what: "rebuild" });
    await env.reconciler.settled();
    const r = await get(env, "/api/x", "shop.test");
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/^api-0/);
    expect((await get(env, "/other", "shop.test")).body).toMatch(/^web-/);
  });

  it("a Service without endpoints answers 503 and a deleted file removes its routes", async () => {
    await writeFile(join(env.dir, "ingress.yaml"), ingressYaml("shop", "shop", [{ host: "shop.test", path: "/", service: "empty", port: 80 }]));
    await writeFile(join(env.dir, "empty.yaml"), serviceYaml("shop", "empty", 80));
    await waitFor(async () => ((await get(env, "/", "shop.test")).status === 503 ? true : undefined), { timeoutMs: 3000, what: "503" });
    await rm(join(env.dir, "ingress.yaml"));
    await waitFor(async () => ((await get(env, "/", "shop.test")).status === 404 ? true : undefined), { timeoutMs: 3000, what: "404" });
  });
});
