import { describe, expect, it } from "vitest";
import { REDACTED, renderConfig, sanitize } from "../../src/admin/index.js";
import { endpointTable, member, route, routeTable, vhost } from "../dataplane/helpers.js";

describe("sanitize", () => {
  it.each([
    { name: "a TLS block with certificate and key", input: { tls: { secretName: "shop/tls", cert: "x", privateKey: "y" } }, output: { tls: { secretName: REDACTED, cert: REDACTED, privateKey: REDACTED } } },
    { name: "PEM text anywhere", input: { note: "-----BEGIN CERTIFICATE-----\nMII..." }, output: { note: REDACTED } },
    { name: "an AJP secret and basic-auth data", input: { ajpSecret: "s3cr3t", auth: "user:$apr1$..." }, output: { ajpSecret: REDACTED, auth: REDACTED } },
    { name: "a password and a token", input: { password: "p", bearerToken: "t" }, output: { password: REDACTED, bearerToken: REDACTED } },
    { name: "key material in a buffer", input: { blob: new Uint8Array([1, 2]) }, output: { blob: REDACTED } },
    { name: "member keys (address:port) are identities, not secrets", input: { key: "10.0.0.1:8080", address: "10.0.0.1" }, output: { key: "10.0.0.1:8080", address: "10.0.0.1" } },
    { name: "data keys that merely contain a word stay (a Service named secret-store)", input: { balancers: { "shop/secret-store:80": { lbmethod: null } } }, output: { balancers: { "shop/secret-store:80": { lbmethod: null } } } },
    { name: "a request-headers rule setting Authorization keeps its name, not its value", input: { op: "set", name: "authorization", value: "Bearer abc" }, output: { op: "set", name: "authorization", value: REDACTED } },
    { name: "other header rules stay", input: { op: "set", name: "x-env", value: "prod" }, output: { op: "set", name: "x-env", value: "prod" } },
    { name: "null secret fields stay null (absent feature)", input: { secretName: null }, output: { secretName: null } },
  ])("$name", ({ input, output }) => expect(sanitize(input)).toEqual(output));
});

describe("renderConfig", () => {
  it("nests members under their balancer and includes runtime overrides", () => {
    const routes = routeTable([vhost("shop.test", [route("/", "Prefix", "shop/web:80", {}, "shop/web")])]);
    const endpoints = endpointTable({ "shop/web:80": [member(8080)] });
    const doc = JSON.parse(renderConfig({ snapshot: () => ({ version: "v", routes, endpoints }), runtime: () => ({ balancers: {} }) })) as Record<string, unknown>;
    expect(doc).toMatchObject({ live: true, version: "v", balancers: [{ id: "shop/web:80", members: [{ key: "127.0.0.1:8080" }] }], runtime: { balancers: {} } });
  });

  it("redacts a route's htpasswd entries (basic auth) and keeps the rest of its auth settings", () => {
    const auth = {
      basic: { realm: "Staff", htpasswd: [{ user: "amy", hash: "$apr1$26rQOMbq$.gPyGISN3ovkqjc7naiZa0" }] },
      external: { url: "http://auth.example/check", responseHeaders: ["x-user"], timeoutMs: 5000 },
    };
    const routes = routeTable([vhost("shop.test", [route("/", "Prefix", "shop/web:80", { auth }, "shop/web")])]);
    const text = renderConfig({ snapshot: () => ({ version: "v", routes, endpoints: endpointTable({ "shop/web:80": [member(8080)] }) }) });
    expect(text).not.toContain("$apr1$");
    expect(text).not.toContain("amy");
    const doc = JSON.parse(text) as { routes: { virtualHosts: Array<{ routes: Array<{ options: { auth: unknown } }> }> } };
    expect(doc.routes.virtualHosts[0]?.routes[0]?.options.auth).toEqual({ basic: { realm: "Staff", htpasswd: REDACTED }, external: { url: "http://auth.example/check", responseHeaders: ["x-user"], timeoutMs: 5000 } });
  });

  it("before the first snapshot: live false", () => {
    expect(JSON.parse(renderConfig({ snapshot: () => null }))).toEqual({ live: false });
  });
});
