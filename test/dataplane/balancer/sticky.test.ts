// Sticky route extraction (httpd stickysession=COOKIE|param, stickysessionsep=".").
import { describe, expect, it } from "vitest";
import { cookieValue, routeOfValue, stickyRouteOf, urlParam } from "../../../src/dataplane/index.js";
import type { StickyConfig } from "../../../src/model/index.js";

const cookieOnly: StickyConfig = { cookie: "ROUTEID", param: null, noFailover: false };
const withParam: StickyConfig = { cookie: "JSESSIONID", param: "jsessionid", noFailover: false };

describe("stickyRouteOf", () => {
  it.each([
    { name: "no cookie, no parameter: no route", target: "/", cookie: null, sticky: cookieOnly, want: null },
    { name: "cookie value after the first dot", target: "/", cookie: "ROUTEID=.pod-a", sticky: cookieOnly, want: "pod-a" },
    { name: "session id before the dot is ignored", target: "/", cookie: "ROUTEID=abc123.pod-a", sticky: cookieOnly, want: "pod-a" },
    { name: "only the first dot separates: the route keeps later dots", target: "/", cookie: "ROUTEID=s.pod.a", sticky: cookieOnly, want: "pod.a" },
    { name: "a value without a dot is the whole route", target: "/", cookie: "ROUTEID=pod-a", sticky: cookieOnly, want: "pod-a" },
    { name: "empty value: no route", target: "/", cookie: "ROUTEID=", sticky: cookieOnly, want: null },
    { name: "value ending with the dot: no route", target: "/", cookie: "ROUTEID=abc.", sticky: cookieOnly, want: null },
    { name: "cookie among others (several Cookie lines joined with '; ')", target: "/", cookie: "a=1; b=2; ROUTEID=.pod-b; c=3", sticky: cookieOnly, want: "pod-b" },
    { name: "cookie names are case-sensitive", target: "/", cookie: "routeid=.pod-a", sticky: cookieOnly, want: null },
    { name: "a cookie whose name only starts with the sticky name does not count", target: "/", cookie: "ROUTEIDX=.x; ROUTEID=.pod-c", sticky: cookieOnly, want: "pod-c" },
    { name: "the first cookie of that name wins", target: "/", cookie: "ROUTEID=.one; ROUTEID=.two", sticky: cookieOnly, want: "one" },
    { name: "quoted value", target: "/", cookie: 'ROUTEID=".pod-q"', sticky: cookieOnly, want: "pod-q" },
    { name: "parameter ignored when the sticky setting has none", target: "/x;jsessionid=s.pod-p", cookie: null, sticky: cookieOnly, want: null },
    { name: "path parameter ;jsessionid=", target: "/app;jsessionid=abc.pod-p", cookie: null, sticky: withParam, want: "pod-p" },
    { name: "path parameter ends at the next path segment", target: "/app;jsessionid=abc.pod-p/more?x=1", cookie: null, sticky: withParam, want: "pod-p" },
    { name: "query parameter ?jsessionid=", target: "/app?jsessionid=abc.pod-q", cookie: null, sticky: withParam, want: "pod-q" },
    { name: "query parameter &jsessionid= ends at the next &", target: "/app?a=1&jsessionid=abc.pod-q&b=2", cookie: null, sticky: withParam, want: "pod-q" },
    { name: "parameter wins over the cookie", target: "/app?jsessionid=x.pod-param", cookie: "JSESSIONID=x.pod-cookie", sticky: withParam, want: "pod-param" },
    { name: "cookie used when the parameter is absent", target: "/app?other=1", cookie: "JSESSIONID=x.pod-cookie", sticky: withParam, want: "pod-cookie" },
    { name: "a parameter whose name only ends with the sticky name does not count", target: "/app?xjsessionid=s.bad", cookie: null, sticky: withParam, want: null },
    { name: "an empty parameter falls to no route (not to the cookie)", target: "/app?jsessionid=", cookie: "JSESSIONID=x.pod-cookie", sticky: withParam, want: null },
  ])("$name", ({ target, cookie, sticky, want }) => {
    expect(stickyRouteOf(target, cookie, sticky)).toBe(want);
  });
});

describe("pieces", () => {
  it.each([
    { name: "dot first", value: ".r", want: "r" },
    { name: "no dot", value: "r", want: "r" },
    { name: "empty", value: "", want: null },
  ])("routeOfValue: $name", ({ value, want }) => expect(routeOfValue(value)).toBe(want));

  it.each([
    { name: "missing", target: "/a?b=1", want: null },
    { name: "path param before query", target: "/a;p=1?p=2", want: "1" },
    { name: "query param", target: "/a?p=2", want: "2" },
    { name: "not in the fragment", target: "/a#?p=3", want: null },
    { name: "path param at the end", target: "/a;p=", want: "" },
  ])("urlParam: $name", ({ target, want }) => expect(urlParam(target, "p")).toBe(want));

  it.each([
    { name: "spaces around the value", header: "a = 1 ; b=2", want: "1" },
    { name: "absent", header: "b=2; c=3", want: null },
    { name: "empty header", header: "", want: null },
  ])("cookieValue: $name", ({ header, want }) => expect(cookieValue(header, "a")).toBe(want));
});
