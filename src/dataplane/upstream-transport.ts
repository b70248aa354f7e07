// How the data plane talks to a balancer's members (`backend-protocol`): ONE place that turns the
// balancer's protocol and TLS settings into the undici dispatcher of a member (a per-protocol pool
// object behind the same Dispatcher interface the Forwarder's Exchange drives). Another protocol
// (AJP) adds a case to `createPool` and its flags here.
// - ajp:   AJP/1.3 (ajp/pool.ts: AjpPool speaks the same dispatch handler API); its secret, packet
//   size and ping are pool settings, part of the key.
//
// - http:  HTTP/1.1 keep-alive Pool (pipelining 1).
// - https: HTTP/1.1 over TLS; SNI = `tls.servername`; verification only with backend-tls-verify.
// - h2c, grpc: HTTP/2 cleartext with prior knowledge (undici `useH2c`), streams multiplexed on a
//   connection (pipelining = concurrent streams per connection).
// - grpcs: HTTP/2 over TLS, ALPN h2 preferred.
//
// A transport is compiled once per balancer config (Balancer keeps the same object while its
// `key` — protocol and TLS settings — is unchanged); a member's Upstream replaces its pools when the
// transport key changes (e.g. a new CA), letting the old pools finish their requests.

import { createHash } from "node:crypto";
import { Pool, type Dispatcher } from "undici";
import type { BackendProtocol, BalancerConfig } from "../model/index.js";
import { AjpPool, type AjpSettings } from "./ajp/index.js";

type TransportConfig = Pick<BalancerConfig, "protocol" | "tls"> & { readonly ajp?: BalancerConfig["ajp"] };

/** Concurrent HTTP/2 streams per upstream connection before the pool opens another. */
export const H2_STREAMS_PER_CONNECTION = 100;

export interface TlsConnectOptions {
  readonly servername: string;
  readonly rejectUnauthorized: boolean;
  readonly ca?: string;
}

export class UpstreamTransport {
  readonly protocol: BackendProtocol;
  /** Protocol and TLS settings: pools made for another key are replaced. */
  readonly key: string;
  /** HTTP/2 to the members. */
  readonly h2: boolean;
  /** gRPC semantics: `te: trailers` upstream, errors as gRPC statuses. */
  readonly grpc: boolean;
  /** TLS to the members; null = cleartext. */
  readonly tls: TlsConnectOptions | null;
  /** SNI name for undici's dispatch options (it otherwise takes the Host header); null = cleartext. */
  readonly servername: string | null;
  /** Verification is on but its CA Secret is unusable: requests are refused (502) before any connection. */
  readonly failClosed: boolean;
  /** URL scheme of the pools' origins. */
  readonly scheme: "http" | "https";
  /** AJP pool settings (`backend-protocol: AJP`); null for other protocols. */
  readonly ajp: AjpSettings | null;

  constructor(config: TransportConfig) {
    const protocol = config.protocol;
    const tls = config.tls;
    this.protocol = protocol;
    this.h2 = protocol === "h2c" || protocol === "grpc" || protocol === "grpcs";
    this.grpc = protocol === "grpc" || protocol === "grpcs";
    this.tls = tls === null ? null : tls.ca === null ? { servername: tls.servername, rejectUnauthorized: tls.verify } : { servername: tls.servername, rejectUnauthorized: tls.verify, ca: tls.ca };
    this.servername = tls === null ? null : tls.servername;
    const ajp = protocol === "ajp" ? (config.ajp ?? null) : null;
    this.ajp = ajp === null ? (protocol === "ajp" ? { packetSize: 8192, secret: null, pingMs: 0 } : null) : { packetSize: ajp.packetSize, secret: ajp.secret, pingMs: ajp.pingMs };
    // A missing CA Secret (verification on) or AJP Secret: refused (502) before any connection.
    this.failClosed = (tls !== null && tls.failClosed) || (ajp !== null && ajp.failClosed);
    this.scheme = tls === null ? "http" : "https";
    this.key = transportKey(config);
  }

  /** A new pool to one member for this protocol. `connectMs` 0 = no connect timeout. */
  createPool(address: string, port: number, connectMs: number, keepAliveTimeoutMs: number): Dispatcher {
    const host = address.includes(":") ? `[${address}]` : address;
    const origin = `${this.scheme}://${host}:${port}`;
    switch (this.protocol) {
      case "http":
        return new Pool(origin, { connect: { timeout: connectMs }, keepAliveTimeout: keepAliveTimeoutMs, pipelining: 1, allowH2: false });
      case "https":
        return new Pool(origin, { connect: { timeout: connectMs, ...this.tls }, keepAliveTimeout: keepAliveTimeoutMs, pipelining: 1, allowH2: false });
      case "h2c":
      case "grpc":
        // `useH2c` (undici >= 7.x Pool/Client option, missing from Pool's typings): prior-knowledge HTTP/2 on plain TCP.
        return new Pool(origin, { connect: { timeout: connectMs }, keepAliveTimeout: keepAliveTimeoutMs, pipelining: H2_STREAMS_PER_CONNECTION, allowH2: true, useH2c: true } as Pool.Options);
      case "ajp":
        // Not an undici Pool, but the same dispatch(options, handler) / close() / destroy() contract.
        return new AjpPool(address, port, connectMs, { keepAliveTimeoutMs, ...(this.ajp as AjpSettings) }) as unknown as Dispatcher;
      case "grpcs":
        return new Pool(origin, {
          connect: { timeout: connectMs, ...this.tls, preferH2: true } as Pool.Options["connect"],
          keepAliveTimeout: keepAliveTimeoutMs,
          pipelining: H2_STREAMS_PER_CONNECTION,
          allowH2: true,
        });
    }
  }
}

function transportKey(config: TransportConfig): string {
  const ajp = config.ajp ?? null;
  if (config.protocol === "ajp" && ajp !== null) {
    const secret = ajp.secret === null ? "-" : createHash("sha256").update(ajp.secret).digest("hex").slice(0, 16);
    return `ajp|${ajp.packetSize}|${ajp.pingMs}|${secret}|${ajp.failClosed ? "closed" : "open"}`;
  }
  const tls = config.tls;
  if (tls === null) return config.protocol;
  const ca = tls.ca === null ? "-" : createHash("sha256").update(tls.ca).digest("hex").slice(0, 16);
  return `${config.protocol}|${tls.servername}|${tls.verify ? "verify" : "no-verify"}|${ca}|${tls.failClosed ? "closed" : "open"}`;
}

/** The transport of plain HTTP/1.1 (balancers of hand-made tables, tests). */
export const HTTP_TRANSPORT = new UpstreamTransport({ protocol: "http", tls: null });

/** The transport for a balancer config: `previous` itself when its key is unchanged (pools stay). */
export function transportFor(config: TransportConfig, previous: UpstreamTransport | null): UpstreamTransport {
  if (previous !== null && previous.protocol === config.protocol && previous.key === transportKey(config)) return previous;
  if (config.protocol === "http" && config.tls === null) return HTTP_TRANSPORT;
  return new UpstreamTransport(config);
}
