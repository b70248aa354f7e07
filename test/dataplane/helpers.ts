// Test helpers for the data plane: snapshot builders, recording upstreams, a small HTTP client.
import { spawn } from "node:child_process";
import { request as httpRequest, type Agent, type IncomingHttpHeaders } from "node:http";
import { connect, type Socket } from "node:net";
import { pino } from "pino";
import {
  defaultBalancerSettings,
  type BalancerConfig,
  type BalancerSettings,
  type CanaryConfig,
  type EndpointTable,
  type Member,
  type Route,
  type RouteOptions,
  type RouteTable,
  type VirtualHost,
} from "../../src/model/index.js";
import { deepFreeze } from "../../src/util/index.js";
import { startUpstream as startRecordingUpstream, type Upstream, type UpstreamHandler } from "../support/upstream.js";

export const silentLogger = pino({ level: "silent" });

export const defaultOptions: RouteOptions = {
  timeouts: { connectMs: 5_000, readMs: 60_000 },
  preserveHost: true,
  upstreamVhost: null,
  requestHeaders: [],
  responseHeaders: [],
  websocketIdleMs: 3_600_000,
  rewriteTarget: null,
  appRoot: null,
  proxyPassReverse: false,
  connectPorts: null,
  compression: false,
  maxBodyBytes: null,
  allowCidrs: null,
  denyCidrs: null,
  rateLimit: null,
  limitConnections: null,
};

export function route(path: string, pathType: "Exact" | "Prefix", balancer: string, options: Partial<RouteOptions> = {}, ingress = "default/ing", canary: CanaryConfig | null = null): Route {
  return { path, pathType, ingress, balancer, options: { ...defaultOptions, ...options }, canary };
}

/** A canary split to `balancer` (weight 0-100; header/cookie overrides off unless given). */
export function canary(balancer: string, weight: number, overrides: Partial<CanaryConfig> = {}): CanaryConfig {
  return { ingress: "default/ing-canary", balancer, weight, byHeader: null, byCookie: null, ...overrides };
}

export function vhost(host: string, routes: Route[], fallback: Route | null = null): VirtualHost {
  return { host, routes, fallback };
}

export function balancerConfig(id: string, settings: Partial<BalancerSettings> = {}): BalancerConfig {
  const [nsSvc = "", port = "80"] = id.split(":");
  const [ns = "default", svc = "svc"] = nsSvc.split("/");
  return { id, service: `${ns}/${svc}`, hostHeader: port === "80" ? `${svc}.${ns}.svc` : `${svc}.${ns}.svc:${port}`, ...defaultBalancerSettings, ...settings };
}

let versionCounter = 0;

/** A route table listing every balancer its routes (and their canaries) name; `settings` per balancer id. */
export function routeTable(virtualHosts: VirtualHost[], defaultRoute: Route | null = null, settings: Readonly<Record<string, Partial<BalancerSettings>>> = {}): RouteTable {
  const ids = new Set<string>();
  const add = (r: Route): void => {
    ids.add(r.balancer);
    if (r.canary !== null) ids.add(r.canary.balancer);
  };
  for (const vh of virtualHosts) {
    for (const r of vh.routes) add(r);
    if (vh.fallback !== null) add(vh.fallback);
  }
  if (defaultRoute !== null) add(defaultRoute);
  return deepFreeze({ version: `r${++versionCounter}`, virtualHosts, defaultRoute, balancers: [...ids].sort().map((id) => balancerConfig(id, settings[id])) });
}

export function member(port: number, ready = true, address = "127.0.0.1", overrides: Partial<Member> = {}): Member {
  return { key: `${address}:${port}`, address, port, route: `pod-${port}`, zone: null, ready, standby: false, lbset: 0, ...overrides };
}

export function endpointTable(entries: Record<string, Member[]>): EndpointTable {
  const balancers = Object.keys(entries)
    .sort()
    .map((balancer) => ({ balancer, members: [...(entries[balancer] ?? [])].sort((a, b) => a.key.localeCompare(b.key)) }));
  return deepFreeze({ version: `e${++versionCounter}`, balancers });
}

export { nextSeq, type Arrival, type Upstream, type UpstreamHandler } from "../support/upstream.js";

/** Default upstream: drains the body and answers JSON with its name, the URL, headers and body length. */
export const echo: UpstreamHandler = (req, res, name) => {
  let size = 0;
  req.on("data", (c: Buffer) => (size += c.length));
  req.on("end", () => {
    const body = JSON.stringify({ member: name, url: req.url, headers: req.headers, bodyBytes: size });
    res.writeHead(200, { "content-type": "application/json", "x-member": name });
    res.end(body);
  });
};

/** A recording upstream on 127.0.0.1 answering with `echo` unless told otherwise. */
export function startUpstream(name: string, handler: UpstreamHandler = echo): Promise<Upstream> {
  return startRecordingUpstream(name, handler);
}

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly body: Buffer;
}

export interface RequestSpec {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: Buffer | string | Buffer[];
  /** Send the body chunked (no content-length). */
  readonly chunked?: boolean;
  /** A keep-alive agent; default a fresh connection per request. */
  readonly agent?: Agent;
}

/** One request on a fresh connection (agent: false) unless `spec.agent` is given. Rejects on a socket error. */
export function send(port: number, spec: RequestSpec = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = { host: "example.com", ...spec.headers };
    const body = spec.body;
    const req = httpRequest({ host: "127.0.0.1", port, method: spec.method ?? "GET", path: spec.path ?? "/", headers, agent: spec.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body === undefined) req.end();
    else if (Array.isArray(body)) {
      for (const part of body) req.write(part);
      req.end();
    } else {
      if (spec.chunked !== true && !("content-length" in headers)) req.setHeader("content-length", Buffer.byteLength(body));
      req.end(body);
    }
  });
}

export function json(reply: Reply): { member: string; url: string; headers: IncomingHttpHeaders; bodyBytes: number } {
  return JSON.parse(reply.body.toString("utf8")) as { member: string; url: string; headers: IncomingHttpHeaders; bodyBytes: number };
}

/**
 * A listener whose connects hang: a server in a SIGSTOPped child process with a backlog of 1,
 * filled up, so the kernel drops further SYNs (loopback only). For connect-timeout tests.
 */
export async function startStuckListener(): Promise<{ port: number; close(): void }> {
  const child = spawn(
    process.execPath,
    ["-e", "require('net').createServer().listen({port:0,host:'127.0.0.1',backlog:1},function(){process.stdout.write(String(this.address().port)+'\\n')})"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const port = await new Promise<number>((resolve) => child.stdout?.once("data", (d: Buffer) => resolve(Number(d.toString().trim()))));
  child.kill("SIGSTOP");
  const fillers: Socket[] = [];
  for (let i = 0; i < 8; i++) {
    const s = connect({ host: "127.0.0.1", port });
    s.on("error", () => {});
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 100));
  return {
    port,
    close: () => {
      for (const s of fillers) s.destroy();
      child.kill("SIGKILL");
    },
  };
}
