// httpd's balancer-manager for the admin listener: GET shows the page (or `?json`), POST changes
// member flags, load factor, lbset or a balancer's lbmethod. Access control, nonce and origin are
// checked by the AdminServer before a request gets here. Persistent edits go through the
// RuntimeStateStore (memory, file or ConfigMap), whose subscribers write the scoreboard; clearing E
// or C acts on this replica's scoreboard directly. Every change is one audit line at info.
//
// Overrides for members (or balancers) that are no longer live are garbage-collected once they
// have been absent for `gcAfterMs` (10 minutes): long enough that a rollout or an Ingress edit
// that briefly removes a member does not forget an operator's drain.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { BalancerStateReader, BalancerView, RuntimeState, RuntimeStateStore } from "../model/index.js";
import type { Logger } from "../util/index.js";
import type { AdminAccess } from "./access.js";
import { applyEdit, describeEdit, formToRequest, memberOverrideOf, parseEditRequest, type AdminEdit } from "./balancer-edit.js";
import { renderBalancerManager } from "./balancer-manager-page.js";

export const BALANCER_MANAGER_PATH = "/balancer-manager";
const MAX_BODY = 64 * 1024;
const DEFAULT_GC_AFTER_MS = 10 * 60_000;

export interface BalancerManagerOptions {
  readonly reader: BalancerStateReader;
  readonly store: RuntimeStateStore;
  readonly access: AdminAccess;
  readonly logger: Logger;
  /** Shown on the page: where edits persist ("memory", "file PATH", "ConfigMap NS/NAME"). */
  readonly persistence: string;
  /** Absent overrides are dropped after this long (default 10 min). */
  readonly gcAfterMs?: number;
  /** How often to look for absent overrides (default 60 s; 0 = never, tests call gc()). */
  readonly gcIntervalMs?: number;
  readonly now?: () => number;
}

