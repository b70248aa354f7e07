import { describe, expect, it } from "vitest";
import { BalancerRegistry, Scoreboard, compileRoutes, normalizeHost } from "../../src/dataplane/index.js";
import type { Route } from "../../src/model/index.js";
import { route, routeTable, vhost } from "./helpers.js";

const B = "default/svc:80";

function r(path: string, pathType: "Exact" | "Prefix", ingress: string): Route {
  return route(path, pathType, B, {}, ingress);
}

// Routes listed in the builder's order: longest first, Exact before Prefix at equal length.
const table = routeTable(
  [
    vhost("", [r("/", "Prefix", "any-root")]),
    vhost("*.example.com", [r("/", "Prefix", "wild-root")]),
    vhost("*.fallback.test", [r("/api", "Prefix", "fb-api")], r("/", "Prefix", "fb-fallback")),
    vhost("[::1]", [r("/", "Prefix", "ipv6")]),
    vhost(
      "a.example.com",
      [
        r("/foo/bar", "Prefix", "foo-bar"),
        r("/exact", "Exact", "exact"),
        r("/exact", "Prefix", "exact-prefix"),
        r("/foo", "Exact", "foo-exact"),
        r("/foo", "Prefix", "foo"),
      ],
    ),
    vhost("nofallthrough.test", [r("/only", "Prefix", "only")]),
  ],
  r("/", "Prefix", "default-backend"),
);

const router = compileRoutes(table, new BalancerRegistry(Scoreboard.create({ members: 16, balancers: 4 })));

describe("router", () => {
  it.each([
    { name: "exact host beats wildcard", host: "a.example.com", path: "/foo/x", want: "foo" },
    { name: "wildcard host matches one label", host: "b.example.com", path: "/x", want: "wild-root" },
    { name: "wildcard does not match two labels (falls to catch-all)", host: "x.b.example.com", path: "/x", want: "any-root" },
    { name: "wildcard does not match the parent domain itself", host: "example.com", path: "/x", want: "any-root" },
    { name: "unknown host uses the catch-all vhost", host: "other.test", path: "/", want: "any-root" },
    { name: "Prefix matches the path itself", host: "a.example.com", path: "/foo", want: "foo-exact" },
    { name: "Prefix matches with trailing slash", host: "a.example.com", path: "/foo/", want: "foo" },
    { name: "Prefix matches a sub-path", host: "a.example.com", path: "/foo/baz", want: "foo" },
    { name: "Prefix is element-wise: /foo does not match /foobar", host: "a.example.com", path: "/foobar", want: null },
    { name: "longest Prefix wins", host: "a.example.com", path: "/foo/bar/baz", want: "foo-bar" },
    { name: "Exact beats Prefix of equal length", host: "a.example.com", path: "/exact", want: "exact" },
    { name: "Exact does not match a sub-path; Prefix of same path does", host: "a.example.com", path: "/exact/x", want: "exact-prefix" },
    { name: "query string is not part of matching", host: "a.example.com", path: "/exact", want: "exact" },
    { name: "vhost fallback for unmatched path", host: "x.fallback.test", path: "/other", want: "fb-fallback" },
    { name: "vhost route before fallback", host: "x.fallback.test", path: "/api/v1", want: "fb-api" },
    { name: "no fallthrough to catch-all: defaultRoute instead", host: "nofallthrough.test", path: "/elsewhere", want: "default-backend" },
    { name: "IPv6 literal host", host: "[::1]", path: "/", want: "ipv6" },
    { name: "double slash is still element-wise", host: "a.example.com", path: "/foo//x", want: "foo" },
  ])("$name", ({ host, path, want }) => {
    const got = router.route(normalizeHost(host), path);
    if (want === null) expect(got?.ingress ?? null).toBe("default-backend");
    else expect(got?.ingress).toBe(want);
  });

  it.each([
    { name: "lower-cases the host", raw: "A.Example.COM", want: "a.example.com" },
    { name: "strips the port", raw: "a.example.com:8080", want: "a.example.com" },
    { name: "keeps IPv6 literal, strips its port", raw: "[::1]:8080", want: "[::1]" },
    { name: "IPv6 literal without port", raw: "[FE80::1]", want: "[fe80::1]" },
    { name: "strips one trailing dot", raw: "a.example.com.", want: "a.example.com" },
    { name: "missing host is empty", raw: undefined, want: "" },
  ])("normalizeHost $name", ({ raw, want }) => {
    expect(normalizeHost(raw)).toBe(want);
  });

  it("returns null (404) with no vhost, no fallback and no defaultRoute", () => {
    const t = routeTable([vhost("only.test", [r("/a", "Exact", "a")])]);
    const rt = compileRoutes(t, new BalancerRegistry(Scoreboard.create({ members: 4, balancers: 4 })));
    expect(rt.route("only.test", "/b")).toBeNull();
    expect(rt.route("other.test", "/a")).toBeNull();
  });

  it("routing cost does not depend on the number of Ingresses (1 vs 10000 vhosts and paths)", () => {
    const many = routeTable(
      Array.from({ length: 10_000 }, (_, i) => vhost(`h${i}.test`, [r(`/p${i}`, "Prefix", `i${i}`), r("/", "Prefix", `root${i}`)])),
    );
    const big = compileRoutes(many, new BalancerRegistry(Scoreboard.create({ members: 4, balancers: 4 })));
    expect(big.route("h9999.test", "/p9999/x")?.ingress).toBe("i9999");
    const small = compileRoutes(routeTable([vhost("h0.test", [r("/p0", "Prefix", "i0")])]), new BalancerRegistry(Scoreboard.create({ members: 4, balancers: 4 })));
    // Count the Map lookups one routing decision makes: the same for 1 and for 10,000 vhosts.
    const lookups = (fn: () => unknown): number => {
      const original = Map.prototype.get;
      let n = 0;
      Map.prototype.get = function (this: Map<unknown, unknown>, key: unknown) {
        n++;
        return original.call(this, key);
      };
      try {
        fn();
      } finally {
        Map.prototype.get = original;
      }
      return n;
    };
    const inSmall = lookups(() => small.route("h0.test", "/p0/a/b"));
    const inBig = lookups(() => big.route("h5000.test", "/p5000/a/b"));
    expect(inSmall).toBeGreaterThan(0);
    expect(inBig).toBe(inSmall);
  });
});
