// The endpoint table as the data plane runs it, kept by control for the endpoint fast lane: the
// members of every balancer and the text each one contributes to the table version (as UTF-8
// bytes, hashed as they are: no joined text, nothing to encode), so a delta re-serializes only the
// balancers it changes and the table version stays exactly what a full build of the same cluster
// gives (a full build after deltas then publishes nothing).
import type { BalancerMembers, EndpointDelta, EndpointTable, Member } from "../model/index.js";
import { balancerMembersBytes, endpointTableVersion } from "../build/index.js";

export class EndpointLedger {
  /** Balancer ids in table order (sorted). */
  #ids: ReadonlyArray<string> = [];
  #members = new Map<string, BalancerMembers>();
  #texts = new Map<string, Uint8Array>();
  #version = "";

  get version(): string {
    return this.#version;
  }

  /**
   * Adopts a table published whole (a full build); texts of balancers with equal members are kept,
   * others come from `known` (the build's own bytes of that entry) or are serialized here.
   */
  reset(table: EndpointTable, known: (entry: BalancerMembers) => Uint8Array | undefined = () => undefined): void {
    const members = new Map<string, BalancerMembers>();
    const texts = new Map<string, Uint8Array>();
    for (const b of table.balancers) {
      const prev = this.#members.get(b.balancer);
      const prevText = this.#texts.get(b.balancer);
      members.set(b.balancer, b);
      texts.set(b.balancer, prev !== undefined && prevText !== undefined && sameMembers(prev.members, b.members) ? prevText : (known(b) ?? balancerMembersBytes(b)));
    }
    this.#ids = table.balancers.map((b) => b.balancer);
    this.#members = members;
    this.#texts = texts;
    this.#version = table.version;
  }

  /**
   * Records new member lists of some balancers of the table (others are ignored) and returns the
   * delta of those whose members changed, with the new table version; null when none changed.
   */
  apply(balancers: ReadonlyArray<BalancerMembers>): EndpointDelta | null {
    const changed: BalancerMembers[] = [];
    for (const b of balancers) {
      const prev = this.#members.get(b.balancer);
      if (prev === undefined || sameMembers(prev.members, b.members)) continue;
      changed.push(b);
      this.#members.set(b.balancer, b);
      this.#texts.set(b.balancer, balancerMembersBytes(b));
    }
    if (changed.length === 0) return null;
    this.#version = endpointTableVersion(this.#texts.values());
    return { version: this.#version, balancers: changed };
  }

  /** The whole table as it is now. */
  table(): EndpointTable {
    const balancers: BalancerMembers[] = [];
    for (const id of this.#ids) {
      const b = this.#members.get(id);
      if (b !== undefined) balancers.push(b);
    }
    return { version: this.#version, balancers };
  }
}

function sameMembers(a: ReadonlyArray<Member>, b: ReadonlyArray<Member>): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined) return false;
    if (x.key !== y.key || x.address !== y.address || x.port !== y.port || x.route !== y.route || x.zone !== y.zone || x.ready !== y.ready || x.standby !== y.standby || x.lbset !== y.lbset) return false;
  }
  return true;
}
