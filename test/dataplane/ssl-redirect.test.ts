// The builder side of ssl-redirect, force-ssl-redirect and HSTS: annotation values (and their
// ConfigMap defaults) in the route options, the hsts*/ssl-redirect-port keys in the TLS settings,
// and the data plane's compile step deciding per virtual host (TLS host, wildcard TLS, catch-all).
import { describe, expect, it } from "vitest";
import { parseAnnotations, tlsSettingsOf } from "../../src/build/index.js";
import { BalancerRegistry, Scoreboard, compileRoutes, hstsValue, tlsCovers } from "../../src/dataplane/index.js";
import { defaultBalancerSettings, defaultTlsSettings, type Route, type RouteOptions, type RouteTable } from "../../src/model/index.js";
import { route } from "./helpers.js";

describe("ssl-redirect annotations", () => {
  it.each<{ name: string; annotations: Record<string, string>; want: { sslRedirect?: boolean; forceSslRedirect?: boolean } }>([
    { name: "absent: ssl-redirect on (not written), no force", annotations: {}, want: { sslRedirect: undefined, forceSslRedirect: undefined } },
    { name: "ssl-redirect false", annotations: { "proxypass.io/ssl-redirect": "false" }, want: { sslRedirect: false, forceSslRedirect: undefined } },
    { name: "force-ssl-redirect true", annotations: { "proxypass.io/force-ssl-redirect": "true" }, want: { sslRedirect: undefined, forceSslRedirect: true } },
  ])("$name", ({ annotations, want }) => {
    const parsed = parseAnnotations(annotations);
    expect(parsed.findings).toEqual([]);
    expect(parsed.options.sslRedirect).toBe(want.sslRedirect);
    expect(parsed.options.forceSslRedirect).toBe(want.forceSslRedirect);
  });

  it("an invalid value is an InvalidAnnotation error naming the key", () => {
    const parsed = parseAnnotations({ "proxypass.io/force-ssl-redirect": "yes" });
    expect(parsed.findings).toEqual([expect.objectContaining({ severity: "error", reason: "InvalidAnnotation", key: "proxypass.io/force-ssl-redirect" })]);
  });

  it("the ConfigMap default applies unless the Ingress sets its own", () => {
    expect(parseAnnotations({}, { "proxypass.io/ssl-redirect": "false" }).options.sslRedirect).toBe(false);
    expect(parseAnnotations({ "proxypass.io/ssl-redirect": "true" }, { "proxypass.io/ssl-redirect": "false" }).options.sslRedirect).toBeUndefined();
  });
});

describe("HSTS and redirect-port settings", () => {
  it("defaults: HSTS on for a year, no includeSubDomains/preload, port 443 not written", () => {
    const s = tlsSettingsOf({});
    expect(s.hsts).toEqual(defaultTlsSettings.hsts);
    expect(s.redirectPort).toBeUndefined();
    expect(hstsValue(s.hsts)).toBe("max-age=31536000");
  });

  it("every key applies", () => {
    const s = tlsSettingsOf({ hsts: "true", "hsts-max-age": "600", "hsts-include-subdomains": "true", "hsts-preload": "true", "ssl-redirect-port": "8443" });
    expect(hstsValue(s.hsts)).toBe("max-age=600; includeSubDomains; preload");
    expect(s.redirectPort).toBe(8443);
    expect(hstsValue(tlsSettingsOf({ hsts: "false" }).hsts)).toBeNull();
  });
});

describe("compile: which routes redirect and send HSTS", () => {
  const routeOf = (ingress: string, extra: Partial<RouteOptions> = {}): Route => route("/", "Prefix", "b", extra, ingress);
  const table = (port?: number): RouteTable => ({
    version: "t",
    virtualHosts: [
      { host: "", routes: [routeOf("ns/any")], fallback: null },
      { host: "*.wild.test", routes: [routeOf("ns/wild")], fallback: null },
      { host: "a.wild.test", routes: [routeOf("ns/a-wild")], fallback: null },
      { host: "forced.test", routes: [routeOf("ns/forced", { forceSslRedirect: true })], fallback: null },
      { host: "optout.test", routes: [routeOf("ns/optout", { sslRedirect: false })], fallback: null },
      { host: "plain.test", routes: [routeOf("ns/plain")], fallback: null },
      { host: "secure.test", routes: [routeOf("ns/secure")], fallback: null },
    ],
    defaultRoute: null,
    balancers: [{ id: "b", service: "ns/b", hostHeader: "b", ...defaultBalancerSettings }],
    tls: {
      bundles: [],
      hosts: [
        { host: "*.wild.test", bundle: null },
        { host: "optout.test", bundle: null },
        { host: "secure.test", bundle: null },
      ],
      defaultCertificate: null,
      settings: port === undefined ? defaultTlsSettings : { ...defaultTlsSettings, redirectPort: port },
    },
  });

  it("TLS hosts (exact, or covered by a one-label wildcard entry) redirect and send HSTS; others only when forced", () => {
    const router = compileRoutes(table(), new BalancerRegistry(Scoreboard.create({ members: 4, balancers: 4 })));
    const at = (host: string) => router.route(host, "/x");
    expect([at("secure.test")?.sslRedirect, at("secure.test")?.hsts]).toEqual(["", "max-age=31536000"]);
    expect([at("a.wild.test")?.sslRedirect, at("a.wild.test")?.hsts]).toEqual(["", "max-age=31536000"]);
    expect([at("b.wild.test")?.sslRedirect, at("b.wild.test")?.hsts]).toEqual(["", "max-age=31536000"]);
    expect([at("optout.test")?.sslRedirect, at("optout.test")?.hsts]).toEqual([null, "max-age=31536000"]);
    expect([at("forced.test")?.sslRedirect, at("forced.test")?.hsts]).toEqual(["", null]);
    expect([at("plain.test")?.sslRedirect, at("plain.test")?.hsts]).toEqual([null, null]);
    expect([at("other.test")?.sslRedirect, at("other.test")?.hsts]).toEqual([null, null]);
  });

  it("ssl-redirect-port becomes the Location's port", () => {
    const router = compileRoutes(table(8443), new BalancerRegistry(Scoreboard.create({ members: 4, balancers: 4 })));
    expect(router.route("secure.test", "/")?.sslRedirect).toBe(":8443");
  });

  it("tlsCovers: a wildcard covers one label only, never the catch-all", () => {
    const hosts = new Set(["*.example.com", "x.test"]);
    expect(tlsCovers(hosts, "a.example.com")).toBe(true);
    expect(tlsCovers(hosts, "a.b.example.com")).toBe(false);
    expect(tlsCovers(hosts, "example.com")).toBe(false);
    expect(tlsCovers(hosts, "x.test")).toBe(true);
    expect(tlsCovers(hosts, "")).toBe(false);
  });
});
