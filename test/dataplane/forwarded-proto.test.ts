// X-Forwarded-Proto/-Port from a --trusted-proxies peer (a load balancer terminating TLS) replace the
// listener's scheme and port for that request: force-ssl-redirect does not loop behind it, and the
// member sees the client's scheme and port. From any other peer they are dropped and never believed.
import { afterEach, describe, expect, it } from "vitest";
import { believeForwarded } from "../../src/dataplane/forward.js";
import { ProxyServer } from "../../src/dataplane/index.js";
import { echo, endpointTable, json, member, route, routeTable, send, silentLogger, startUpstream, vhost, type Upstream } from "./helpers.js";

const B = "default/web:80";
const proxies: ProxyServer[] = [];
const upstreams: Upstream[] = [];

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close(500)));
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

async function setup(trustedProxies: string[]): Promise<number> {
  const up = await startUpstream("web", echo);
  upstreams.push(up);
  const proxy = new ProxyServer({ logger: silentLogger, trustedProxies });
  proxies.push(proxy);
  const port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
  await proxy.applyRoutes(routeTable([vhost("example.com", [route("/", "Prefix", B, { forceSslRedirect: true })])]), endpointTable({ [B]: [member(up.port)] }));
  return port;
}

describe("X-Forwarded-Proto and -Port from trusted proxies", () => {
  it("a trusted peer's https is believed: no redirect, and the member sees https and the client's port", async () => {
    const port = await setup(["127.0.0.1/32"]);
    const reply = await send(port, { path: "/a?b", headers: { host: "example.com", "x-forwarded-proto": "https", "x-forwarded-port": "443" } });
    expect(reply.status).toBe(200);
    const seen = json(reply).headers;
    expect(seen["x-forwarded-proto"]).toBe("https");
    expect(seen["x-forwarded-port"]).toBe("443");
    const bare = await send(port, { path: "/a?b", headers: { host: "example.com" } });
    expect(bare.status).toBe(308);
    expect(bare.headers.location).toBe("https://example.com/a?b");
  });

  it("from an untrusted peer the headers are ignored: force-ssl-redirect still redirects", async () => {
    const port = await setup([]);
    const reply = await send(port, { path: "/a", headers: { host: "example.com", "x-forwarded-proto": "https", "x-forwarded-port": "443" } });
    expect(reply.status).toBe(308);
  });

  it("only http/https and a port number are believed", () => {
    const req = { forwardedProto: "http", forwardedPort: "8080" };
    believeForwarded(req, "javascript", "99999");
    expect(req).toEqual({ forwardedProto: "http", forwardedPort: "8080" });
    believeForwarded(req, "HTTPS", "8443");
    expect(req).toEqual({ forwardedProto: "https", forwardedPort: "8443" });
    believeForwarded(req, "https, http", "443, 80");
    expect(req).toEqual({ forwardedProto: "https", forwardedPort: "8443" });
  });
});
