// Compression: negotiation and eligibility tables, then responses through a real ProxyServer and
// member on loopback (every coding decoded back to the member's bytes), and a 64 MiB stream through
// a slow client with the member paused by backpressure (bounded memory).
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import zlib from "node:zlib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProxyServer } from "../../src/dataplane/index.js";
import { addVary, chooseEncoding, CompressionPolicy, encodeHeaders, ENCODING_BR, ENCODING_GZIP, ENCODING_NONE, ENCODING_ZSTD, type Encoding } from "../../src/dataplane/compress.js";
import { defaultServerSettings, type RouteOptions } from "../../src/model/index.js";
import { endpointTable, member, route, routeTable, send, silentLogger, startUpstream, vhost, type Upstream, type UpstreamHandler } from "./helpers.js";

describe("Accept-Encoding negotiation", () => {
  it.each<{ name: string; accept: string | null; want: Encoding }>([
    { name: "no header: identity", accept: null, want: ENCODING_NONE },
    { name: "empty header: identity", accept: "", want: ENCODING_NONE },
    { name: "gzip only", accept: "gzip", want: ENCODING_GZIP },
    { name: "x-gzip is gzip", accept: "x-gzip", want: ENCODING_GZIP },
    { name: "browsers' list: zstd preferred on equal q", accept: "gzip, deflate, br, zstd", want: ENCODING_ZSTD },
    { name: "without zstd: br over gzip on equal q", accept: "gzip, deflate, br", want: ENCODING_BR },
    { name: "a higher q wins over preference", accept: "br;q=0.5, gzip;q=0.9", want: ENCODING_GZIP },
    { name: "q=0 refuses a coding", accept: "zstd;q=0, br;q=0, gzip", want: ENCODING_GZIP },
    { name: "every coding refused: identity", accept: "gzip;q=0, br;q=0", want: ENCODING_NONE },
    { name: "* covers unlisted codings", accept: "*", want: ENCODING_ZSTD },
    { name: "* with q=0 and gzip listed", accept: "gzip;q=0.2, *;q=0", want: ENCODING_GZIP },
    { name: "a listed coding overrides *", accept: "zstd;q=0, *;q=0.5", want: ENCODING_BR },
    { name: "case and spaces do not matter", accept: " GZIP ; Q=1.0 ,BR;q=0.001", want: ENCODING_GZIP },
    { name: "identity and unknown codings are never chosen", accept: "identity, deflate, compress", want: ENCODING_NONE },
    { name: "a malformed q counts as not acceptable", accept: "br;q=2, gzip;q=abc, zstd;q=0.8", want: ENCODING_ZSTD },
    { name: "q with three decimals", accept: "br;q=0.001, gzip;q=0.002", want: ENCODING_GZIP },
    { name: "repeated coding: its highest q", accept: "gzip;q=0.1, br;q=0.5, gzip;q=1", want: ENCODING_GZIP },
  ])("$name", ({ accept, want }) => {
    expect(chooseEncoding(accept)).toBe(want);
  });
});

describe("which responses are compressed", () => {
  const policy = new CompressionPolicy(["application/json", "text/*"], 100);
  it.each<{ name: string; method?: string; status?: number; headers: string[]; want: boolean }>([
    { name: "a listed type above the minimum", headers: ["content-type", "application/json; charset=utf-8", "content-length", "5000"], want: true },
    { name: "a type/* wildcard", headers: ["content-type", "text/csv"], want: true },
    { name: "no Content-Length (streamed) is compressed", headers: ["content-type", "application/json"], want: true },
    { name: "an unlisted type", headers: ["content-type", "image/png", "content-length", "5000"], want: false },
    { name: "no Content-Type", headers: ["content-length", "5000"], want: false },
    { name: "below the minimum size", headers: ["content-type", "application/json", "content-length", "99"], want: false },
    { name: "exactly the minimum size", headers: ["content-type", "application/json", "content-length", "100"], want: true },
    { name: "already encoded", headers: ["content-type", "application/json", "content-encoding", "gzip"], want: false },
    { name: "Content-Encoding identity does not count", headers: ["content-type", "application/json", "content-encoding", "identity"], want: true },
    { name: "Cache-Control: no-transform", headers: ["content-type", "application/json", "cache-control", "public, No-Transform"], want: false },
    { name: "a range response (Content-Range)", status: 200, headers: ["content-type", "application/json", "content-range", "bytes 0-9/100"], want: false },
    { name: "206", status: 206, headers: ["content-type", "application/json"], want: false },
    { name: "HEAD", method: "HEAD", headers: ["content-type", "application/json"], want: false },
    { name: "204", status: 204, headers: ["content-type", "application/json"], want: false },
    { name: "304", status: 304, headers: ["content-type", "application/json"], want: false },
    { name: "an error page of a listed type", status: 503, headers: ["content-type", "text/html"], want: true },
  ])("$name", ({ method, status, headers, want }) => {
    expect(policy.isEligible(method ?? "GET", status ?? 200, headers)).toBe(want);
  });

  it("a compressed response loses Content-Length and Accept-Ranges, its strong ETag becomes weak, a weak one stays", () => {
    const out = ["content-type", "text/html", "content-length", "5000", "etag", '"abc"', "accept-ranges", "bytes"];
    encodeHeaders(out, ENCODING_BR);
    expect(out).toEqual(["content-type", "text/html", "etag", 'W/"abc"', "content-encoding", "br"]);
    const weak = ["etag", 'W/"x"'];
    encodeHeaders(weak, ENCODING_GZIP);
    expect(weak).toEqual(["etag", 'W/"x"', "content-encoding", "gzip"]);
  });

  it("Vary: Accept-Encoding is added once", () => {
    const a = ["vary", "Origin"];
    addVary(a);
    expect(a).toEqual(["vary", "Origin", "vary", "Accept-Encoding"]);
    const b = ["vary", "origin, accept-encoding"];
    addVary(b);
    expect(b).toEqual(["vary", "origin, accept-encoding"]);
  });
});

