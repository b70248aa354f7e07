// The benchmark harness's own logic: profile attribution (test/bench/profile.mjs) and the
// `--new-conn` check that a peer closes after `Connection: close` (lib/http-check.mjs).
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
// @ts-expect-error plain .mjs harness module without types
import { ownerOf, summarizeProfile } from "./profile.mjs";
// @ts-expect-error plain .mjs harness module without types
import { closesAfterResponse } from "./lib/http-check.mjs";

interface Owner {
  owner: string;
  us: number;
}

describe("profile.mjs", () => {
  it.each([
    { name: "native binding", frame: { functionName: "writev", url: "" }, owner: "native (C++ bindings: writev, read, ... and their syscalls)" },
    { name: "node:http server", frame: { functionName: "parserOnIncoming", url: "node:_http_server" }, owner: "node:http" },
    { name: "node:http internals", frame: { functionName: "x", url: "node:internal/http" }, owner: "node:http" },
    { name: "streams", frame: { functionName: "onwrite", url: "node:internal/streams/writable" }, owner: "node:net + streams" },
    { name: "undici", frame: { functionName: "resumeH1", url: "file:///w/node_modules/undici/lib/dispatcher/client-h1.js" }, owner: "undici" },
    { name: "scoped package", frame: { functionName: "f", url: "file:///w/node_modules/@scope/pkg/index.js" }, owner: "@scope/pkg" },
    { name: "our file", frame: { functionName: "handle", url: "file:///w/dist/src/dataplane/forward.js" }, owner: "ours: src/dataplane/forward.js" },
    { name: "llhttp wasm", frame: { functionName: "wasm-function[20]", url: "wasm://wasm/00034eea" }, owner: "undici (llhttp wasm parser)" },
    { name: "GC", frame: { functionName: "(garbage collector)", url: "" }, owner: "GC" },
    { name: "idle is not busy time", frame: { functionName: "(idle)", url: "" }, owner: null },
  ])("$name", ({ frame, owner }) => {
    expect(ownerOf(frame)).toBe(owner);
  });

  it("charges each sample's following time delta to the sample's node and leaves idle out", () => {
    const dir = mkdtempSync(join(tmpdir(), "ppi-prof-"));
    try {
      const cf = (functionName: string, url: string) => ({ functionName, url, scriptId: "0", lineNumber: 0, columnNumber: 0 });
      const profile = {
        nodes: [
          { id: 1, callFrame: cf("(root)", ""), hitCount: 0, children: [2, 3, 4] },
          { id: 2, callFrame: cf("(idle)", ""), hitCount: 0 },
          { id: 3, callFrame: cf("writev", ""), hitCount: 0 },
          { id: 4, callFrame: cf("handle", "file:///w/dist/src/dataplane/forward.js"), hitCount: 0 },
        ],
        startTime: 0,
        endTime: 1000,
        samples: [3, 4, 2, 3],
        timeDeltas: [0, 100, 300, 500, 50],
      };
      const file = join(dir, "p.cpuprofile");
      writeFileSync(file, JSON.stringify(profile));
      const s = summarizeProfile(file);
      expect(s.idleUs).toBe(500);
      expect(s.busyUs).toBe(100 + 300 + 50);
      const owners = Object.fromEntries(s.owners.map((o: Owner) => [o.owner, o.us]));
      expect(owners).toEqual({ "native (C++ bindings: writev, read, ... and their syscalls)": 150, "ours: src/dataplane/forward.js": 300 });
      expect(s.functions[0].name).toBe("handle dist/src/dataplane/forward.js:1");
      // Samples at 0, 100, 400 and 900 µs: a window from 50 µs leaves the first writev sample out.
      const windowed = summarizeProfile(file, { fromUs: 50 });
      expect(windowed.busyUs).toBe(300 + 50);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("closesAfterResponse (--new-conn)", () => {
  let server: Server | null = null;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = null;
  });

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }

  it("is true for a server that honours Connection: close", async () => {
    const url = await serve((_req, res) => res.end("ok"));
    expect(await closesAfterResponse(url)).toBe(true);
  });

  it("reports a server that keeps the connection open anyway", async () => {
    const url = await serve((_req, res) => {
      res.shouldKeepAlive = true;
      // A raw keep-alive answer: the server ignores the client's close.
      res.socket?.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok");
    });
    expect(await closesAfterResponse(url)).toMatch(/still open/);
  });
});
