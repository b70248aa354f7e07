// The TLS listener of the all-cores data plane: every worker listens on the same TLS port
// (reusePort), presents the same default certificate (made once by the primary) and resumes
// sessions whose tickets another worker issued (ticket keys from the primary).
import { X509Certificate } from "node:crypto";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkerPool } from "../../src/dataplane/index.js";
import { echo, endpointTable, member, route, routeTable, silentLogger, startUpstream, vhost, type Upstream } from "./helpers.js";

let pool: WorkerPool;
let u: Upstream;

interface Answer {
  readonly worker: string;
  readonly reused: boolean;
  readonly fingerprint: string;
  readonly session: Buffer | undefined;
  readonly protocol: string | null;
}

/** One HTTP/1.1 request over a new TLS connection, offering `session` for resumption. */
function ask(port: number, session?: Buffer, maxVersion: "TLSv1.2" | "TLSv1.3" = "TLSv1.3"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = tlsConnect({ host: "127.0.0.1", port, servername: "example.com", rejectUnauthorized: false, session, maxVersion, ALPNProtocols: ["http/1.1"] });
    let ticket: Buffer | undefined;
    socket.on("session", (s: Buffer) => (ticket = s));
    const data: Buffer[] = [];
    socket.on("data", (c: Buffer) => data.push(c));
    let protocol: string | null = null;
    let reused = false;
    let fingerprint = "";
    socket.once("secureConnect", () => {
      fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? "";
      protocol = socket.getProtocol();
      reused = socket.isSessionReused();
      socket.write("GET / HTTP/1.1\r\nhost: example.com\r\nconnection: close\r\n\r\n");
    });
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(data).toString("latin1");
      const worker = /x-proxypass-worker: (\d+)/i.exec(text)?.[1] ?? "";
      resolve({ worker, reused, fingerprint, session: ticket, protocol });
    });
  });
}

beforeAll(async () => {
  u = await startUpstream("u", echo);
  pool = new WorkerPool({ workers: 2, port: 0, httpsPort: 0, host: "127.0.0.1", logLevel: "silent", accessLog: false, logger: silentLogger, exposeWorkerId: true });
  await pool.start();
  await pool.applyRoutes(routeTable([vhost("example.com", [route("/", "Prefix", "default/web:80")])]), endpointTable({ "default/web:80": [member(u.port)] }));
}, 60_000);

afterAll(async () => {
  await pool.close(1_000);
  await u.close();
});

describe("TLS in every worker", () => {
  it("both workers serve the TLS port with the same self-signed default certificate", async () => {
    const port = pool.httpsPort as number;
    expect(port).toBeGreaterThan(0);
    const seen = new Map<string, Set<string>>();
    // The kernel spreads new connections over the workers; enough connections reach both.
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const a = await ask(port);
      if (!seen.has(a.worker)) seen.set(a.worker, new Set());
      seen.get(a.worker)?.add(a.fingerprint);
    }
    expect([...seen.keys()].sort()).toEqual(["0", "1"]);
    const fingerprints = new Set([...seen.values()].flatMap((s) => [...s]));
    expect(fingerprints.size).toBe(1);
    expect([...fingerprints][0]).toMatch(/^[0-9A-F:]{95}$/);
  });

  it.each([
    { name: "TLS 1.3 tickets resume on either worker", version: "TLSv1.3" as const },
    { name: "TLS 1.2 tickets resume on either worker", version: "TLSv1.2" as const },
  ])("$name", async ({ version }) => {
    const port = pool.httpsPort as number;
    const first = await ask(port, undefined, version);
    expect(first.protocol).toBe(version);
    expect(first.session).toBeDefined();
    const resumedBy = new Set<string>();
    for (let i = 0; i < 40 && resumedBy.size < 2; i++) {
      const again = await ask(port, first.session, version);
      expect(again.reused).toBe(true);
      resumedBy.add(again.worker);
    }
    // The ticket was issued by one worker and accepted by both.
    expect([...resumedBy].sort()).toEqual(["0", "1"]);
  });

  it("the default certificate is the generated one (CN proxypass-ingress default certificate), valid now", async () => {
    const socket = tlsConnect({ host: "127.0.0.1", port: pool.httpsPort as number, servername: "unknown.test", rejectUnauthorized: false });
    const cert = await new Promise<X509Certificate | undefined>((resolve, reject) => {
      socket.once("secureConnect", () => resolve(socket.getPeerX509Certificate()));
      socket.once("error", reject);
    });
    socket.destroy();
    expect(cert?.subject).toContain("CN=proxypass-ingress default certificate");
    expect(new Date(cert?.validTo ?? 0).getTime()).toBeGreaterThan(Date.now());
  });
});
