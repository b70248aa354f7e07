// The AJP client (AjpPool) against a real Tomcat 10, without the proxy: request and response
// packets, bodies both ways, connection reuse, the secret, CPing.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AjpPool, probeCping } from "../../../src/dataplane/ajp/index.js";
import { startTomcat, type Tomcat } from "../../support/tomcat.js";
import { ajpRequest, lines } from "./collect.js";

let tomcat: Tomcat;
let pool: AjpPool;

beforeAll(async () => {
  tomcat = await startTomcat({ jvmRoute: "tc-pool", secret: "s3cret-pool" });
  pool = new AjpPool("127.0.0.1", tomcat.port, 5_000, { keepAliveTimeoutMs: 10_000, packetSize: 8192, secret: "s3cret-pool", pingMs: 0 });
}, 120_000);

afterAll(async () => {
  await pool?.destroy();
  await tomcat?.stop();
});

describe("AjpPool against Tomcat", () => {
  it("GET: method, URI, query, headers and client facts reach the servlet", async () => {
    const r = await ajpRequest(pool, { path: "/echo.jsp?a=1&b=%20x", headers: ["host", "app.example", "accept", "text/plain", "x-custom", "v1"] });
    expect(r.status).toBe(200);
    const l = lines(r.body);
    expect(l.get("method")).toEqual(["GET"]);
    expect(l.get("uri")).toEqual(["/echo.jsp"]);
    expect(l.get("query")).toEqual(["a=1&b=%20x"]);
    expect(l.get("h.x-custom")).toEqual(["v1"]);
    expect(l.get("h.accept")).toEqual(["text/plain"]);
    expect(l.get("remoteAddr")).toEqual(["192.0.2.7"]);
    expect(l.get("remotePort")).toEqual(["40123"]);
    expect(l.get("secure")).toEqual(["false"]);
  }, 60_000);

  it("POST with Content-Length larger than many packets", async () => {
    const body = randomBytes(300_000);
    const r = await ajpRequest(pool, { method: "POST", path: "/echo.jsp", headers: ["host", "app.example", "content-type", "application/octet-stream", "content-length", String(body.length)], body: Readable.from([body.subarray(0, 100_000), body.subarray(100_000)]) });
    const l = lines(r.body);
    expect(l.get("bodyLength")).toEqual([String(body.length)]);
    expect(l.get("bodySha256")).toEqual([createHash("sha256").update(body).digest("hex")]);
  }, 60_000);

  it("a large response body arrives whole", async () => {
    const r = await ajpRequest(pool, { path: "/big.jsp?n=1000000" });
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(1_000_000);
    for (let i = 0; i < r.body.length; i += 99_991) expect(r.body[i]).toBe(48 + (i % 10));
  }, 60_000);

  it("connections are reused", async () => {
    await ajpRequest(pool, { path: "/index.jsp" });
    const before = pool.connections;
    for (let i = 0; i < 5; i++) await ajpRequest(pool, { path: "/index.jsp" });
    expect(pool.connections).toBe(before);
    expect(pool.idleConnections).toBe(pool.connections);
  }, 60_000);

  it("a wrong secret is refused by Tomcat (403)", async () => {
    const other = new AjpPool("127.0.0.1", tomcat.port, 5_000, { keepAliveTimeoutMs: 10_000, packetSize: 8192, secret: "wrong", pingMs: 0 });
    const r = await ajpRequest(other, { path: "/echo.jsp" });
    expect(r.status).toBe(403);
    await other.destroy();
  }, 60_000);

  it("CPing gets CPong", async () => {
    const result = await new Promise<string | null>((resolve) => probeCping("127.0.0.1", tomcat.port, 5_000, resolve));
    expect(result).toBeNull();
  }, 30_000);
});
