/** Label and field selectors, parsed the way kube-apiserver reads the query parameters. */
import { stringAt } from "./json.js";
import type { ResourceType } from "./resources.js";
import { KubeApiError } from "./status.js";

export type LabelRequirement =
  | { readonly op: "exists" | "notexists"; readonly key: string }
  | { readonly op: "in" | "notin"; readonly key: string; readonly values: readonly string[] };

export type Labels = Readonly<Record<string, string>>;


/** Splits on commas that are not inside parentheses. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms.map((t) => t.trim()).filter((t) => t !== "");
}

const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function badLabel(term: string, why: string): KubeApiError {
  return new KubeApiError("BadRequest", `unable to parse requirement: ${why}: ${JSON.stringify(term)}`);
}

function checkKey(key: string, term: string): string {
  if (!KEY.test(key)) throw badLabel(term, "invalid label key");
  return key;
}

function checkValue(value: string, term: string): string {
  if (!VALUE.test(value) || value.length > 63) throw badLabel(term, "invalid label value");
  return value;
}

/** Parses `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`, comma-joined (AND). */
export function parseLabelSelector(text: string): LabelRequirement[] {
  const out: LabelRequirement[] = [];
  for (const term of splitTerms(text)) {
    const set = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
    if (set) {
      const [, key = "", op, list = ""] = set;
      const values = list
        .split(",")
        .map((v) => v.trim())
        .filter((v) => v !== "")
        .map((v) => checkValue(v, term));
      if (values.length === 0) throw badLabel(term, "for 'in', 'notin' operators, values set can't be empty");
      out.push({ op: op === "in" ? "in" : "notin", key: checkKey(key, term), values });
      continue;
    }
    const eq = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (eq) {
      const [, key = "", op, value = ""] = eq;
      out.push({ op: op === "!=" ? "notin" : "in", key: checkKey(key, term), values: [checkValue(value, term)] });
      continue;
    }
    if (term.startsWith("!")) {
      out.push({ op: "notexists", key: checkKey(term.slice(1).trim(), term) });
      continue;
    }
    out.push({ op: "exists", key: checkKey(term, term) });
  }
  return out;
}

export function matchesLabels(requirements: readonly LabelRequirement[], labels: Labels): boolean {
  return requirements.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    switch (r.op) {
      case "exists":
        return has;
      case "notexists":
        return !has;
      case "in":
        return has && r.values.includes(labels[r.key] ?? "");
      case "notin":
        return !has || !r.values.includes(labels[r.key] ?? "");
    }
  });
}

export interface FieldRequirement {
  readonly field: string;
  readonly value: string;
  readonly negate: boolean;
}

/** Parses `metadata.name=x`, `type==y`, `metadata.namespace!=z`; only fields the resource supports. */
export function parseFieldSelector(text: string, resource: ResourceType): FieldRequirement[] {
  const out: FieldRequirement[] = [];
  for (const term of splitTerms(text)) {
    const m = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new KubeApiError("BadRequest", `invalid selector: '${text}'; can't understand '${term}'`);
    const [, field = "", op, value = ""] = m;
    const supported = field === "metadata.name" || field === "metadata.namespace" || resource.fieldLabels.includes(field);
    if (!supported) throw new KubeApiError("BadRequest", `field label not supported: ${field}`);
    out.push({ field, value, negate: op === "!=" });
  }
  return out;
}

export function matchesFields(requirements: readonly FieldRequirement[], object: unknown): boolean {
  return requirements.every((r) => ((stringAt(object, r.field) ?? "") === r.value) !== r.negate);
}
