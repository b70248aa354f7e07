// What the balancer-manager reads and edits, as plain data, so src/admin depends on model only:
// the data plane implements BalancerStateReader, a store (memory/file in src/admin, ConfigMap in
// src/kube) implements RuntimeStateStore, and cmd wires them.
//
// Runtime state = balancer-manager overrides (httpd keeps them in its shared memory and, with
// BalancerPersist On, across restarts): per member the administrative flags N D S H R I, a load
// factor (1-100) and an lbset (0-99); per balancer an lbmethod. Keyed by stable identity
// (balancer id "ns/svc:port", member key "address:port").
import { z } from "zod";
import type { BalancerConfig, LbMethod, PathType } from "./snapshot.js";

/** Flags an operator sets and clears (the state persists). */
export const ADMIN_FLAGS = ["N", "D", "S", "H", "R", "I"] as const;
export type AdminFlag = (typeof ADMIN_FLAGS)[number];
/** Transient flags an operator may only clear, on the replica that shows them (E: error window, C: health check). */
export const CLEARABLE_FLAGS = ["E", "C"] as const;
export type ClearableFlag = (typeof CLEARABLE_FLAGS)[number];
export const LB_METHODS: ReadonlyArray<LbMethod> = ["byrequests", "bytraffic", "bybusyness", "random2"];

export interface MemberOverride {
  /** Set flags, a sorted subset of "DHINRS" letters (in ADMIN_FLAGS order); "" = none. */
  readonly flags: string;
  /** 1-100; null = the default (1). */
  readonly loadfactor: number | null;
  /** 0-99; null = the snapshot's lbset. */
  readonly lbset: number | null;
}

export interface BalancerOverride {
  /** null = the snapshot's (annotation) lbmethod. */
  readonly lbmethod: LbMethod | null;
  readonly members: Readonly<Record<string, MemberOverride>>;
}

export interface RuntimeState {
  readonly balancers: Readonly<Record<string, BalancerOverride>>;
}

export const emptyRuntimeState: RuntimeState = Object.freeze({ balancers: Object.freeze({}) });

const flagString = z
  .string()
  .regex(/^[NDSHRI]*$/, "flags are letters of N D S H R I")
  .transform((v) => normalizeFlags(v));
const memberOverrideSchema = z.object({
  flags: flagString.default(""),
  loadfactor: z.number().int().min(1).max(100).nullable().default(null),
  lbset: z.number().int().min(0).max(99).nullable().default(null),
});
const balancerOverrideSchema = z.object({
  lbmethod: z.enum(["byrequests", "bytraffic", "bybusyness", "random2"]).nullable().default(null),
  members: z.record(z.string().min(1).max(300), memberOverrideSchema).default({}),
});
/** The persisted form (state file, ConfigMap key `state.json`). */
export const runtimeStateSchema = z.object({ balancers: z.record(z.string().min(1).max(300), balancerOverrideSchema).default({}) });

/** Sorted, de-duplicated flag letters (ADMIN_FLAGS order). */
export function normalizeFlags(letters: string): string {
  return ADMIN_FLAGS.filter((f) => letters.includes(f)).join("");
}

