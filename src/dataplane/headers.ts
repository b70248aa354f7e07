// Header handling on the hot path: hop-by-hop removal (RFC 9110 §7.6.1, plus names listed in
// Connection), compiled httpd-style header rules (RequestHeader/Header set|add|append|unset),
// and the X-Forwarded-* set. Headers travel as flat arrays [name, value, name, value, ...]
// with lower-case names: undici accepts them for requests, ServerResponse.writeHead for responses.

import type { HeaderRule } from "../model/index.js";

/** Hop-by-hop headers, never forwarded in either direction. `expect` is answered locally (undici rejects it). */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "proxy-authenticate",
  "proxy-authorization",
  "http2-settings",
  "expect",
]);

export function isHopByHop(lowerName: string): boolean {
  return HOP_BY_HOP.has(lowerName);
}

/**
 * Names listed in a Connection header value, lower-case, minus the common `keep-alive`/`close`
 * options (already hop-by-hop). Returns null when there is nothing extra to remove (common case,
 * no allocation).
 */
export function connectionTokens(value: string): string[] | null {
  const lower = value.toLowerCase();
  if (lower === "keep-alive" || lower === "close" || lower === "") return null;
  let out: string[] | null = null;
  let start = 0;
  for (let i = 0; i <= lower.length; i++) {
    if (i === lower.length || lower.charCodeAt(i) === 44 /* , */) {
      const token = lower.slice(start, i).trim();
      if (token !== "" && token !== "keep-alive" && token !== "close") {
        if (out === null) out = [];
        out.push(token);
      }
      start = i + 1;
    }
  }
  return out;
}

/** Removes every pair whose name is in `names` from a flat header array, in place. */
export function removeNames(flat: string[], names: ReadonlyArray<string>): void {
  let w = 0;
  for (let r = 0; r < flat.length; r += 2) {
    const name = flat[r] ?? "";
    if (names.includes(name)) continue;
    if (w !== r) {
      flat[w] = name;
      flat[w + 1] = flat[r + 1] ?? "";
    }
    w += 2;
  }
  flat.length = w;
}

const OP_SET = 0;
const OP_ADD = 1;
const OP_APPEND = 2;
const OP_UNSET = 3;

class CompiledHeaderRule {
  readonly op: number;
  readonly name: string;
  readonly value: string;
  constructor(rule: HeaderRule) {
    this.op = rule.op === "set" ? OP_SET : rule.op === "add" ? OP_ADD : rule.op === "append" ? OP_APPEND : OP_UNSET;
    this.name = rule.name.toLowerCase();
    this.value = rule.value;
  }
}

/** A route's header rules, compiled once per snapshot and applied in order to a flat header array. */
export class HeaderRules {
  readonly #rules: ReadonlyArray<CompiledHeaderRule>;

  constructor(rules: ReadonlyArray<HeaderRule>) {
    this.#rules = rules.map((r) => new CompiledHeaderRule(r));
  }

  /** null when there are no rules, so the hot path checks `!== null` and skips. */
  static compile(rules: ReadonlyArray<HeaderRule>): HeaderRules | null {
    return rules.length === 0 ? null : new HeaderRules(rules);
  }

  apply(flat: string[]): void {
    for (let i = 0; i < this.#rules.length; i++) {
      const rule = this.#rules[i];
      if (rule === undefined) continue;
      switch (rule.op) {
        case OP_SET:
          removeName(flat, rule.name);
          flat.push(rule.name, rule.value);
          break;
        case OP_ADD:
          flat.push(rule.name, rule.value);
          break;
        case OP_APPEND: {
          const at = indexOfName(flat, rule.name);
          if (at === -1) flat.push(rule.name, rule.value);
          else flat[at + 1] = `${flat[at + 1] ?? ""}, ${rule.value}`;
          break;
        }
        default:
          removeName(flat, rule.name);
      }
    }
  }
}

function indexOfName(flat: ReadonlyArray<string>, name: string): number {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return i;
  return -1;
}

function removeName(flat: string[], name: string): void {
  if (indexOfName(flat, name) === -1) return;
  let w = 0;
  for (let r = 0; r < flat.length; r += 2) {
    const n = flat[r] ?? "";
    if (n === name) continue;
    if (w !== r) {
      flat[w] = n;
      flat[w + 1] = flat[r + 1] ?? "";
    }
    w += 2;
  }
  flat.length = w;
}