const B = "default/web:80";
let proxy: ProxyServer;
let port: number;
const upstreams: Upstream[] = [];

async function serve(handler: UpstreamHandler, options: Partial<RouteOptions> = { compression: true }): Promise<void> {
  const u = await startUpstream("u", handler);
  upstreams.push(u);
  const table = { ...routeTable([vhost("example.com", [route("/", "Prefix", B, options)])]), server: { ...defaultServerSettings, compressionMinSize: 256 } };
  await proxy.applyRoutes(table, endpointTable({ [B]: [member(u.port)] }));
}

beforeAll(async () => {
  proxy = new ProxyServer({ logger: silentLogger });
  port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
});

afterEach(async () => {
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

afterAll(async () => {
  await proxy.close(1_000);
});

const json = Buffer.from(JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `user-${i}`, active: i % 2 === 0 }))));

function decode(encoding: string | undefined, body: Buffer): Buffer {
  switch (encoding) {
    case "gzip":
      return zlib.gunzipSync(body);
    case "br":
      return zlib.brotliDecompressSync(body);
    case "zstd":
      return zlib.zstdDecompressSync(body);
    default:
      return body;
  }
}

const jsonHandler: UpstreamHandler = (req, res) => {
  req.resume();
  res.writeHead(200, { "content-type": "application/json", "content-length": String(json.length), etag: '"v1"', "accept-ranges": "bytes" });
  res.end(req.method === "HEAD" ? undefined : json);
};

