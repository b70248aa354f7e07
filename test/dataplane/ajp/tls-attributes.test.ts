// TLS client facts over AJP, end to end to a real Tomcat: an HTTPS server (node:https, client
// certificate requested) takes the request, `ajpRequestInfo` reads the TLS connection and the
// AjpPool forwards it; Tomcat's servlet sees isSecure, https, the cipher suite, key size, session
// and the client certificate. (The controller's own HTTPS listener is the tls helper's; this
// checks the AJP side of it on a real TLS socket.)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "undici";
import { AjpPool, ajpRequestInfo, cipherKeyBits, type AjpDispatchOptions } from "../../../src/dataplane/ajp/index.js";
import { startTomcat, type Tomcat } from "../../support/tomcat.js";
import { CollectingHandler, lines } from "./collect.js";

let dir: string;
let tomcat: Tomcat;
let pool: AjpPool;
let server: Server;
let port: number;
const pem = (name: string): Buffer => readFileSync(join(dir, name));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ajp-tls-"));
  const ssl = (...args: string[]): void => void execFileSync("openssl", args, { stdio: "pipe", cwd: dir });
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.crt", "-days", "2", "-subj", "/CN=shop.example");
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.crt", "-days", "2", "-subj", "/CN=alice/O=Example Client");
  tomcat = await startTomcat({ jvmRoute: "tc-tls", secret: null });
  pool = new AjpPool("127.0.0.1", tomcat.port, 5_000, { keepAliveTimeoutMs: 5_000, packetSize: 8192, secret: null, pingMs: 0 });
  server = createServer({ key: pem("server.key"), cert: pem("server.crt"), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const h = new CollectingHandler();
    const info = ajpRequestInfo(req, req.socket.remoteAddress ?? "", "shop.example", (server.address() as AddressInfo).port, null);
    pool.dispatch({ method: req.method ?? "GET", path: req.url ?? "/", headers: ["host", "shop.example"], body: null, headersTimeout: 30_000, bodyTimeout: 30_000, ajp: info } as AjpDispatchOptions, h as Dispatcher.DispatchHandler);
    h.done.then(
      (r) => {
        res.writeHead(r.status, { "content-type": "text/plain" });
        res.end(r.body);
      },
      (err: Error) => {
        res.writeHead(502);
        res.end(err.message);
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
}, 120_000);

afterAll(async () => {
  server?.close();
  await pool?.destroy();
  await tomcat?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function get(path: string, withCert: boolean): Promise<Map<string, string[]>> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, rejectUnauthorized: false, servername: "shop.example", ...(withCert ? { key: pem("client.key"), cert: pem("client.crt") } : {}), agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(lines(Buffer.concat(chunks))));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("TLS client facts reach Tomcat over AJP", () => {
  it("is_ssl, cipher, key size and protocol; the client certificate when one was presented", async () => {
    const l = await get("/echo.jsp?x=1", true);
    expect(l.get("secure")).toEqual(["true"]);
    expect(l.get("scheme")).toEqual(["https"]);
    const cipher = l.get("attr.jakarta.servlet.request.cipher_suite")?.[0] ?? "null";
    expect(cipher).not.toBe("null");
    expect(l.get("attr.jakarta.servlet.request.key_size")).toEqual([String(cipherKeyBits(cipher) ?? 0)]);
    // AJP_SSL_PROTOCOL becomes Tomcat's protocol-version attribute.
    expect(l.get("a.org.apache.tomcat.util.net.secure_protocol_version")?.[0]).toMatch(/^TLSv1\.[23]$/);
    expect(l.get("attr.jakarta.servlet.request.X509Certificate")?.[0]).toMatch(/^certs:.*CN=alice/);
    expect(l.get("remotePort")?.[0]).not.toBe("0");
  }, 60_000);

  it("no client certificate: no certificate attribute, still secure", async () => {
    const l = await get("/echo.jsp", false);
    expect(l.get("secure")).toEqual(["true"]);
    expect(l.get("attr.jakarta.servlet.request.X509Certificate")).toEqual(["null"]);
  }, 60_000);
});

describe("cipherKeyBits", () => {
  it.each([
    { name: "TLS_AES_128_GCM_SHA256", bits: 128 },
    { name: "TLS_AES_256_GCM_SHA384", bits: 256 },
    { name: "TLS_CHACHA20_POLY1305_SHA256", bits: 256 },
    { name: "ECDHE-RSA-AES128-GCM-SHA256", bits: 128 },
    { name: "NULL-SHA", bits: null },
  ])("$name -> $bits", ({ name, bits }) => {
    expect(cipherKeyBits(name)).toBe(bits);
  });
});