/** Who made a change (for the audit line). */
export interface Actor {
  readonly client: string;
  readonly token: boolean;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export class BalancerManager {
  readonly #reader: BalancerStateReader;
  readonly #store: RuntimeStateStore;
  readonly #access: AdminAccess;
  readonly #log: Logger;
  readonly #persistence: string;
  readonly #gcAfterMs: number;
  readonly #now: () => number;
  /** Override identity ("balancer\0member", or "balancer\0" for the lbmethod) -> first seen absent. */
  readonly #absentSince = new Map<string, number>();
  readonly #timer: NodeJS.Timeout | null;

  constructor(options: BalancerManagerOptions) {
    this.#reader = options.reader;
    this.#store = options.store;
    this.#access = options.access;
    this.#log = options.logger;
    this.#persistence = options.persistence;
    this.#gcAfterMs = options.gcAfterMs ?? DEFAULT_GC_AFTER_MS;
    this.#now = options.now ?? Date.now;
    const every = options.gcIntervalMs ?? 60_000;
    this.#timer = every > 0 ? setInterval(() => void this.gc().catch((err: unknown) => this.#log.warn({ err }, "balancer-manager: garbage collection failed")), every) : null;
    this.#timer?.unref();
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
  }

  /** GET: the page, or `?json`. */
  serveView(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://admin");
    const balancers = this.#reader.balancers();
    if (url.searchParams.has("json")) {
      return send(res, 200, JSON.stringify({ nonce: this.#access.nonce, persistence: this.#persistence, balancers: balancers ?? [], live: balancers !== null }, null, 1), "application/json; charset=utf-8");
    }
    const html = renderBalancerManager({ balancers, nonce: this.#access.nonce, persistence: this.#persistence, action: BALANCER_MANAGER_PATH });
    send(res, 200, html, "text/html; charset=utf-8");
  }

  /** POST: a form (redirects back to the page) or JSON (answers with the balancer's new view). */
  async serveChange(req: IncomingMessage, res: ServerResponse, actor: Actor): Promise<void> {
    const type = (req.headers["content-type"] ?? "").split(";", 1)[0]?.trim().toLowerCase() ?? "";
    const json = type === "application/json";
    try {
      if (!json && type !== "application/x-www-form-urlencoded") throw new HttpError(415, "send application/json or application/x-www-form-urlencoded");
      const text = await readBody(req);
      let body: unknown;
      if (json) {
        try {
          body = JSON.parse(text);
        } catch {
          throw new HttpError(400, "body is not JSON");
        }
      } else body = formToRequest(new URLSearchParams(text));
      const parsed = parseEditRequest(body);
      // The nonce first: a forged request learns nothing about what exists.
      const nonce = typeof body === "object" && body !== null ? (body as Record<string, unknown>)["nonce"] : undefined;
      if (!this.#access.nonceMatches(nonce)) throw new HttpError(403, "missing or wrong nonce (read it from the page or ?json)");
      if ("error" in parsed) throw new HttpError(400, parsed.error);
      const view = await this.apply(parsed.edit, actor);
      if (json) return send(res, 200, JSON.stringify({ ok: true, balancer: view }, null, 1), "application/json; charset=utf-8");
      res.writeHead(303, { location: BALANCER_MANAGER_PATH, "content-length": 0, "cache-control": "no-store" });
      res.end();
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      if (status === 500) this.#log.error({ err }, "balancer-manager: change failed");
      const message = err instanceof HttpError ? err.message : "change failed; see the controller log";
      if (status === 403) this.#log.warn({ client: actor.client, reason: message }, "balancer-manager: change refused");
      if (json) send(res, status, JSON.stringify({ ok: false, error: message }), "application/json; charset=utf-8");
      else send(res, status, `${message}\n`, "text/plain; charset=utf-8");
    }
  }

  /** Applies one validated edit; returns the balancer's view afterwards. Throws HttpError(404) for an unknown target. */
  async apply(edit: AdminEdit, actor: Actor): Promise<BalancerView | undefined> {
    const view = this.#reader.balancers()?.find((b) => b.id === edit.balancer);
    if (view === undefined) throw new HttpError(404, `no live balancer ${edit.balancer}`);
    const member = edit.kind === "member" ? view.members.find((m) => m.key === edit.member) : undefined;
    if (edit.kind === "member" && member === undefined) throw new HttpError(404, `balancer ${edit.balancer} has no member ${edit.member}`);
    let before: unknown = null;
    let after: unknown = null;
    const persistent = edit.kind === "balancer" || edit.set.length > 0 || edit.clear.length > 0 || edit.loadfactor !== undefined || edit.lbset !== undefined;
    if (persistent) {
      let seen: RuntimeState | null = null;
      const state = await this.#store.update((s) => {
        seen = s;
        return applyEdit(s, edit, view);
      });
      const prior = seen ?? state;
      if (edit.kind === "balancer") {
        before = { lbmethod: prior.balancers[edit.balancer]?.lbmethod ?? null };
        after = { lbmethod: state.balancers[edit.balancer]?.lbmethod ?? null };
      } else {
        before = memberOverrideOf(prior, edit.balancer, edit.member);
        after = memberOverrideOf(state, edit.balancer, edit.member);
      }
    }
    if (edit.kind === "member" && edit.reset.length > 0) {
      const flagsBefore = member?.flags ?? "";
      this.#reader.clearFlags(edit.balancer, edit.member, edit.reset);
      const flagsAfter = this.#reader.balancers()?.find((b) => b.id === edit.balancer)?.members.find((m) => m.key === edit.member)?.flags ?? "";
      before = { ...(before as object), scoreboard: flagsBefore };
      after = { ...(after as object), scoreboard: flagsAfter };
    }
    this.#log.info(
      { audit: true, client: actor.client, token: actor.token, balancer: edit.balancer, member: edit.kind === "member" ? edit.member : undefined, change: describeEdit(edit), before, after },
      "balancer-manager change",
    );
    return this.#reader.balancers()?.find((b) => b.id === edit.balancer);
  }

  /** Drops overrides whose member (or balancer) has been absent for gcAfterMs. Returns how many were dropped. */
  async gc(): Promise<number> {
    const live = this.#reader.balancers();
    if (live === null) return 0;
    const now = this.#now();
    const present = new Set<string>();
    for (const b of live) {
      present.add(`${b.id}\u0000`);
      for (const m of b.members) present.add(`${b.id}\u0000${m.key}`);
    }
    const expired = new Set<string>();
    const named = new Set<string>();
    for (const [id, b] of Object.entries(this.#store.current().balancers)) {
      const ids = [...(b.lbmethod !== null ? [`${id}\u0000`] : []), ...Object.keys(b.members).map((k) => `${id}\u0000${k}`)];
      for (const identity of ids) {
        named.add(identity);
        if (present.has(identity)) {
          this.#absentSince.delete(identity);
          continue;
        }
        const since = this.#absentSince.get(identity);
        if (since === undefined) this.#absentSince.set(identity, now);
        else if (now - since >= this.#gcAfterMs) expired.add(identity);
      }
    }
    for (const identity of this.#absentSince.keys()) if (!named.has(identity)) this.#absentSince.delete(identity);
    if (expired.size === 0) return 0;
    await this.#store.update((s) => dropOverrides(s, expired));
    for (const identity of expired) {
      this.#absentSince.delete(identity);
      const [balancer, member] = identity.split("\u0000");
      this.#log.info({ balancer, member: member === "" ? undefined : member, absentMinutes: Math.round(this.#gcAfterMs / 60_000) }, "balancer-manager: dropped the override of a member that is gone");
    }
    return expired.size;
  }
}

function dropOverrides(state: RuntimeState, expired: ReadonlySet<string>): RuntimeState {
  const balancers: Record<string, RuntimeState["balancers"][string]> = {};
  for (const [id, b] of Object.entries(state.balancers)) {
    const members: Record<string, RuntimeState["balancers"][string]["members"][string]> = {};
    for (const [key, m] of Object.entries(b.members)) if (!expired.has(`${id}\u0000${key}`)) members[key] = m;
    balancers[id] = { lbmethod: expired.has(`${id}\u0000`) ? null : b.lbmethod, members };
  }
  return { balancers };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, "body too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: string, contentType: string): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(body);
}
