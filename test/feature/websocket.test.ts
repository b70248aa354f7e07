// WebSocket tunnels end to end, as a user runs them: the compiled controller (`--workers 2`, so
// connections land on either worker), manifest files, `ws` backends on loopback, `ws` clients.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { startController, type RunningController } from "../support/controller.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { waitFor } from "../support/wait.js";

interface Backend {
  readonly name: string;
  readonly ip: string;
  readonly port: number;
  readonly server: Server;
  readonly wss: WebSocketServer;
}

let ctl: RunningController;
let dir: string;
const backends = new Map<string, Backend>();
const clients: WebSocket[] = [];

async function startBackend(name: string, ip: string): Promise<Backend> {
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "x-upstream": name });
    res.end(name);
  });
  server.on("upgrade", (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on("message", (data: RawData, isBinary: boolean) => ws.send(isBinary ? data : `${name}:${String(data)}`, { binary: isBinary }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, ip, resolve));
  return { name, ip, port: (server.address() as AddressInfo).port, server, wss };
}

function members(names: string[]): Array<{ ip: string; port: number; pod: string }> {
  return names.map((n) => {
    const b = backends.get(n);
    if (b === undefined) throw new Error(`no backend ${n}`);
    return { ip: b.ip, port: b.port, pod: n };
  });
}

/** Services and Ingresses; `generation` changes an annotation so every write is a new snapshot. */
async function writeCluster(chatMembers: string[], generation = 0): Promise<void> {
  await writeFile(
    join(dir, "cluster.yaml"),
    [
      serviceYaml("rt", "chat", 80),
      endpointSlicesYaml("rt", "chat", members(chatMembers)),
      serviceYaml("rt", "quiet", 80),
      endpointSlicesYaml("rt", "quiet", members(["quiet-0"])),
      ingressYaml("rt", "chat", [{ host: "chat.test", path: "/", service: "chat", port: 80 }], {
        "proxypass.io/sticky-session": "ROUTEID",
        "proxypass.io/request-headers": `set X-Generation ${generation}`,
      }),
      ingressYaml("rt", "quiet", [{ host: "quiet.test", path: "/", service: "quiet", port: 80 }], { "proxypass.io/websocket-idle-timeout": "0.3" }),
      // Only the tunnel-metrics test opens tunnels on this one.
      ingressYaml("rt", "counted", [{ host: "counted.test", path: "/", service: "quiet", port: 80 }]),
    ].join("---\n"),
  );
}

function open(host: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; setCookie: string | null }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${ctl.httpPort}/socket`, { headers: { host, ...headers } });
    clients.push(ws);
    let setCookie: string | null = null;
    ws.once("upgrade", (res) => (setCookie = [res.headers["set-cookie"]].flat()[0] ?? null));
    ws.once("open", () => resolve({ ws, setCookie }));
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
}

function roundTrip(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onClose = (): void => reject(new Error("closed"));
    ws.once("message", (data: RawData) => {
      ws.off("close", onClose);
      resolve(String(data));
    });
    ws.once("close", onClose);
    ws.send(text);
  });
}

function closed(ws: WebSocket): Promise<number> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve(1006);
  return new Promise((resolve) => ws.once("close", (code: number) => resolve(code)));
}

beforeAll(async () => {
  const names = ["chat-0", "chat-1", "chat-2", "quiet-0"];
  for (const [i, name] of names.entries()) backends.set(name, await startBackend(name, `127.0.0.${40 + i}`));
  dir = await mkdtemp(join(tmpdir(), "ppi-websocket-"));
  await writeCluster(["chat-0", "chat-1"]);
  ctl = await startController(["--manifests", dir, "--workers", "2", "--shutdown-delay", "0", "--shutdown-grace", "1"]);
  await waitFor(async () => ((await open("chat.test").catch(() => null)) !== null ? true : undefined), { timeoutMs: 20_000, what: "controller tunnelling" });
}, 40_000);

afterAll(async () => {
  for (const c of clients) c.terminate();
  if (ctl !== undefined && ctl.child.exitCode === null) {
    ctl.child.kill("SIGTERM");
    await ctl.exited;
  }
  for (const b of backends.values()) {
    for (const c of b.wss.clients) c.terminate();
    b.server.closeAllConnections();
    await new Promise<void>((resolve) => b.server.close(() => resolve()));
  }
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("WebSocket through the controller binary (2 workers)", () => {
  it("echoes on every connection, whichever worker accepts it", async () => {
    for (let i = 0; i < 10; i++) {
      const { ws } = await open("chat.test");
      expect(await roundTrip(ws, `m${i}`)).toMatch(new RegExp(`^chat-[01]:m${i}$`));
      ws.close();
    }
  });

  it("counts open tunnels per route in /metrics and logs each upgrade (status 101, bytes) when its tunnel closes", async () => {
    const openOnCounted = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${ctl.adminPort}/metrics`)).text();
      let sum = 0;
      for (const m of text.matchAll(/^proxypass_websocket_open_tunnels\{([^}]*)\} (\S+)$/gm)) if ((m[1] ?? "").includes('ingress="counted"')) sum += Number(m[2]);
      return sum;
    };
    expect(await openOnCounted()).toBe(0);
    const a = await open("counted.test", { "x-request-id": "ws-metrics-a" });
    const b = await open("counted.test");
    expect(await roundTrip(a.ws, "hello")).toBe("quiet-0:hello");
    await waitFor(async () => ((await openOnCounted()) === 2 ? true : undefined), { what: "two open tunnels on rt/counted" });
    a.ws.close();
    b.ws.close();
    await Promise.all([closed(a.ws), closed(b.ws)]);
    await waitFor(async () => ((await openOnCounted()) === 0 ? true : undefined), { what: "tunnels counted closed" });
    // One access-log line per upgrade, written when the tunnel closes, with the client's bytes.
    const line = await waitFor(() => ctl.output().split("\n").find((l) => l.includes('"requestId":"ws-metrics-a"')), { what: "the upgrade's access-log line" });
    const entry = JSON.parse(line) as { status: number; upgrade: string; ingress: string; bytes: number; bytesIn: number; member: string };
    expect(entry).toMatchObject({ status: 101, upgrade: "websocket", ingress: "rt/counted" });
    expect(entry.bytes).toBeGreaterThan(100); // the 101 head plus the echoed frame
    expect(entry.bytesIn).toBeGreaterThan(100); // the upgrade request plus the client's frames
    // Upgrades are requests in the request metrics too (status class 1xx).
    const text = await (await fetch(`http://127.0.0.1:${ctl.adminPort}/metrics`)).text();
    expect(text).toMatch(/^proxypass_http_requests_total\{[^}]*ingress="counted"[^}]*method="GET",status_class="1xx"\} 2$/m);
  });

  it("a new session gets ROUTEID on the 101; the cookie keeps later tunnels on that pod", async () => {
    const first = await open("chat.test");
    expect(first.setCookie).toMatch(/^ROUTEID=\.chat-[01]; Path=\/; HttpOnly$/);
    const pod = /\.(chat-[01]);/.exec(first.setCookie ?? "")?.[1] ?? "";
    expect(await roundTrip(first.ws, "a")).toBe(`${pod}:a`);
    for (let i = 0; i < 8; i++) {
      const { ws, setCookie } = await open("chat.test", { cookie: `ROUTEID=.${pod}` });
      expect(setCookie).toBeNull();
      expect(await roundTrip(ws, `s${i}`)).toBe(`${pod}:s${i}`);
      ws.close();
    }
  });

  it("an open tunnel survives config changes and the removal of its pod from the endpoints", async () => {
    const { ws } = await open("chat.test", { cookie: "ROUTEID=.chat-0" });
    expect(await roundTrip(ws, "before")).toBe("chat-0:before");
    for (let g = 1; g <= 5; g++) {
      await writeCluster(["chat-0", "chat-1"], g);
      expect(await roundTrip(ws, `g${g}`)).toBe(`chat-0:g${g}`);
    }
    await writeCluster(["chat-1", "chat-2"], 6);
    // Once the change is live, a session for chat-0 is re-balanced onto the remaining pods.
    await waitFor(
      async () => {
        const { ws: probe } = await open("chat.test", { cookie: "ROUTEID=.chat-0" });
        const reply = await roundTrip(probe, "probe");
        probe.close();
        return reply.startsWith("chat-0:") ? undefined : true;
      },
      { timeoutMs: 10_000, what: "chat-0 removed" },
    );
    expect(await roundTrip(ws, "after")).toBe("chat-0:after");
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  it("websocket-idle-timeout closes an idle tunnel", async () => {
    const { ws } = await open("quiet.test");
    const done = closed(ws);
    expect(await roundTrip(ws, "hi")).toBe("quiet-0:hi");
    expect(await done).toBe(1006);
  });

  it("SIGTERM: open tunnels are closed once the shutdown grace has passed, and the controller exits", async () => {
    const { ws } = await open("chat.test");
    expect(await roundTrip(ws, "last")).toMatch(/^chat-[012]:last$/);
    const done = closed(ws);
    ctl.child.kill("SIGTERM");
    expect(await done).toBe(1006);
    expect(await ctl.exited).toBe(0);
  }, 20_000);
});
