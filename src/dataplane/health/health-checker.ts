// Active health checks (mod_proxy_hcheck), run once per member in the primary (WorkerPool, or a
// standalone ProxyServer): never in a worker, so a member gets one check per interval however
// many workers serve it. Results go straight into the shared scoreboard: FLAG_HC_FAIL (httpd's
// `C`) in MEMBER_FLAGS with Atomics.or/and, and the consecutive pass/fail count in
// MEMBER_HC_STREAK. Every worker's selector reads the flag, so a failed member leaves rotation in
// all of them at once.
//
// State is keyed by stable identity (balancer id + member key) and survives snapshot swaps: an
// update that leaves a member and its balancer's check settings alone keeps its timer, streak and
// flag. A settings change restarts the timer with the new settings and keeps the flag and streak
// (a failed member stays out until it passes `passes` checks of the new kind).
//
// One timer per checked member: the first check after a random jitter in [0, min(interval, 1 s)),
// then one every interval ±10%, scheduled when the previous check ends (never two at once for one
// member). A check times out after min(interval, 5 s). Timers and check sockets are unref'd.
//
// The overflow member slot 0 is shared by unrelated members: results are tracked but never
// written there (one member's failure must not take out every overflow member).

import { request as httpRequest } from "node:http";
import { connect as connectH2 } from "node:http2";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { transportFor, type UpstreamTransport } from "../upstream-transport.js";
import { probeAjpRequest, probeCping } from "../ajp/index.js";
import type { BalancerConfig, BalancerMembers, EndpointDelta, EndpointTable, HealthCheckConfig, Member, RouteTable } from "../../model/index.js";
import type { Logger } from "../../util/index.js";
import { FLAG_HC_FAIL, MEMBER_FLAGS, MEMBER_HC_STREAK, type Scoreboard, type SlotAssignment } from "../balancer/index.js";

export const HEALTH_CHECK_USER_AGENT = "proxypass-ingress-hcheck";
/** Response bodies are read and discarded up to this many bytes, then the connection is destroyed. */
export const HEALTH_CHECK_BODY_CAP = 64 * 1024;
const MAX_TIMEOUT_MS = 5_000;
const MAX_FIRST_JITTER_MS = 1_000;
const STREAK_LIMIT = 1_000_000_000;

export interface HealthCheckerOptions {
  /** The scoreboard every worker maps (the primary's). */
  readonly scoreboard: Scoreboard;
  /** Component logger ("health"). */
  readonly logger: Logger;
  /** Jitter source in [0, 1); default Math.random. */
  readonly random?: () => number;
  /** Wall clock for `lastCheckedAt`; default Date.now. */
  readonly now?: () => number;
}

/** One checked member, for the admin pages. */
export interface HealthResult {
  readonly balancer: string;
  /** Member key ("address:port"). */
  readonly member: string;
  /** false while the member carries C (failed its check). */
  readonly healthy: boolean;
  /** > 0 consecutive passes, < 0 consecutive failures, 0 before the first check. */
  readonly streak: number;
  /** Status of the last HTTP check; null for TCP checks and when no response came. */
  readonly lastStatus: number | null;
  /** Why the last check failed ("ECONNREFUSED", "timeout", "status 500 not expected"); null when it passed. */
  readonly lastError: string | null;
  /** Date.now() when the last check ended; null before the first. */
  readonly lastCheckedAt: number | null;
  /** Checks completed since the member's checks started. */
  readonly checks: number;
}

type ProbeDone = (status: number | null, error: string | null) => void;

class MemberCheck {
  readonly balancer: string;
  readonly key: string;
  address: string;
  port: number;
  hostHeader: string;
  /** The balancer's backend protocol and TLS settings: checks speak what requests speak. */
  transport: UpstreamTransport;
  config: HealthCheckConfig;
  slot: number;
  timer: NodeJS.Timeout | null = null;
  /** Cancels the check in flight; null when none is. */
  cancel: (() => void) | null = null;
  /** Bumped on every stop/restart: results of an older check are ignored. */
  token = 0;
  startedAt = 0;
  streak = 0;
  failed = false;
  lastStatus: number | null = null;
  lastError: string | null = null;
  lastCheckedAt: number | null = null;
  checks = 0;

