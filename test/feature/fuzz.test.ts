// Smoke run of the raw-HTTP fuzzer (test/chaos/lib/fuzz.ts; the long run is `npm run chaos --
// --scenario fuzz`) against the controller binary: seeded mutated requests; the process lives,
// every answer is valid HTTP/1.x, a normal request succeeds after each batch and client
// connections come back to the baseline (server-status ConnsTotal). Plus the response validator's
// own cases, so a broken answer would be caught.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fuzzCase, parseResponses, runCampaign } from "../chaos/lib/fuzz.js";
import { startController, type RunningController } from "../support/controller.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { startUpstream, type Upstream } from "../support/upstream.js";
import { waitFor } from "../support/wait.js";

describe("response validator", () => {
  it.each([
    { name: "a Content-Length response", data: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", closed: false, ok: true },
    { name: "two pipelined responses", data: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n", closed: true, ok: true },
    { name: "a chunked response", data: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", closed: true, ok: true },
    { name: "a close-delimited body on a closed connection", data: "HTTP/1.1 200 OK\r\n\r\nabc", closed: true, ok: true },
    { name: "no bytes at all", data: "", closed: true, ok: true },
    { name: "a body shorter than its Content-Length, connection closed", data: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", closed: true, ok: false },
    { name: "a chunked body without its last chunk, connection closed", data: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n", closed: true, ok: false },
    { name: "a garbage status line", data: "HTTP/1.1 2000 OK\r\n\r\n", closed: true, ok: false },
    { name: "a header line without colon", data: "HTTP/1.1 200 OK\r\nbroken\r\nContent-Length: 0\r\n\r\n", closed: true, ok: false },
    { name: "a control character in a header value", data: "HTTP/1.1 200 OK\r\nX: a\u0001b\r\nContent-Length: 0\r\n\r\n", closed: true, ok: false },
    { name: "both Content-Length and Transfer-Encoding", data: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", closed: true, ok: false },
  ])("$name: valid = $ok", ({ data, closed, ok }) => {
    expect(parseResponses(Buffer.from(data, "latin1"), closed).ok).toBe(ok);
  });

  it("a seed and a case number give the same bytes every time", () => {
    const a = fuzzCase(42, 7, "x.test");
    const b = fuzzCase(42, 7, "x.test");
    expect(Buffer.concat([...a.fragments]).equals(Buffer.concat([...b.fragments]))).toBe(true);
    expect(a.mutations).toEqual(b.mutations);
    expect(Buffer.concat([...fuzzCase(43, 7, "x.test").fragments]).equals(Buffer.concat([...a.fragments]))).toBe(false);
  });
});

describe("raw-HTTP fuzzer against the controller binary (smoke: 2 batches of 40 cases, seed 1)", () => {
  let dir = "";
  let ctl: RunningController;
  let upstream: Upstream;

  beforeAll(async () => {
    upstream = await startUpstream("echo");
    dir = await mkdtemp(join(tmpdir(), "ppi-fuzz-"));
    await writeFile(join(dir, "app.yaml"), [serviceYaml("shop", "web", 80), endpointSlicesYaml("shop", "web", [{ ip: upstream.host, port: upstream.port, pod: "echo" }]), ingressYaml("shop", "web", [{ host: "chaos.test", path: "/app", service: "web", port: 80 }])].join("---\n"));
    ctl = await startController(["--manifests", dir, "--workers", "1", "--access-log=false", "--shutdown-delay", "0"]);
    const c = ctl;
    await waitFor(async () => ((await request(`http://127.0.0.1:${c.adminPort}/readyz`)).statusCode === 200 ? true : undefined), { what: "readyz", timeoutMs: 60_000 });
  }, 90_000);

  afterAll(async () => {
    if (ctl.child.exitCode === null) ctl.child.kill("SIGKILL");
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("never crashes, answers only valid HTTP, keeps serving, leaks no connection", async () => {
    const result = await runCampaign({
      port: ctl.httpPort,
      host: "chaos.test",
      seed: 1,
      batches: 2,
      batchSize: 40,
      normalRequest: async () => {
        const res = await request(`http://127.0.0.1:${ctl.httpPort}/app/normal`, { headers: { host: "chaos.test" }, reset: true });
        await res.body.dump();
        return res.statusCode;
      },
      openConnections: async () => {
        const text = await (await request(`http://127.0.0.1:${ctl.adminPort}/server-status?auto`)).body.text();
        return Number(/^ConnsTotal: (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
      },
      alive: () => ctl.child.exitCode === null && ctl.child.signalCode === null,
    });
    expect(result.died).toBe(false);
    expect(result.invalid).toEqual([]);
    expect(result.failedNormal).toEqual([]);
    expect(result.leaked).toEqual([]);
    // The campaign exercised both refusals and forwarded requests.
    expect(Object.keys(result.statuses)).toEqual(expect.arrayContaining(["200", "400"]));
  }, 120_000);
});
