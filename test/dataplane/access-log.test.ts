// Access log lines (pino JSON and httpd's combined format) and X-Request-Id, through a standalone
// ProxyServer on real sockets.
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CombinedFormatter, ProxyServer, RequestIds, escapeLogItem, isAcceptableRequestId } from "../../src/dataplane/index.js";
import { endpointTable, json, member, route, routeTable, send, silentLogger, startUpstream, vhost, type Upstream } from "./helpers.js";

const B = "shop/web:80";
const HOST = "shop.test";

interface Running {
  proxy: ProxyServer;
  port: number;
  lines: string[];
}

async function start(up: Upstream, format: "json" | "combined", level = "info"): Promise<Running> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString("utf8").split("\n")) if (l !== "") lines.push(l);
      cb();
    },
  });
  const proxy = new ProxyServer({
    logger: silentLogger,
    accessLogger: pino({ level }, sink).child({ component: "access" }),
    accessLogFormat: format,
    accessSink: { write: (line: string) => sink.write(line) },
  });
  await proxy.applyRoutes(routeTable([vhost(HOST, [route("/", "Prefix", B, {}, "shop/web")])]), endpointTable({ [B]: [member(up.port)] }));
  const address = await proxy.listen({ port: 0, host: "127.0.0.1" });
  return { proxy, port: address.port, lines };
}

async function settle(lines: string[], n: number): Promise<void> {
  for (let i = 0; i < 100 && lines.length < n; i++) await new Promise((r) => setTimeout(r, 10));
}

let up: Upstream;
let jsonProxy: Running;
let combinedProxy: Running;

beforeAll(async () => {
  up = await startUpstream("a");
  jsonProxy = await start(up, "json");
  combinedProxy = await start(up, "combined");
});

afterAll(async () => {
  await Promise.all([jsonProxy.proxy.close(0), combinedProxy.proxy.close(0)]);
  await up.close();
});

describe("X-Request-Id", () => {
  it("is generated when absent, sent upstream and logged", async () => {
    const before = jsonProxy.lines.length;
    const r = await send(jsonProxy.port, { headers: { host: HOST } });
    const upstreamId = json(r).headers["x-request-id"];
    expect(typeof upstreamId).toBe("string");
    await settle(jsonProxy.lines, before + 1);
    const line = JSON.parse(jsonProxy.lines[before] ?? "{}") as Record<string, unknown>;
    expect(line["requestId"]).toBe(upstreamId);
  });

  it("is kept as the client sent it (one id, not duplicated)", async () => {
    const r = await send(jsonProxy.port, { headers: { host: HOST, "x-request-id": "abc-123" } });
    expect(json(r).headers["x-request-id"]).toBe("abc-123");
  });

  it("an unacceptable one (control characters, too long) is replaced", async () => {
    const r = await send(jsonProxy.port, { headers: { host: HOST, "x-request-id": "x".repeat(201) } });
    expect(json(r).headers["x-request-id"]).not.toBe("x".repeat(201));
  });

  it.each([
    { name: "printable ASCII", id: "req-1/a.b", ok: true },
    { name: "empty", id: "", ok: false },
    { name: "a space", id: "a b", ok: false },
    { name: "non-ASCII", id: "é", ok: false },
    { name: "200 characters", id: "a".repeat(200), ok: true },
  ])("acceptable incoming id: $name", ({ id, ok }) => expect(isAcceptableRequestId(id)).toBe(ok));

  it("generated ids are unique per worker prefix and counter", () => {
    const ids = new RequestIds("3");
    const a = ids.next();
    const b = ids.next();
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[0-9a-f]{12}-3-1$/);
    expect(new RequestIds("3").next()).not.toBe(a);
  });
});

describe("JSON access log", () => {
  it("has the fixed field names, the member, the service and the upstream timings", async () => {
    const before = jsonProxy.lines.length;
    await send(jsonProxy.port, { path: "/x?y=1", headers: { host: HOST } });
    await settle(jsonProxy.lines, before + 1);
    const line = JSON.parse(jsonProxy.lines[before] ?? "{}") as Record<string, unknown>;
    expect(line).toMatchObject({ component: "access", msg: "request", method: "GET", host: HOST, path: "/x?y=1", status: 200, ingress: "shop/web", service: B, member: `127.0.0.1:${up.port}`, remote: "127.0.0.1", retries: 0 });
    for (const field of ["durationMs", "connectMs", "headerMs", "bytes"]) expect(typeof line[field], field).toBe("number");
  });

  it("a refused request logs without member or timings", async () => {
    const before = jsonProxy.lines.length;
    await send(jsonProxy.port, { headers: { host: "nowhere.test" } });
    await settle(jsonProxy.lines, before + 1);
    const line = JSON.parse(jsonProxy.lines[before] ?? "{}") as Record<string, unknown>;
    expect(line).toMatchObject({ status: 404, member: null, ingress: null, code: "PPI_ERR_NO_ROUTE" });
    expect(typeof line["requestId"]).toBe("string");
  });
});

describe("combined access log", () => {
  it("prints httpd's combined format plus %D and the balancer worker name", async () => {
    const before = combinedProxy.lines.length;
    await send(combinedProxy.port, { path: "/p?q=1", headers: { host: HOST, referer: "http://ref.test/", "user-agent": 'curl/8 "x"' } });
    await settle(combinedProxy.lines, before + 1);
    const line = combinedProxy.lines[before] ?? "";
    expect(line).toMatch(
      new RegExp(`^127\\.0\\.0\\.1 - - \\[\\d{2}/[A-Z][a-z]{2}/\\d{4}:\\d{2}:\\d{2}:\\d{2} \\+0000\\] "GET /p\\?q=1 HTTP/1\\.1" 200 \\d+ "http://ref\\.test/" "curl/8 \\\\"x\\\\"" \\d+ "http://127\\.0\\.0\\.1:${up.port}"$`),
    );
  });

  it("a refused request has no worker name and no bytes", async () => {
    const before = combinedProxy.lines.length;
    await send(combinedProxy.port, { headers: { host: "nowhere.test" } });
    await settle(combinedProxy.lines, before + 1);
    expect(combinedProxy.lines[before]).toMatch(/" 404 - "-" "-" \d+ "-"$/);
  });

  it.each([
    { name: "plain text is returned as is", input: "abc/def", output: "abc/def" },
    { name: "a quote is escaped", input: 'a"b', output: 'a\\"b' },
    { name: "a backslash is escaped", input: "a\\b", output: "a\\\\b" },
    { name: "control characters become \\xhh or \\n", input: "a\u0001b\n", output: "a\\x01b\\n" },
    { name: "non-ASCII becomes its UTF-8 bytes", input: "é", output: "\\xc3\\xa9" },
  ])("escaping: $name", ({ input, output }) => expect(escapeLogItem(input)).toBe(output));

  it("follows the access component's level (access=warn silences it)", async () => {
    const quiet = await start(up, "combined", "warn");
    try {
      expect((await send(quiet.port, { headers: { host: HOST } })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
      expect(quiet.lines).toEqual([]);
    } finally {
      await quiet.proxy.close(0);
    }
  });

  it("formats %t as httpd does, in UTC", () => {
    expect(new CombinedFormatter().time(Date.UTC(2026, 10, 6, 9, 5, 3))).toBe("[06/Nov/2026:09:05:03 +0000]");
  });
});
