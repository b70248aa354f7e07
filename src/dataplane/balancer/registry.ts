// Worker-local owner of runtime balancers, keyed by stable id. Route applies reconcile the set of
// balancers and their configs; endpoint applies reconcile members only (no route recompile).

import type { BalancerConfig, EndpointDelta, EndpointTable, RouteTable } from "../../model/index.js";
import { DEFAULT_UPSTREAM_OPTIONS, type UpstreamOptions } from "../upstream.js";
import { Balancer, type BalancerMember } from "./balancer.js";
import type { Scoreboard } from "./scoreboard.js";
import type { SlotAssignment } from "./slot-allocator.js";

export class BalancerRegistry {
  readonly board: Scoreboard;
  readonly #options: UpstreamOptions;
  readonly #ledger: Int32Array | null;
  #balancers = new Map<string, Balancer>();
  /** Removed members whose pools are closing after their in-flight requests. */
  readonly #retiring = new Map<BalancerMember, Promise<void>>();

  /** `ledger`: this worker's busy ledger (worker mode), see BusyLedger. */
  constructor(board: Scoreboard, options: UpstreamOptions = DEFAULT_UPSTREAM_OPTIONS, ledger: Int32Array | null = null) {
    this.board = board;
    this.#options = options;
    this.#ledger = ledger;
  }

  get(id: string): Balancer | undefined {
    return this.#balancers.get(id);
  }

  /** Gets or creates the balancer of `config` (used while compiling routes); updates its config. */
  ensure(config: BalancerConfig): Balancer {
    let b = this.#balancers.get(config.id);
    if (b === undefined) {
      b = new Balancer(config, this.board, this.#options, this.#ledger);
      this.#balancers.set(config.id, b);
    } else {
      b.config = config;
    }
    return b;
  }

  /** After a route table is live: retire balancers it no longer references. */
  prune(routes: RouteTable): void {
    const live = new Set<string>();
    for (const b of routes.balancers) live.add(b.id);
    for (const [id, b] of this.#balancers) {
      if (live.has(id)) continue;
      this.#balancers.delete(id);
      this.#retire(b.clear());
    }
  }

  applyEndpoints(endpoints: EndpointTable, slots: SlotAssignment): void {
    const seen = new Set<string>();
    for (let i = 0; i < endpoints.balancers.length; i++) {
      const entry = endpoints.balancers[i];
      if (entry === undefined) continue;
      const b = this.#balancers.get(entry.balancer);
      if (b === undefined) continue; // not referenced by the route table
      seen.add(entry.balancer);
      this.#retire(b.setMembers(entry, slots.balancers[i] ?? 0, slots.members[i] ?? []));
    }
    for (const [id, b] of this.#balancers) {
      if (!seen.has(id)) this.#retire(b.setMembers(null, 0, []));
    }
  }

  /** Replaces the members of the balancers a delta names; every other balancer is untouched. */
  applyDelta(delta: EndpointDelta, slots: SlotAssignment): void {
    for (let i = 0; i < delta.balancers.length; i++) {
      const entry = delta.balancers[i];
      if (entry === undefined) continue;
      const b = this.#balancers.get(entry.balancer);
      if (b === undefined) continue; // not referenced by the route table
      this.#retire(b.setMembers(entry, slots.balancers[i] ?? 0, slots.members[i] ?? []));
    }
  }

  #retire(members: BalancerMember[]): void {
    for (const m of members) {
      const closing = m.retire();
      this.#retiring.set(m, closing);
      void closing.finally(() => this.#retiring.delete(m));
    }
  }

  /** Removed members still draining (their pools close after in-flight requests). */
  get retiringCount(): number {
    return this.#retiring.size;
  }

  /** Resolves when every removed member's pool has closed. */
  async drained(): Promise<void> {
    await Promise.allSettled([...this.#retiring.values()]);
  }

  /** Shutdown: close every pool gracefully. */
  async close(): Promise<void> {
    for (const b of this.#balancers.values()) this.#retire(b.clear());
    this.#balancers.clear();
    await this.drained();
  }

  /** Shutdown after the grace period: destroy every pool, live or draining. */
  async destroy(): Promise<void> {
    const all: Array<Promise<void>> = [];
    for (const b of this.#balancers.values()) for (const m of b.clear()) all.push(m.upstream.destroy());
    this.#balancers.clear();
    for (const m of this.#retiring.keys()) all.push(m.upstream.destroy());
    await Promise.allSettled(all);
  }

  balancers(): IterableIterator<Balancer> {
    return this.#balancers.values();
  }
}
