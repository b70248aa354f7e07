// Path mapping (rewrite-target) and ProxyPassReverse tables: the compiled objects alone, then
// (mapping-e2e.test.ts) through real sockets.
import { describe, expect, it } from "vitest";
import { PathMapping, ReverseContext, ReverseMap } from "../../src/dataplane/mapping.js";

describe("rewrite-target: request path mapping", () => {
  it.each([
    { name: "Prefix with a target prefix keeps the rest", route: "/api/users", exact: false, target: "/new", path: "/api/users/42", want: "/new/42" },
    { name: "target / strips the prefix", route: "/api/users", exact: false, target: "/", path: "/api/users/42", want: "/42" },
    { name: "the prefix itself maps to the target", route: "/api/users", exact: false, target: "/new", path: "/api/users", want: "/new" },
    { name: "the prefix itself with target / is /", route: "/api/users", exact: false, target: "/", path: "/api/users", want: "/" },
    { name: "a trailing slash is kept", route: "/api/users", exact: false, target: "/new", path: "/api/users/", want: "/new/" },
    { name: "a target with a trailing slash does not double it", route: "/api/users", exact: false, target: "/new/", path: "/api/users/42", want: "/new/42" },
    { name: "the query is kept byte for byte", route: "/api/users", exact: false, target: "/new", path: "/api/users/42?a=%20b&c=d/e?f", want: "/new/42?a=%20b&c=d/e?f" },
    { name: "the query on the prefix itself goes after the target", route: "/api/users", exact: false, target: "/new/", path: "/api/users?q=1", want: "/new/?q=1" },
    { name: "encoded bytes are not decoded or re-encoded", route: "/api", exact: false, target: "/v2", path: "/api/a%2Fb/%C3%A9%zz", want: "/v2/a%2Fb/%C3%A9%zz" },
    { name: "the root prefix prepends the target", route: "/", exact: false, target: "/app", path: "/x/y?z", want: "/app/x/y?z" },
    { name: "an Exact path maps to the target itself", route: "/v1", exact: true, target: "/v2/items", path: "/v1", want: "/v2/items" },
    { name: "an Exact path keeps its query", route: "/v1", exact: true, target: "/v2", path: "/v1?id=7", want: "/v2?id=7" },
  ])("$name", ({ route, exact, target, path, want }) => {
    expect(new PathMapping(route, exact, target).toUpstream(path)).toBe(want);
  });

  it("X-Forwarded-Prefix is the public prefix", () => {
    expect(new PathMapping("/api/users", false, "/").forwardedPrefix).toBe("/api/users");
    expect(new PathMapping("/", false, "/app").forwardedPrefix).toBe("/");
  });
});

interface ReverseCase {
  name: string;
  header: string;
  value: string;
  want: string;
  /** Route path -> target; null: only the Host changed. Default /api/users -> /new. */
  mapping?: { route: string; exact?: boolean; target: string } | null;
  scheme?: string;
  publicHost?: string;
  upstreamHost?: string;
  memberAddress?: string;
  memberPort?: number;
}

function reverse(c: ReverseCase): string {
  const m = c.mapping === undefined ? { route: "/api/users", target: "/new" } : c.mapping;
  const map = new ReverseMap(m === null ? null : new PathMapping(m.route, m.exact ?? false, m.target));
  const ctx = new ReverseContext();
  ctx.scheme = c.scheme ?? "https";
  ctx.publicHost = c.publicHost ?? "shop.example.com";
  ctx.upstreamHost = c.upstreamHost ?? "users.default.svc.cluster.local";
  ctx.memberAddress = c.memberAddress ?? "10.0.0.7";
  ctx.memberPort = c.memberPort ?? 3000;
  const out = ["x-other", "1", c.header, c.value];
  map.apply(out, ctx);
  expect(out.slice(0, 2)).toEqual(["x-other", "1"]);
  return out[3] as string;
}