/** Parses persisted JSON text; throws a readable Error when it is not valid. */
export function parseRuntimeState(text: string): RuntimeState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const parsed = runtimeStateSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid runtime state at ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`);
  }
  return compactRuntimeState(parsed.data);
}

/** Drops empty overrides and sorts keys, so equal states serialize equally. */
export function compactRuntimeState(state: RuntimeState): RuntimeState {
  const balancers: Record<string, BalancerOverride> = {};
  for (const id of Object.keys(state.balancers).sort()) {
    const b = state.balancers[id];
    if (b === undefined) continue;
    const members: Record<string, MemberOverride> = {};
    for (const key of Object.keys(b.members).sort()) {
      const m = b.members[key];
      if (m === undefined || (m.flags === "" && m.loadfactor === null && m.lbset === null)) continue;
      members[key] = { flags: normalizeFlags(m.flags), loadfactor: m.loadfactor, lbset: m.lbset };
    }
    if (b.lbmethod === null && Object.keys(members).length === 0) continue;
    balancers[id] = { lbmethod: b.lbmethod, members };
  }
  return { balancers };
}

/** JSON text of a state (stable: compacted and sorted). */
export function serializeRuntimeState(state: RuntimeState): string {
  return `${JSON.stringify(compactRuntimeState(state), null, 2)}\n`;
}

/** Where balancer-manager overrides live: memory, a state file, or a ConfigMap shared by replicas. */
export interface RuntimeStateStore {
  /** The state as last loaded or written. */
  current(): RuntimeState;
  /**
   * Applies `edit` to the latest state and persists the result. With a shared store the edit may run
   * more than once (re-read after a conflict): it must be a pure function of its argument.
   */
  update(edit: (state: RuntimeState) => RuntimeState): Promise<RuntimeState>;
  /** Called with every new state (own writes and, with a shared store, other replicas'). Returns an unsubscribe. */
  subscribe(listener: (state: RuntimeState) => void): () => void;
  close(): Promise<void>;
}

/** Where a route sends requests to a balancer (for the page). */
export interface BalancerRouteView {
  readonly ingress: string;
  /** "" = any host. */
  readonly host: string;
  readonly path: string;
  readonly pathType: PathType;
}

export interface CanaryView extends BalancerRouteView {
  /** The primary route's balancer. */
  readonly primary: string;
  readonly weight: number;
  readonly byHeader: string | null;
  readonly byCookie: string | null;
}

export interface MemberHealthView {
  readonly healthy: boolean;
  readonly streak: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly lastCheckedAt: number | null;
  readonly checks: number;
}

export interface MemberView {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  /** Sticky route (pod name). */
  readonly route: string;
  readonly zone: string | null;
  /** false: serving and terminating (drains). */
  readonly ready: boolean;
  /** A hot-standby Service member (H by the snapshot). */
  readonly standby: boolean;
  /** Effective lbset (override, else the snapshot's). */
  readonly lbset: number;
  readonly snapshotLbset: number;
  /** Effective load factor (1-100). */
  readonly loadfactor: number;
  /** State letters currently set in the scoreboard, in "NDSHRIEC" order; "" = Ok. */
  readonly flags: string;
  readonly elected: number;
  readonly busy: number;
  /** Bytes sent to the member. */
  readonly sent: number;
  /** Bytes read from the member. */
  readonly read: number;
  /** Times put in error state. */
  readonly errors: number;
  /** Last active health check; null when the balancer has no checks. */
  readonly health: MemberHealthView | null;
}

export interface BalancerView {
  readonly id: string;
  readonly config: BalancerConfig;
  /** lbmethod in effect (override, else config.lbmethod). */
  readonly lbmethod: LbMethod;
  readonly lbmethodOverridden: boolean;
  readonly routes: ReadonlyArray<BalancerRouteView>;
  /** Canary splits whose canary side is this balancer. */
  readonly canaries: ReadonlyArray<CanaryView>;
  readonly members: ReadonlyArray<MemberView>;
}

/** Read-only view of the live balancers, plus the one direct action on transient state. */
export interface BalancerStateReader {
  /** Live balancers sorted by id; null before the first snapshot. */
  balancers(): ReadonlyArray<BalancerView> | null;
  /** Clears E and/or C of a member in the scoreboard (C comes back if its health check still fails). Returns false when the member is unknown. */
  clearFlags(balancer: string, member: string, flags: ReadonlyArray<ClearableFlag>): boolean;
}

/** One data-plane worker's totals, as server-status shows them (read from its shared stats region). */
export interface WorkerStatusView {
  readonly id: number;
  /** False while the worker is (re)starting. */
  readonly running: boolean;
  /** Requests finished since the controller started (kept across a worker's respawn). */
  readonly accesses: number;
  /** Response body bytes sent to clients. */
  readonly bytesOut: number;
  /** Request body bytes received (Content-Length). */
  readonly bytesIn: number;
  /** Sum of request durations, ms. */
  readonly durationMs: number;
  /** Requests in flight. */
  readonly busy: number;
  /** Open client connections. */
  readonly connections: number;
  /** Route tables, endpoint tables and deltas this worker applied. */
  readonly generation: number;
  /** Date.now() of its last apply; 0 = none. */
  readonly lastSwapAt: number;
  /** Date.now() when it (last) started. */
  readonly startedAt: number;
}

/** What one publish to the data plane took (control's onPublish hook; the metrics of config swaps). */
export interface PublishTiming {
  /** "routes": a route table (full build); "endpoints": an endpoint table (full build); "delta": the endpoint fast lane. */
  readonly kind: "routes" | "endpoints" | "delta";
  /** Building the snapshot (full build) or resolving the changed balancers' members (delta), seconds. */
  readonly buildSeconds: number;
  /** From handing it to the data plane until every worker runs it, seconds. */
  readonly swapSeconds: number;
  /** From the first change (source event) it includes until it is live in every worker, seconds; null for a publish no change started (the first one). */
  readonly convergenceSeconds: number | null;
}
