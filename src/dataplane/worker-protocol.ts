// Messages between the WorkerPool (main thread) and data-plane workers. Plain data only: route
// tables, endpoint tables and slot assignments are structured-cloned; the scoreboard buffer is
// shared, not copied.

import type { EndpointDelta, EndpointTable, RouteTable } from "../model/index.js";
import type { SlotAssignment } from "./balancer/index.js";
import type { AccessLogFormat, MetricJson } from "./stats/index.js";
import type { PemPair } from "./certificates.js";

export interface WorkerSnapshot {
  /** Apply sequence number (= slot generation). */
  readonly seq: number;
  readonly routes: RouteTable;
  readonly endpoints: EndpointTable;
  readonly slots: SlotAssignment;
}

export interface WorkerInit {
  readonly id: number;
  readonly buffer: SharedArrayBuffer;
  readonly port: number;
  /** TLS listener port; null = no TLS listener. */
  readonly httpsPort: number | null;
  /** Default certificate and session ticket keys, the same in every worker (made by the primary). */
  readonly tls: { readonly defaultCertificate: PemPair; readonly ticketKeys: Uint8Array } | null;
  readonly host: string;
  readonly logLevel: string;
  readonly accessLog: boolean;
  readonly exposeWorkerId: boolean;
  readonly maxHeaderSize: number;
  /** This worker's busy ledger (its share of each member slot's in-flight count), kept by the primary across respawns. */
  readonly busyLedger: SharedArrayBuffer;
  /** This worker's totals region (WorkerStats), kept by the primary across respawns and read by it for server-status. */
  readonly stats: SharedArrayBuffer;
  readonly accessLogFormat: AccessLogFormat;
  /** `--trusted-proxies` (canonical CIDRs; empty = none). */
  readonly trustedProxies: ReadonlyArray<string>;
  /** `--proxy-protocol`. */
  readonly proxyProtocol: boolean;
  /** The current snapshot (respawn, or applies made before the worker started); null = none yet. */
  readonly initial: WorkerSnapshot | null;
}

export type ToWorker =
  | { readonly type: "routes"; readonly snapshot: WorkerSnapshot }
  | { readonly type: "endpoints"; readonly seq: number; readonly endpoints: EndpointTable; readonly slots: SlotAssignment }
  /** Only the named balancers' members; `slots` is parallel to `delta.balancers`. */
  | { readonly type: "delta"; readonly seq: number; readonly delta: EndpointDelta; readonly slots: SlotAssignment }
  | { readonly type: "close"; readonly graceMs: number }
  /** Shutdown delay started: answer with Connection: close so keep-alive clients move elsewhere. */
  | { readonly type: "drain" }
  /** Scrape: answer with the worker registry's getMetricsAsJSON(). */
  | { readonly type: "metrics"; readonly id: number };

export type FromWorker =
  | { readonly type: "listening"; readonly port: number; readonly httpsPort: number | null; readonly seq: number }
  | { readonly type: "ack"; readonly seq: number }
  | { readonly type: "closed" }
  | { readonly type: "failed"; readonly message: string }
  | { readonly type: "metrics"; readonly id: number; readonly metrics: ReadonlyArray<MetricJson> };
