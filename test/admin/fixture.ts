// A standalone data plane (ProxyServer) with two loopback members "a" and "b" behind one sticky
// balancer, plus the admin listener with the balancer-manager, all on real sockets.
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Writable } from "node:stream";
import pino from "pino";
import { AdminAccess, AdminServer, BalancerManager, FileStateStore, type AdminAccessOptions } from "../../src/admin/index.js";
import { ProxyServer } from "../../src/dataplane/index.js";
import type { BalancerSettings, BalancerView } from "../../src/model/index.js";
import { endpointTable, member, route, routeTable, silentLogger, startUpstream, send, vhost, type Upstream, type UpstreamHandler } from "../dataplane/helpers.js";

export const BALANCER = "shop/web:80";
export const HOST = "shop.test";

export interface AdminReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface Fixture {
  readonly proxy: ProxyServer;
  readonly proxyPort: number;
  readonly adminPort: number;
  readonly manager: BalancerManager;
  readonly store: FileStateStore;
  readonly access: AdminAccess;
  /** Member key of "a" / "b". */
  readonly key: (name: "a" | "b") => string;
  readonly upstreams: Record<"a" | "b", Upstream>;
  /** Audit and other admin log lines (JSON objects). */
  readonly logs: Array<Record<string, unknown>>;
  /** One proxied request; returns the member name that answered (or the status when not 200). */
  readonly hit: (cookie?: string, path?: string) => Promise<string>;
  readonly admin: (method: string, path: string, headers?: Record<string, string>, body?: string) => Promise<AdminReply>;
  /** POSTs a JSON change with the nonce (unless given). */
  readonly change: (body: Record<string, unknown>, headers?: Record<string, string>) => Promise<AdminReply>;
  readonly view: () => Promise<BalancerView>;
  readonly close: () => Promise<void>;
}

export interface FixtureOptions {
  readonly access?: AdminAccessOptions;
  readonly settings?: Partial<BalancerSettings>;
  readonly handler?: UpstreamHandler;
  readonly statePath?: string | null;
  readonly gcAfterMs?: number;
  readonly now?: () => number;
}

export async function startFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const up1 = await startUpstream("u1", options.handler);
  const up2 = await startUpstream("u2", options.handler);
  // Keys sort by "127.0.0.1:port": the lower port is member order's first, named "a".
  const [first, second] = [up1, up2].sort((x, y) => `127.0.0.1:${x.port}`.localeCompare(`127.0.0.1:${y.port}`)) as [Upstream, Upstream];
  const upstreams = { a: first, b: second };
  const nameOf = new Map([
    [first.name, "a"],
    [second.name, "b"],
  ]);
  const proxy = new ProxyServer({ logger: silentLogger });
  const routes = routeTable([vhost(HOST, [route("/", "Prefix", BALANCER, {}, "shop/web")])], null, {
    [BALANCER]: { settingsFrom: "shop/web", sticky: { cookie: "ROUTEID", param: null, noFailover: false }, ...options.settings },
  });
  const eps = endpointTable({ [BALANCER]: [member(first.port, true, "127.0.0.1", { route: "a" }), member(second.port, true, "127.0.0.1", { route: "b" })] });
  await proxy.applyRoutes(routes, eps);
  const address = await proxy.listen({ port: 0, host: "127.0.0.1" });
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: "info" }, sink);
  const store = new FileStateStore({ path: options.statePath ?? null, logger });
  await store.load();
  store.subscribe((s) => proxy.setRuntimeState(s));
  proxy.setRuntimeState(store.current());
  const access = new AdminAccess(options.access ?? {});
  const manager = new BalancerManager({ reader: proxy, store, access, logger, persistence: "memory", gcIntervalMs: 0, ...(options.gcAfterMs !== undefined ? { gcAfterMs: options.gcAfterMs } : {}), ...(options.now !== undefined ? { now: options.now } : {}) });
  const adminServer = new AdminServer({ isReady: () => true, logger, access, balancerManager: manager });
  const adminPort = await adminServer.listen(0, "127.0.0.1");

  const admin = (method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<AdminReply> =>
    new Promise((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port: adminPort, method, path, headers: { host: `127.0.0.1:${adminPort}`, ...headers }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      });
      req.on("error", reject);
      req.end(body);
    });
  const hit = async (cookie?: string, path = "/"): Promise<string> => {
    const reply = await send(address.port, { path, headers: { host: HOST, ...(cookie !== undefined ? { cookie } : {}) } });
    if (reply.status !== 200) return String(reply.status);
    const member = (JSON.parse(reply.body.toString("utf8")) as { member: string }).member;
    return nameOf.get(member) ?? member;
  };
  const change = (body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<AdminReply> =>
    admin("POST", "/balancer-manager", { "content-type": "application/json", ...headers }, JSON.stringify({ nonce: access.nonce, balancer: BALANCER, ...body }));
  const view = async (): Promise<BalancerView> => {
    const r = await admin("GET", "/balancer-manager?json");
    const data = JSON.parse(r.body) as { balancers: BalancerView[] };
    const b = data.balancers.find((x) => x.id === BALANCER);
    if (b === undefined) throw new Error("balancer missing from ?json");
    return b;
  };
  return {
    proxy,
    proxyPort: address.port,
    adminPort,
    manager,
    store,
    access,
    key: (name) => `127.0.0.1:${upstreams[name].port}`,
    upstreams,
    logs,
    hit,
    admin,
    change,
    view,
    close: async () => {
      manager.close();
      await adminServer.close();
      await proxy.close(0);
      await Promise.all([up1.close(), up2.close()]);
    },
  };
}
