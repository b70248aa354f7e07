// custom-error-pages end to end, as a user runs it: the compiled controller, manifest files with an
// error-page Service (ingress-nginx style: it renders the page from X-Code and friends) in the
// controller's namespace named by the ConfigMap, one Ingress with its own error Service by port name,
// and a ConfigMap page as the fallback. Real loopback sockets throughout.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { startController, type RunningController } from "../support/controller.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { waitFor } from "../support/wait.js";
import { send } from "../dataplane/helpers.js";

let ctl: RunningController;
let dir: string;
let app: Server;
let errorPages: Server;
let shopErrors: Server;
const asked: IncomingHttpHeaders[] = [];

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: Server | undefined): Promise<void> {
  if (server === undefined) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

beforeAll(async () => {
  app = createServer((req, res) => {
    req.resume();
    const status = Number(req.url?.slice(1, 4)) || 200;
    res.writeHead(status, { "content-type": "application/json", "x-internal": "yes" });
    res.end(JSON.stringify({ status, trace: "at app.js:42" }));
  });
  // ingress-nginx's custom error backend contract: the page for X-Code, in the X-Format wanted, with that status.
  errorPages = createServer((req, res) => {
    req.resume();
    asked.push(req.headers);
    const code = Number(req.headers["x-code"]);
    res.writeHead(code, { "content-type": "text/html" });
    res.end(`<h1>${code}</h1><p>${String(req.headers["x-namespace"])}/${String(req.headers["x-ingress-name"])} ${String(req.headers["x-service-name"])}:${String(req.headers["x-service-port"])}</p>`);
  });
  shopErrors = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<h1>shop says ${String(req.headers["x-code"])}</h1>`);
  });
  const appPort = await listen(app);
  const errorPort = await listen(errorPages);
  const shopPort = await listen(shopErrors);
  dir = await mkdtemp(join(tmpdir(), "ppi-error-pages-"));
  await writeFile(
    join(dir, "cluster.yaml"),
    [
      serviceYaml("app", "web", 80),
      endpointSlicesYaml("app", "web", [{ ip: "127.0.0.1", port: appPort, pod: "web-0" }]),
      serviceYaml("app", "gone", 80),
      serviceYaml("ingress", "error-pages", 80),
      endpointSlicesYaml("ingress", "error-pages", [{ ip: "127.0.0.1", port: errorPort, pod: "error-pages-0" }]),
      serviceYaml("app", "shop-errors", 8080, "pages"),
      endpointSlicesYaml("app", "shop-errors", [{ ip: "127.0.0.1", port: shopPort, pod: "shop-errors-0" }], "pages"),
      serviceYaml("app", "empty-errors", 80),
      [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata: { name: proxypass, namespace: ingress }",
        "data:",
        '  custom-error-pages: "404,503"',
        "  custom-error-backend: ingress/error-pages:80",
        "  error-page-503: |",
        "    <!doctype html><title>maintenance</title>",
        "",
      ].join("\n"),
      ingressYaml("app", "site", [{ host: "site.test", path: "/", service: "web", port: 80 }]),
      ingressYaml("app", "down", [{ host: "down.test", path: "/", service: "gone", port: 80 }]),
      ingressYaml("app", "shop", [{ host: "shop.test", path: "/", service: "web", port: 80 }], {
        "proxypass.io/custom-error-pages": "404,500",
        "proxypass.io/custom-error-backend": "shop-errors:pages",
      }),
      ingressYaml("app", "fallback", [{ host: "fallback.test", path: "/", service: "gone", port: 80 }], { "proxypass.io/custom-error-backend": "empty-errors:80" }),
    ].join("---\n"),
  );
  ctl = await startController(["--manifests", dir, "--configmap", "ingress/proxypass", "--workers", "1", "--shutdown-delay", "0", "--shutdown-grace", "1"]);
  await waitFor(async () => ((await send(ctl.httpPort, { path: "/200", headers: { host: "shop.test" } }).catch(() => null))?.status === 200 ? true : undefined), {
    timeoutMs: 30_000,
    what: "controller serving shop.test",
  });
}, 60_000);

afterAll(async () => {
  if (ctl !== undefined && ctl.child.exitCode === null) {
    ctl.child.kill("SIGTERM");
    await ctl.exited;
  }
  await close(app);
  await close(errorPages);
  await close(shopErrors);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("custom error pages through the controller binary", () => {
  it("the proxy's 503 (a Service without endpoints) gets the ConfigMap's error Service page, status kept, with ingress-nginx's headers", async () => {
    const before = asked.length;
    const reply = await send(ctl.httpPort, { path: "/cart?id=7", headers: { host: "down.test", accept: "text/html", "x-request-id": "feature-req-1" } });
    expect(reply.status).toBe(503);
    expect(reply.headers["content-type"]).toBe("text/html");
    expect(reply.body.toString()).toBe("<h1>503</h1><p>app/down gone:80</p>");
    expect(asked[before]).toMatchObject({ "x-code": "503", "x-format": "text/html", "x-original-uri": "/cart?id=7", "x-namespace": "app", "x-ingress-name": "down", "x-service-name": "gone", "x-service-port": "80", "x-request-id": "feature-req-1" });
  });

  it("a member's status that the ConfigMap does not list is relayed unchanged", async () => {
    const reply = await send(ctl.httpPort, { path: "/410", headers: { host: "site.test" } });
    expect(reply.status).toBe(410);
    expect(reply.headers["x-internal"]).toBe("yes");
  });

  it("an Ingress's own statuses and error Service (by port name): the member's 404 body and headers are replaced", async () => {
    const reply = await send(ctl.httpPort, { path: "/404", headers: { host: "shop.test" } });
    expect(reply.status).toBe(404);
    expect(reply.headers["x-internal"]).toBeUndefined();
    expect(reply.body.toString()).toBe("<h1>shop says 404</h1>");
    const ok = await send(ctl.httpPort, { path: "/200", headers: { host: "shop.test" } });
    expect(JSON.parse(ok.body.toString())).toEqual({ status: 200, trace: "at app.js:42" });
  });

  it("a host no Ingress serves: the ConfigMap's error Service page with 404 (ingress-nginx's default backend)", async () => {
    const before = asked.length;
    const reply = await send(ctl.httpPort, { path: "/x", headers: { host: "unknown.test" } });
    expect(reply.status).toBe(404);
    expect(reply.body.toString()).toBe("<h1>404</h1><p>/ :</p>");
    expect(asked[before]).toMatchObject({ "x-code": "404", "x-original-uri": "/x", "x-namespace": "", "x-ingress-name": "" });
  });

  it("an error Service without endpoints: the ConfigMap page", async () => {
    const reply = await send(ctl.httpPort, { path: "/", headers: { host: "fallback.test" } });
    expect(reply.status).toBe(503);
    expect(reply.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(reply.body.toString()).toBe("<!doctype html><title>maintenance</title>\n");
  });
});