describe("compression through the proxy", () => {
  it.each([
    { accept: "gzip", encoding: "gzip" },
    { accept: "gzip, br", encoding: "br" },
    { accept: "gzip, deflate, br, zstd", encoding: "zstd" },
  ])("Accept-Encoding $accept: $encoding, decoded back to the member's bytes", async ({ accept, encoding }) => {
    await serve(jsonHandler);
    const reply = await send(port, { headers: { "accept-encoding": accept } });
    expect(reply.status).toBe(200);
    expect(reply.headers["content-encoding"]).toBe(encoding);
    expect(reply.headers.vary).toBe("Accept-Encoding");
    expect(reply.headers.etag).toBe('W/"v1"');
    expect(reply.headers["content-length"]).toBeUndefined();
    expect(reply.headers["accept-ranges"]).toBeUndefined();
    expect(reply.body.length).toBeLessThan(json.length / 3);
    expect(decode(encoding, reply.body).equals(json)).toBe(true);
  });

  it("a client without Accept-Encoding gets the member's bytes, with Vary", async () => {
    await serve(jsonHandler);
    const reply = await send(port);
    expect(reply.headers["content-encoding"]).toBeUndefined();
    expect(reply.headers.vary).toBe("Accept-Encoding");
    expect(reply.headers["content-length"]).toBe(String(json.length));
    expect(reply.headers.etag).toBe('"v1"');
    expect(reply.body.equals(json)).toBe(true);
  });

  it.each<{ name: string; headers: Record<string, string>; status?: number; method?: string }>([
    { name: "already encoded by the member", headers: { "content-type": "application/json", "content-encoding": "br" } },
    { name: "Cache-Control: no-transform", headers: { "content-type": "application/json", "cache-control": "no-transform" } },
    { name: "an image", headers: { "content-type": "image/png" } },
    { name: "a 206 range response", headers: { "content-type": "application/json", "content-range": `bytes 0-${json.length - 1}/${json.length * 2}` }, status: 206 },
    { name: "a HEAD request", headers: { "content-type": "application/json" }, method: "HEAD" },
  ])("not compressed: $name", async ({ headers, status, method }) => {
    await serve((req, res) => {
      req.resume();
      res.writeHead(status ?? 200, { ...headers, "content-length": String(json.length) });
      res.end(method === "HEAD" ? undefined : json);
    });
    const reply = await send(port, { method: method ?? "GET", headers: { "accept-encoding": "gzip, br, zstd" } });
    expect(reply.status).toBe(status ?? 200);
    expect(reply.headers["content-encoding"]).toBe(headers["content-encoding"]);
    expect(reply.headers["content-length"]).toBe(String(json.length));
    if (method !== "HEAD") expect(reply.body.equals(json)).toBe(true);
  });

  it("a small response below compression-min-size is sent as is", async () => {
    await serve((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      res.end(Buffer.alloc(100, 0x61));
    });
    const reply = await send(port, { headers: { "accept-encoding": "gzip" } });
    expect(reply.headers["content-encoding"]).toBeUndefined();
    expect(reply.headers.vary).toBeUndefined();
  });

  it("a route without compression never compresses", async () => {
    await serve(jsonHandler, {});
    const reply = await send(port, { headers: { "accept-encoding": "gzip" } });
    expect(reply.headers["content-encoding"]).toBeUndefined();
    expect(reply.headers.vary).toBeUndefined();
    expect(reply.body.equals(json)).toBe(true);
  });

  it("each chunk of a slowly streamed response reaches the client before the member finishes", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await serve((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/plain" });
      res.write(`first ${"x".repeat(300)}\n`);
      void gate.then(() => res.end("last\n"));
    });
    const text = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, path: "/", headers: { host: "example.com", "accept-encoding": "gzip" }, agent: false }, (res) => {
        expect(res.headers["content-encoding"]).toBe("gzip");
        const gunzip = zlib.createGunzip();
        res.pipe(gunzip);
        let got = "";
        gunzip.on("data", (d: Buffer) => {
          got += d.toString();
          if (got.startsWith("first") && !got.includes("last")) release(); // first chunk arrived while the member still holds the rest
        });
        gunzip.on("end", () => resolve(got));
        gunzip.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    });
    expect(text).toBe(`first ${"x".repeat(300)}\nlast\n`);
  }, 20_000);

  // The proxy's RSS under the same stream is measured through the binary in test/feature/mapping.test.ts.
  it("a 64 MiB streamed response through a slow client: the member is held back (bounded memory) and every byte arrives", async () => {
    const total = 64 << 20;
    // 1 MiB of random letters, written in 64 KiB slices: gzip's 32 KiB window never sees a repeat,
    // so the output is ~60 % of the input and the client's pace really limits the stream.
    const letters = randomBytes(1 << 20).map((b) => 97 + (b % 26));
    let written = 0;
    await serve((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/plain" });
      const pump = (): void => {
        while (written < total) {
          const chunk = letters.subarray(written % letters.length, (written % letters.length) + (1 << 16));
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    let maxAhead = 0;
    const received = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, path: "/", headers: { host: "example.com", "accept-encoding": "gzip" }, agent: false }, (res) => {
        expect(res.headers["content-encoding"]).toBe("gzip");
        const gunzip = zlib.createGunzip();
        let got = 0;
        let reads = 0;
        gunzip.on("data", (d: Buffer) => {
          got += d.length;
          maxAhead = Math.max(maxAhead, written - got);
          // Slow reader for the first part of the stream: pause the compressed socket now and then.
          if (++reads % 8 === 0 && got < 16 << 20) {
            res.pause();
            setTimeout(() => res.resume(), 5);
          }
        });
        gunzip.on("end", () => resolve(got));
        gunzip.on("error", reject);
        res.pipe(gunzip);
      });
      req.on("error", reject);
      req.end();
    });
    expect(received).toBe(total);
    // What the member wrote ahead of what the client decoded: socket buffers, undici, the encoder's
    // 16 KiB buffers and the kernel's loopback socket buffers (several MiB each) — never the stream (64 MiB).
    expect(maxAhead).toBeLessThan(24 << 20);
  }, 120_000);
});