describe("proxy-pass-reverse: response headers", () => {
  it.each<ReverseCase>([
    // Location: absolute URLs that point at the member
    { name: "absolute URL with the member's address:port", header: "location", value: "http://10.0.0.7:3000/new/42", want: "https://shop.example.com/api/users/42" },
    { name: "absolute URL with the upstream Host (default port)", header: "location", value: "http://users.default.svc.cluster.local/new/42", want: "https://shop.example.com/api/users/42" },
    { name: "the upstream Host matches case-insensitively", header: "location", value: "HTTP://Users.Default.svc.cluster.local/new", want: "https://shop.example.com/api/users" },
    { name: "upstream Host with an explicit port must match it", header: "location", value: "http://users.default.svc.cluster.local:8080/new/x", want: "http://users.default.svc.cluster.local:8080/new/x", upstreamHost: "users.default.svc.cluster.local:9090" },
    { name: "upstream Host with its own port", header: "location", value: "http://users.default.svc.cluster.local:9090/new/x", want: "https://shop.example.com/api/users/x", upstreamHost: "users.default.svc.cluster.local:9090" },
    { name: "member on port 80 without a port in the URL", header: "location", value: "http://10.0.0.7/new/a", want: "https://shop.example.com/api/users/a", memberPort: 80 },
    { name: "member address on another port is another server", header: "location", value: "http://10.0.0.7:4000/new/a", want: "http://10.0.0.7:4000/new/a" },
    { name: "an IPv6 member in brackets", header: "location", value: "http://[fd00::7]:3000/new/a?b=c", want: "https://shop.example.com/api/users/a?b=c", memberAddress: "fd00::7" },
    { name: "the public Host keeps its port", header: "location", value: "http://10.0.0.7:3000/new/a", want: "http://shop.example.com:8080/api/users/a", scheme: "http", publicHost: "shop.example.com:8080" },
    { name: "an IPv6 public Host", header: "location", value: "http://10.0.0.7:3000/new/", want: "http://[::1]:8080/api/users/", scheme: "http", publicHost: "[::1]:8080" },
    { name: "query and fragment preserved", header: "location", value: "http://10.0.0.7:3000/new/list?page=2&q=a%26b#top", want: "https://shop.example.com/api/users/list?page=2&q=a%26b#top" },
    { name: "encoded path bytes preserved", header: "location", value: "http://10.0.0.7:3000/new/a%2Fb%C3%A9", want: "https://shop.example.com/api/users/a%2Fb%C3%A9" },
    { name: "URL without a path points at the target root only when it is /", header: "location", value: "http://10.0.0.7:3000", want: "https://shop.example.com/api/users/", mapping: { route: "/api/users", target: "/" } },
    { name: "network-path reference //member/...", header: "location", value: "//10.0.0.7:3000/new/x", want: "https://shop.example.com/api/users/x" },
    // Location: relative references
    { name: "a path under the target", header: "location", value: "/new/login?next=%2Fnew%2Fme", want: "/api/users/login?next=%2Fnew%2Fme" },
    { name: "the target itself", header: "location", value: "/new", want: "/api/users" },
    { name: "target / maps every path", header: "location", value: "/login", want: "/api/users/login", mapping: { route: "/api/users", target: "/" } },
    { name: "a path outside the target is left alone", header: "location", value: "/other/x", want: "/other/x" },
    { name: "a longer segment is not under the target", header: "location", value: "/newer/x", want: "/newer/x" },
    { name: "a relative path reference is left alone", header: "location", value: "../x", want: "../x" },
    { name: "Exact route: the target maps to the public path", header: "location", value: "/v2?x=1", want: "/v1?x=1", mapping: { route: "/v1", exact: true, target: "/v2" } },
    { name: "Exact route: other paths stay", header: "location", value: "/v2/more", want: "/v2/more", mapping: { route: "/v1", exact: true, target: "/v2" } },
    // Unrelated URLs
    { name: "another host is left alone", header: "location", value: "https://login.example.org/new/x", want: "https://login.example.org/new/x" },
    { name: "the member's URL outside the target is left alone (as httpd)", header: "location", value: "http://10.0.0.7:3000/elsewhere", want: "http://10.0.0.7:3000/elsewhere" },
    { name: "userinfo in the authority is never matched", header: "location", value: "http://x@10.0.0.7:3000/new/a", want: "http://x@10.0.0.7:3000/new/a" },
    { name: "another scheme is left alone", header: "location", value: "ftp://10.0.0.7:3000/new/a", want: "ftp://10.0.0.7:3000/new/a" },
    // Host-only mapping (upstream-vhost / preserve-host false): no path change
    { name: "host only: the upstream Host becomes the public one", header: "location", value: "http://users.default.svc.cluster.local/any/path?q", want: "https://shop.example.com/any/path?q", mapping: null },
    { name: "host only: relative paths stay", header: "location", value: "/any/path", want: "/any/path", mapping: null },
    // Other headers
    { name: "Content-Location follows Location rules", header: "content-location", value: "http://10.0.0.7:3000/new/doc.json", want: "https://shop.example.com/api/users/doc.json" },
    { name: "URI follows Location rules", header: "uri", value: "/new/doc", want: "/api/users/doc" },
    { name: "Refresh: the url= part", header: "refresh", value: "5; url=http://10.0.0.7:3000/new/next", want: "5; url=https://shop.example.com/api/users/next" },
    { name: "Refresh: quoted, upper-case URL=", header: "refresh", value: "0;URL='/new/next?a=1'", want: "0;URL='/api/users/next?a=1'" },
    { name: "Refresh without url is left alone", header: "refresh", value: "30", want: "30" },
    // Set-Cookie
    { name: "cookie Path under the target", header: "set-cookie", value: "sid=1; Path=/new/app; HttpOnly", want: "sid=1; Path=/api/users/app; HttpOnly" },
    { name: "cookie Path equal to the target becomes the public prefix", header: "set-cookie", value: "sid=1; path=/new/", want: "sid=1; path=/api/users" },
    { name: "cookie Path / with target / becomes the public prefix", header: "set-cookie", value: "sid=1; Path=/; Secure", want: "sid=1; Path=/api/users; Secure", mapping: { route: "/api/users", target: "/" } },
    { name: "cookie Path outside the target stays", header: "set-cookie", value: "sid=1; Path=/other", want: "sid=1; Path=/other" },
    { name: "cookie Domain of the upstream host becomes the public host", header: "set-cookie", value: "sid=1; Domain=users.default.svc.cluster.local; Path=/new", want: "sid=1; Domain=shop.example.com; Path=/api/users" },
    { name: "cookie Domain with a leading dot, public host with a port", header: "set-cookie", value: "a=b; domain=.Users.Default.svc.cluster.local", want: "a=b; domain=shop.example.com", publicHost: "shop.example.com:8443" },
    { name: "cookie Domain of the member's address", header: "set-cookie", value: "a=b; Domain=10.0.0.7", want: "a=b; Domain=shop.example.com" },
    { name: "cookie Domain of another host stays", header: "set-cookie", value: "a=b; Domain=example.org; Path=/", want: "a=b; Domain=example.org; Path=/" },
    { name: "a cookie value containing Path= is not an attribute", header: "set-cookie", value: "x=Path=/new; Max-Age=60", want: "x=Path=/new; Max-Age=60" },
    { name: "an unrelated header is never touched", header: "link", value: "</new/a>; rel=next", want: "</new/a>; rel=next" },
  ])("$name", (c) => {
    expect(reverse(c)).toBe(c.want);
  });
});
