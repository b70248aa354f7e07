// balancer-manager edits: one shape for the HTML forms (httpd-like field names) and the JSON API,
// validated with zod, and the pure function that applies one to the runtime state.
import { z } from "zod";
import {
  ADMIN_FLAGS,
  normalizeFlags,
  type AdminFlag,
  type BalancerView,
  type ClearableFlag,
  type LbMethod,
  type MemberOverride,
  type RuntimeState,
} from "../model/index.js";

export type AdminEdit =
  | {
      readonly kind: "member";
      readonly balancer: string;
      readonly member: string;
      readonly set: ReadonlyArray<AdminFlag>;
      readonly clear: ReadonlyArray<AdminFlag>;
      /** Transient flags to clear now (E, C). */
      readonly reset: ReadonlyArray<ClearableFlag>;
      /** undefined = unchanged; null = back to the default (1). */
      readonly loadfactor?: number | null;
      /** undefined = unchanged; null = back to the snapshot's. */
      readonly lbset?: number | null;
    }
  | { readonly kind: "balancer"; readonly balancer: string; readonly lbmethod: LbMethod | null };

const letters = (allowed: RegExp, what: string) => z.string().regex(allowed, what).default("");
const lbmethod = z.enum(["byrequests", "bytraffic", "bybusyness", "random2"]);

/** The JSON body of a change (the forms are mapped onto it). */
export const editRequestSchema = z
  .object({
    nonce: z.string(),
    balancer: z.string().min(1).max(300),
    member: z.string().min(1).max(300).optional(),
    set: letters(/^[NDSHRI]*$/, "set: letters of N D S H R I"),
    clear: letters(/^[NDSHRIEC]*$/, "clear: letters of N D S H R I E C"),
    loadfactor: z.number().int().min(1, "loadfactor must be 1-100").max(100, "loadfactor must be 1-100").nullable().optional(),
    lbset: z.number().int().min(0, "lbset must be 0-99").max(99, "lbset must be 0-99").nullable().optional(),
    lbmethod: z.union([lbmethod, z.literal(""), z.null()]).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.member === undefined) {
      if (v.lbmethod === undefined) ctx.addIssue({ code: "custom", message: "a balancer change needs lbmethod (or name a member)" });
      if (v.set !== "" || v.clear !== "" || v.loadfactor !== undefined || v.lbset !== undefined) ctx.addIssue({ code: "custom", message: "member changes need member" });
    } else if (v.lbmethod !== undefined) {
      ctx.addIssue({ code: "custom", message: "lbmethod is a balancer change: leave out member" });
    }
    for (const f of v.set) if (v.clear.includes(f)) ctx.addIssue({ code: "custom", message: `flag ${f} both set and cleared` });
  });
export type EditRequest = z.infer<typeof editRequestSchema>;

/** Validated request -> edit; a readable error message otherwise. */
export function parseEditRequest(body: unknown): { edit: AdminEdit; nonce: string } | { error: string } {
  const parsed = editRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue?.path.join(".") ?? "";
    return { error: `${at === "" ? "" : `${at}: `}${issue?.message ?? "invalid"}` };
  }
  const v = parsed.data;
  if (v.member === undefined) return { nonce: v.nonce, edit: { kind: "balancer", balancer: v.balancer, lbmethod: v.lbmethod === "" || v.lbmethod === undefined ? null : v.lbmethod } };
  return {
    nonce: v.nonce,
    edit: {
      kind: "member",
      balancer: v.balancer,
      member: v.member,
      set: ADMIN_FLAGS.filter((f) => v.set.includes(f)),
      clear: ADMIN_FLAGS.filter((f) => v.clear.includes(f)),
      reset: (["E", "C"] as const).filter((f) => v.clear.includes(f)),
      ...(v.loadfactor !== undefined ? { loadfactor: v.loadfactor } : {}),
      ...(v.lbset !== undefined ? { lbset: v.lbset } : {}),
    },
  };
}

/**
 * Maps the page's form fields (httpd's names: `b`, `w`, `w_status_X` = 1/0, `w_clear` = E/C,
 * `w_lf`, `w_ls`, `b_lbm`; empty number = back to the default) onto the JSON request shape.
 */
export function formToRequest(form: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = { nonce: form.get("nonce") ?? "", balancer: form.get("b") ?? "" };
  const member = form.get("w");
  if (member !== null) out["member"] = member;
  let set = "";
  let clear = "";
  for (const [name, value] of form) {
    const m = /^w_status_([A-Z])$/.exec(name);
    if (m?.[1] === undefined) continue;
    if (value === "1") set += m[1];
    else if (value === "0") clear += m[1];
    else set += "?"; // refused by the schema
  }
  clear += form.getAll("w_clear").join("");
  if (set !== "") out["set"] = set;
  if (clear !== "") out["clear"] = clear;
  const number = (name: string): void => {
    const v = form.get(name);
    if (v === null) return;
    const key = name === "w_lf" ? "loadfactor" : "lbset";
    out[key] = v.trim() === "" ? null : /^\d+$/.test(v.trim()) ? Number(v.trim()) : v;
  };
  number("w_lf");
  number("w_ls");
  const lbm = form.get("b_lbm");
  if (lbm !== null) out["lbmethod"] = lbm;
  return out;
}

const NO_OVERRIDE: MemberOverride = Object.freeze({ flags: "", loadfactor: null, lbset: null });

export function memberOverrideOf(state: RuntimeState, balancer: string, member: string): MemberOverride {
  return state.balancers[balancer]?.members[member] ?? NO_OVERRIDE;
}

/**
 * Applies a member or balancer edit to the state (pure). `view` is the live balancer, used to
 * fold values equal to the defaults back into "no override" (load factor 1, the snapshot's lbset).
 */
export function applyEdit(state: RuntimeState, edit: AdminEdit, view: BalancerView | undefined): RuntimeState {
  const b = state.balancers[edit.balancer] ?? { lbmethod: null, members: {} };
  if (edit.kind === "balancer") return { balancers: { ...state.balancers, [edit.balancer]: { ...b, lbmethod: edit.lbmethod } } };
  const before = b.members[edit.member] ?? NO_OVERRIDE;
  let flags = before.flags;
  for (const f of edit.set) flags += f;
  for (const f of edit.clear) flags = flags.replaceAll(f, "");
  const snapshotLbset = view?.members.find((m) => m.key === edit.member)?.snapshotLbset;
  let loadfactor = edit.loadfactor === undefined ? before.loadfactor : edit.loadfactor;
  if (loadfactor === 1) loadfactor = null;
  let lbset = edit.lbset === undefined ? before.lbset : edit.lbset;
  if (lbset !== null && lbset === snapshotLbset) lbset = null;
  const after: MemberOverride = { flags: normalizeFlags(flags), loadfactor, lbset };
  return { balancers: { ...state.balancers, [edit.balancer]: { ...b, members: { ...b.members, [edit.member]: after } } } };
}

/** One line describing an edit, for the audit log. */
export function describeEdit(edit: AdminEdit): string {
  if (edit.kind === "balancer") return `lbmethod=${edit.lbmethod ?? "(annotation)"}`;
  const parts: string[] = [];
  if (edit.set.length > 0) parts.push(`+${edit.set.join("")}`);
  if (edit.clear.length > 0 || edit.reset.length > 0) parts.push(`-${[...edit.clear, ...edit.reset].join("")}`);
  if (edit.loadfactor !== undefined) parts.push(`loadfactor=${edit.loadfactor ?? "(default)"}`);
  if (edit.lbset !== undefined) parts.push(`lbset=${edit.lbset ?? "(snapshot)"}`);
  return parts.join(" ");
}