  constructor(balancer: string, config: BalancerConfig, hc: HealthCheckConfig, m: Member, slot: number) {
    this.balancer = balancer;
    this.key = m.key;
    this.address = m.address;
    this.port = m.port;
    this.hostHeader = config.hostHeader;
    this.transport = transportFor(config, null);
    this.config = hc;
    this.slot = slot;
  }
}

/** The checks of one balancer, and what they were last reconciled against (to skip unchanged balancers). */
class BalancerChecks {
  readonly id: string;
  config: BalancerConfig;
  entry: BalancerMembers;
  memberSlots: ReadonlyArray<number>;
  members = new Map<string, MemberCheck>();

  constructor(config: BalancerConfig, entry: BalancerMembers, memberSlots: ReadonlyArray<number>) {
    this.id = config.id;
    this.config = config;
    this.entry = entry;
    this.memberSlots = memberSlots;
  }
}

export class HealthChecker {
  readonly #board: Scoreboard;
  readonly #log: Logger;
  readonly #random: () => number;
  readonly #now: () => number;
  #balancers = new Map<string, BalancerChecks>();
  /** Checked balancer configs of `#configsOf` (recomputed when the route table object changes). */
  #configs = new Map<string, BalancerConfig>();
  #configsOf: RouteTable | null = null;
  #closed = false;
  readonly #fire = (c: MemberCheck): void => this.#start(c);

