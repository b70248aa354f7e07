// The field-by-field canonical JSON of the snapshot tables must equal canonicalJson (keys sorted),
// so table versions are those of contentHash over the tables: checked on every golden fixture and
// on values with escapes, nulls and shared options.
import { describe, expect, it } from "vitest";
import { balancerMembersText, hashRoute, sliceMembers } from "../../src/build/index.js";
import { balancerConfigJson, balancerMembersJson, RouteJsonWriter, serverSettingsJson } from "../../src/build/snapshot-json.js";
import { contentHash, canonicalJson } from "../../src/util/index.js";
import { defaultBalancerSettings, defaultServerSettings, type BalancerConfig, type Route, type RouteOptions, type VirtualHost, type EndpointSlice } from "../../src/model/index.js";
import { goldenCases, runCase } from "./golden.js";

const options: RouteOptions = {
  timeouts: { connectMs: null, readMs: 2500 },
  preserveHost: true,
  upstreamVhost: 'a"b\\c\u0001é',
  requestHeaders: [{ op: "set", name: "X-A", value: 'q"\u2028' }],
  responseHeaders: [{ op: "unset", name: "X-B", value: "" }],
  websocketIdleMs: null,
  rewriteTarget: "/a%2Fb",
  appRoot: null,
  proxyPassReverse: true,
  connectPorts: [443, 8443],
  compression: true,
  customErrorPages: [404, 503],
  maxBodyBytes: 1024,
  allowCidrs: ["10.0.0.0/8", "::1/128"],
  denyCidrs: null,
  rateLimit: { rps: 5, burst: 2 },
  limitConnections: 3,
};
const route: Route = { path: "/ü\"x", pathType: "Exact", ingress: "ns/a", balancer: "ns/s:80", options, canary: { ingress: "ns/c", balancer: "ns/c:80", weight: 7, byHeader: "x-c\"", byCookie: null } };

describe("snapshot JSON", () => {
  it.each(goldenCases())("route and endpoint table versions are contentHash of the tables: $name", ({ id }) => {
    const { routes, endpoints } = runCase(id).result.snapshot;
    expect(routes.version).toBe(contentHash({ virtualHosts: routes.virtualHosts, defaultRoute: routes.defaultRoute, balancers: routes.balancers, server: routes.server, tls: routes.tls }));
    expect(routes.server).toBeDefined();
    expect(serverSettingsJson(routes.server ?? defaultServerSettings)).toBe(canonicalJson(routes.server));
    expect(endpoints.version).toBe(contentHash({ balancers: endpoints.balancers }));
    const writer = new RouteJsonWriter();
    for (const vh of routes.virtualHosts) expect(writer.virtualHost(vh)).toBe(canonicalJson(vh));
    for (const b of routes.balancers) expect(balancerConfigJson(b)).toBe(canonicalJson(b));
    for (const b of endpoints.balancers) expect(balancerMembersText(b)).toBe(canonicalJson(b));
  });

  it("escapes strings and writes nulls and shared options as canonicalJson does", () => {
    const vh: VirtualHost = { host: "h\"", routes: [route, { ...route, path: "/" }], fallback: null };
    const writer = new RouteJsonWriter();
    expect(writer.virtualHost(vh)).toBe(canonicalJson(vh));
    expect(writer.virtualHost({ ...vh, fallback: route })).toBe(canonicalJson({ ...vh, fallback: route }));
    expect(writer.route(null)).toBe("null");
    const config: BalancerConfig = {
      id: "n/s:80",
      service: "n/s",
      hostHeader: 'x"',
      protocol: "grpcs",
      tls: { servername: "s.n.svc", verify: true, ca: "-----BEGIN CERTIFICATE-----\nx\"\n-----END CERTIFICATE-----\n", failClosed: false },
      ajp: { secret: 's"3', packetSize: 16384, pingMs: 500, failClosed: false },
      settingsFrom: "n/i",
      lbmethod: "bybusyness",
      sticky: { cookie: "ROUTEID", param: "jsessionid", noFailover: true },
      failover: { maxAttempts: 2, retryMs: 1500, failOnStatus: [500, 503], failOnTimeout: true },
      healthCheck: { uri: "/hc?x=\"", method: "HEAD", intervalMs: 5000, passes: 2, fails: 3, expect: [[200, 299], [404, 404]] },
      standby: "n/b:80",
    };
    expect(balancerConfigJson(config)).toBe(canonicalJson(config));
    expect(balancerConfigJson({ ...config, ...defaultBalancerSettings })).toBe(canonicalJson({ ...config, ...defaultBalancerSettings }));
    const members = { balancer: "n/s:80", members: [{ key: "[::1]:8", address: "::1", port: 8, route: "p\"", zone: null, ready: false, standby: true, lbset: 1 }, { key: "a:1", address: "a", port: 1, route: "", zone: "z", ready: true, standby: false, lbset: 0 }] };
    expect(balancerMembersJson(members)).toBe(canonicalJson(members));
  });

  it.each([
    { name: "built-in server settings (flags decide logging)", server: defaultServerSettings },
    {
      name: "every server setting set, request timeout disabled, a quoted log level",
      server: { accessLog: false, logLevel: 'info,proxy="debug"', clientHeaderTimeoutMs: 1500, clientRequestTimeoutMs: null, keepAliveTimeoutMs: 100, upstreamKeepAliveTimeoutMs: 2500, maxRequestsPerConnection: 7, compressionTypes: ["a/b", 'x/"y'], compressionMinSize: 0, clientBodyTimeoutMs: null, maxConnectionsPerWorker: 9, errorPages: { "404": '<p>"gone"</p>\n', "503": "x" } },
    },
  ])("writes server settings as canonicalJson does: $name", ({ server }) => {
    expect(serverSettingsJson(server)).toBe(canonicalJson(server));
  });
});

describe("sliceMembers", () => {
  const slice = (name: string, endpoints: EndpointSlice["endpoints"]): EndpointSlice =>
    ({ metadata: { name, namespace: "n", labels: {} }, ports: [{ name: "http", port: 8080 }], endpoints }) as unknown as EndpointSlice;
  it("sorts by key and keeps one member per address: the first copy unless a later copy is ready and it is not", () => {
    const members = sliceMembers(
      [
        slice("a", [
          { addresses: ["10.0.0.9"], conditions: { ready: false, serving: true, terminating: true } },
          { addresses: ["10.0.0.10"], conditions: { ready: true }, zone: "z1" },
          { addresses: ["10.0.0.2"], conditions: { ready: false, serving: true, terminating: true }, hostname: "first" },
        ]),
        slice("b", [
          { addresses: ["10.0.0.9"], conditions: { ready: true }, hostname: "ready-copy" },
          { addresses: ["10.0.0.10"], conditions: { ready: true }, zone: "z2" },
          { addresses: ["10.0.0.2"], conditions: { ready: false, serving: true, terminating: true }, hostname: "second" },
          { addresses: ["10.0.0.3"], conditions: { ready: false } },
        ]),
      ],
      "http",
    );
    expect(members.map((m) => [m.key, m.ready, m.route, m.zone])).toEqual([
      ["10.0.0.10:8080", true, hashRoute("10.0.0.10:8080"), "z1"],
      ["10.0.0.2:8080", false, "first", null],
      ["10.0.0.9:8080", true, "ready-copy", null],
    ]);
  });
});