  constructor(options: HealthCheckerOptions) {
    this.#board = options.scoreboard;
    this.#log = options.logger;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The full current picture after an apply: `slots` is parallel to `endpoints.balancers` and each
   * one's members. Starts, stops and restarts checks by (balancer id, member key).
   */
  update(routes: RouteTable, endpoints: EndpointTable, slots: SlotAssignment): void {
    if (this.#closed) return;
    const configs = this.#checkedConfigs(routes);
    if (configs.size === 0 && this.#balancers.size === 0) return;
    const next = new Map<string, BalancerChecks>();
    if (configs.size > 0) {
      const list = endpoints.balancers;
      for (let i = 0; i < list.length; i++) {
        const entry = list[i];
        if (entry === undefined) continue;
        const config = configs.get(entry.balancer);
        if (config === undefined || next.has(entry.balancer)) continue;
        next.set(entry.balancer, this.#reconcile(this.#balancers.get(entry.balancer) ?? null, config, entry, slots.members[i] ?? []));
      }
    }
    for (const [id, b] of this.#balancers) {
      if (!next.has(id)) this.#stopAll(b.members, null);
    }
    this.#balancers = next;
  }

  /**
   * An endpoint delta (slots parallel to `delta.balancers`): only the named balancers are
   * reconciled; every other balancer keeps its checks. `routes` is the live route table.
   */
  updateDelta(routes: RouteTable, delta: EndpointDelta, slots: SlotAssignment): void {
    if (this.#closed) return;
    const configs = this.#checkedConfigs(routes);
    for (let i = 0; i < delta.balancers.length; i++) {
      const entry = delta.balancers[i];
      if (entry === undefined) continue;
      const config = configs.get(entry.balancer);
      const prev = this.#balancers.get(entry.balancer) ?? null;
      if (config === undefined) {
        if (prev !== null) {
          this.#stopAll(prev.members, null);
          this.#balancers.delete(entry.balancer);
        }
        continue;
      }
      this.#balancers.set(entry.balancer, this.#reconcile(prev, config, entry, slots.members[i] ?? []));
    }
  }

  /** Every checked member's state. */
  *results(): Iterable<HealthResult> {
    for (const b of this.#balancers.values()) {
      for (const c of b.members.values()) {
        yield {
          balancer: c.balancer,
          member: c.key,
          healthy: !this.#isFailed(c),
          streak: c.streak,
          lastStatus: c.lastStatus,
          lastError: c.lastError,
          lastCheckedAt: c.lastCheckedAt,
          checks: c.checks,
        };
      }
    }
  }

  /** How many members are being checked. */
  get size(): number {
    let n = 0;
    for (const b of this.#balancers.values()) n += b.members.size;
    return n;
  }

  /** Stops every timer and check in flight. Scoreboard flags are left as they are (the data plane is going away). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const b of this.#balancers.values()) {
      for (const c of b.members.values()) this.#stop(c);
    }
    this.#balancers = new Map();
  }

  #checkedConfigs(routes: RouteTable): Map<string, BalancerConfig> {
    if (this.#configsOf === routes) return this.#configs;
    const configs = new Map<string, BalancerConfig>();
    for (const b of routes.balancers) if (b.healthCheck !== null) configs.set(b.id, b);
    this.#configs = configs;
    this.#configsOf = routes;
    return configs;
  }

  #reconcile(prev: BalancerChecks | null, config: BalancerConfig, entry: BalancerMembers, memberSlots: ReadonlyArray<number>): BalancerChecks {
    const hc = config.healthCheck;
    if (hc === null) throw new Error("reconcile of an unchecked balancer");
    const transport = transportFor(config, null);
    if (prev !== null && prev.config.hostHeader === config.hostHeader && transportFor(prev.config, null).key === transport.key && prev.config.healthCheck !== null && sameHealthCheck(prev.config.healthCheck, hc) && sameMembers(prev, entry, memberSlots)) {
      // Nothing relevant changed: keep everything as it runs.
      prev.config = config;
      prev.entry = entry;
      prev.memberSlots = memberSlots;
      return prev;
    }
    const b = new BalancerChecks(config, entry, memberSlots);
    const old = prev?.members ?? null;
    for (let j = 0; j < entry.members.length; j++) {
      const m = entry.members[j];
      if (m === undefined || b.members.has(m.key)) continue;
      const slot = memberSlots[j] ?? 0;
      const existing = old?.get(m.key);
      if (existing === undefined) {
        const c = new MemberCheck(config.id, config, hc, m, slot);
        this.#writeState(c);
        this.#schedule(c, this.#random() * Math.min(hc.intervalMs, MAX_FIRST_JITTER_MS));
        b.members.set(m.key, c);
        continue;
      }
      if (existing.slot !== slot) {
        // Same identity, new slot (should not happen with the allocator's stable slots): carry the state over.
        this.#clearSlot(existing.slot);
        existing.slot = slot;
        this.#writeState(existing);
      }
      if (existing.address !== m.address || existing.port !== m.port || existing.hostHeader !== config.hostHeader || existing.transport.key !== transport.key || !sameHealthCheck(existing.config, hc)) {
        this.#stop(existing);
        existing.address = m.address;
        existing.port = m.port;
        existing.hostHeader = config.hostHeader;
        existing.transport = transport;
        existing.config = hc;
        this.#schedule(existing, this.#random() * Math.min(hc.intervalMs, MAX_FIRST_JITTER_MS));
      }
      b.members.set(m.key, existing);
    }
    if (old !== null) this.#stopAll(old, b.members);
    return b;
  }

  /** Stops the checks in `members` that are not in `keep`, clearing their flag and streak. */
  #stopAll(members: Map<string, MemberCheck>, keep: Map<string, MemberCheck> | null): void {
    for (const [key, c] of members) {
      if (keep?.get(key) === c) continue;
      this.#stop(c);
      // The slot is the member's still: a removed member's slot stays quarantined (or free) until
      // after this update, and an unchecked member keeps its slot.
      this.#clearSlot(c.slot);
    }
  }

  #stop(c: MemberCheck): void {
    c.token++;
    if (c.timer !== null) {
      clearTimeout(c.timer);
      c.timer = null;
    }
    if (c.cancel !== null) {
      const cancel = c.cancel;
      c.cancel = null;
      cancel();
    }
  }

  #clearSlot(slot: number): void {
    if (slot === 0) return;
    const base = this.#board.memberBase(slot);
    Atomics.and(this.#board.words, base + MEMBER_FLAGS, ~FLAG_HC_FAIL);
    Atomics.store(this.#board.words, base + MEMBER_HC_STREAK, 0);
  }

  /** Mirrors the member's state into its slot (after a slot change or on start). */
  #writeState(c: MemberCheck): void {
    if (c.slot === 0) return;
    const base = this.#board.memberBase(c.slot);
    if (c.failed) Atomics.or(this.#board.words, base + MEMBER_FLAGS, FLAG_HC_FAIL);
    else Atomics.and(this.#board.words, base + MEMBER_FLAGS, ~FLAG_HC_FAIL);
    Atomics.store(this.#board.words, base + MEMBER_HC_STREAK, c.streak);
  }

  #isFailed(c: MemberCheck): boolean {
    if (c.slot === 0) return c.failed;
    return (this.#board.memberField(c.slot, MEMBER_FLAGS) & FLAG_HC_FAIL) !== 0;
  }

  #schedule(c: MemberCheck, delayMs: number): void {
    const timer = setTimeout(this.#fire, Math.max(0, Math.round(delayMs)), c);
    timer.unref();
    c.timer = timer;
  }

  #start(c: MemberCheck): void {
    c.timer = null;
    if (this.#closed) return;
    const token = c.token;
    const hc = c.config;
    const timeoutMs = Math.min(hc.intervalMs, MAX_TIMEOUT_MS);
    const done: ProbeDone = (status, error) => this.#done(c, token, status, error);
    c.startedAt = performance.now();
    try {
      const ajp = c.transport.ajp;
      if (ajp !== null) {
        // AJP members: TCP is CPing/CPong (httpd hcmethod=CPING); other methods are AJP requests.
        c.cancel =
          hc.method === "TCP"
            ? probeCping(c.address, c.port, timeoutMs, (error) => done(null, error))
            : probeAjpRequest(c.address, c.port, { method: hc.method, uri: hc.uri, hostHeader: c.hostHeader, userAgent: HEALTH_CHECK_USER_AGENT, settings: ajp }, timeoutMs, HEALTH_CHECK_BODY_CAP, done);
      } else c.cancel = hc.method === "TCP" ? probeTcp(c.address, c.port, timeoutMs, done) : probeHttp(c, timeoutMs, done);
    } catch (err) {
      // node:http throws synchronously on a request it cannot send (e.g. an invalid header value).
      this.#done(c, token, null, errorText(err));
    }
  }

  #done(c: MemberCheck, token: number, status: number | null, error: string | null): void {
    if (token !== c.token || this.#closed) return;
    c.cancel = null;
    this.#record(c, status, error);
    const interval = c.config.intervalMs * (0.9 + 0.2 * this.#random());
    this.#schedule(c, interval - (performance.now() - c.startedAt));
  }

  #record(c: MemberCheck, status: number | null, error: string | null): void {
    const hc = c.config;
    let reason = error;
    if (reason === null && status !== null && !isExpected(hc, status)) reason = `status ${status} not expected`;
    const passed = reason === null;
    c.checks++;
    c.lastCheckedAt = this.#now();
    c.lastStatus = status;
    c.lastError = reason;
    if (passed) c.streak = c.streak > 0 ? Math.min(c.streak + 1, STREAK_LIMIT) : 1;
    else c.streak = c.streak < 0 ? Math.max(c.streak - 1, -STREAK_LIMIT) : -1;
    const wasFailed = this.#isFailed(c);
    if (c.slot !== 0) Atomics.store(this.#board.words, this.#board.memberBase(c.slot) + MEMBER_HC_STREAK, c.streak);
    if (this.#log.isLevelEnabled("debug")) this.#log.debug({ balancer: c.balancer, member: c.key, status, reason, streak: c.streak }, "health check");
    if (!wasFailed && !passed && -c.streak >= hc.fails) {
      c.failed = true;
      if (c.slot !== 0) Atomics.or(this.#board.words, this.#board.memberBase(c.slot) + MEMBER_FLAGS, FLAG_HC_FAIL);
      this.#log.info({ balancer: c.balancer, member: c.key, reason }, "member failed its health check");
    } else if (wasFailed && passed && c.streak >= hc.passes) {
      c.failed = false;
      if (c.slot !== 0) Atomics.and(this.#board.words, this.#board.memberBase(c.slot) + MEMBER_FLAGS, ~FLAG_HC_FAIL);
      this.#log.info({ balancer: c.balancer, member: c.key, reason: status === null ? "connected" : `status ${status}` }, "member passed its health check again");
    }
  }
}

/** Same members (key, address, port) on the same slots, in the same order. */
function sameMembers(prev: BalancerChecks, entry: BalancerMembers, memberSlots: ReadonlyArray<number>): boolean {
  if (prev.entry === entry && prev.memberSlots === memberSlots) return true;
  const before = prev.entry.members;
  const after = entry.members;
  if (before.length !== after.length || memberSlots.length !== prev.memberSlots.length) return false;
  for (let j = 0; j < after.length; j++) {
    const x = before[j];
    const y = after[j];
    if (x === undefined || y === undefined) return false;
    if (x !== y && (x.key !== y.key || x.address !== y.address || x.port !== y.port)) return false;
    if (memberSlots[j] !== prev.memberSlots[j]) return false;
  }
  return true;
}

export function sameHealthCheck(a: HealthCheckConfig, b: HealthCheckConfig): boolean {
  if (a === b) return true;
  if (a.uri !== b.uri || a.method !== b.method || a.intervalMs !== b.intervalMs || a.passes !== b.passes || a.fails !== b.fails) return false;
  if (a.expect.length !== b.expect.length) return false;
  for (let i = 0; i < a.expect.length; i++) {
    const x = a.expect[i];
    const y = b.expect[i];
    if (x === undefined || y === undefined || x[0] !== y[0] || x[1] !== y[1]) return false;
  }
  return true;
}

export function isExpected(hc: HealthCheckConfig, status: number): boolean {
  for (const [low, high] of hc.expect) if (status >= low && status <= high) return true;
  return false;
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return typeof code === "string" ? code : err.message;
  }
  return String(err);
}

/** TCP check: passes once connected. Returns a cancel function; `done` is called at most once, never after cancel. */
function probeTcp(address: string, port: number, timeoutMs: number, done: ProbeDone): () => void {
  let finished = false;
  const socket = connect({ host: address, port });
  socket.unref();
  const finish = (error: string | null): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.destroy();
    done(null, error);
  };
  const timer = setTimeout(() => finish("timeout"), timeoutMs);
  timer.unref();
  socket.once("connect", () => finish(null));
  socket.on("error", (err) => finish(errorText(err)));
  return () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.destroy();
  };
}

/** HTTP/2 check (backend-protocol H2C, GRPC, GRPCS) on a fresh session: one stream, body read and discarded (capped). */
function probeH2(c: MemberCheck, timeoutMs: number, done: ProbeDone): () => void {
  let finished = false;
  let status: number | null = null;
  const t = c.transport;
  const host = c.address.includes(":") ? `[${c.address}]` : c.address;
  const session = t.tls === null ? connectH2(`http://${host}:${c.port}`) : connectH2(`https://${host}:${c.port}`, { ...t.tls, ALPNProtocols: ["h2"] });
  const finish = (error: string | null): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    session.destroy();
    done(status, error);
  };
  const timer = setTimeout(() => finish("timeout"), timeoutMs);
  timer.unref();
  session.unref();
  session.on("error", (err) => finish(errorText(err)));
  const stream = session.request({ ":method": c.config.method, ":path": c.config.uri, ":authority": c.hostHeader, "user-agent": HEALTH_CHECK_USER_AGENT }, { endStream: true });
  stream.on("error", (err) => finish(errorText(err)));
  stream.on("response", (headers) => {
    status = Number(headers[":status"] ?? 0);
  });
  let bytes = 0;
  stream.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes >= HEALTH_CHECK_BODY_CAP) finish(null);
  });
  stream.on("end", () => finish(status === null ? "stream ended without a response" : null));
  stream.on("close", () => finish(status === null ? "stream closed before a response" : null));
  return () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    session.destroy();
  };
}

/** HTTP/1.1 check on a fresh connection (over TLS for backend-protocol HTTPS): one request, body read and discarded (capped). */
function probeHttp(c: MemberCheck, timeoutMs: number, done: ProbeDone): () => void {
  if (c.transport.h2) return probeH2(c, timeoutMs, done);
  let finished = false;
  let status: number | null = null;
  const options = {
    host: c.address,
    port: c.port,
    method: c.config.method,
    path: c.config.uri,
    agent: false as const,
    headers: { host: c.hostHeader, connection: "close", "user-agent": HEALTH_CHECK_USER_AGENT },
  };
  const tls = c.transport.tls;
  const req = tls === null ? httpRequest(options) : httpsRequest({ ...options, ...tls });
  const finish = (error: string | null): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    req.destroy();
    done(status, error);
  };
  const timer = setTimeout(() => finish("timeout"), timeoutMs);
  timer.unref();
  req.on("socket", (socket) => socket.unref());
  req.on("error", (err) => finish(errorText(err)));
  req.on("response", (res) => {
    status = res.statusCode ?? 0;
    let bytes = 0;
    res.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes >= HEALTH_CHECK_BODY_CAP) finish(null);
    });
    res.on("end", () => finish(null));
    res.on("error", (err) => finish(errorText(err)));
    res.on("close", () => finish("connection closed before the response ended"));
  });
  req.end();
  return () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    req.destroy();
  };
}
