/** PATCH bodies: JSON merge patch (RFC 7386) and JSON Patch (RFC 6902). */
import { deepEqual, isObject, jsonClone } from "./json.js";
import { KubeApiError } from "./status.js";

export const MERGE_PATCH = "application/merge-patch+json";
export const STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json";
export const JSON_PATCH = "application/json-patch+json";
export const APPLY_PATCH = "application/apply-patch+yaml";

/** RFC 7386: objects merge recursively, `null` deletes, anything else (arrays too) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return jsonClone(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

type Container = Record<string, unknown> | unknown[];

function invalid(message: string): KubeApiError {
  return new KubeApiError("Invalid", message);
}

function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw invalid(`json patch: invalid pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split("/")
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function arrayIndex(arr: readonly unknown[], token: string, forInsert: boolean): number {
  if (forInsert && token === "-") return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw invalid(`json patch: invalid array index ${JSON.stringify(token)}`);
  const i = Number(token);
  if (i > arr.length || (!forInsert && i === arr.length)) throw invalid(`json patch: array index ${i} out of range`);
  return i;
}

/** Walks to the parent of the pointer's last token. */
function parentOf(doc: unknown, tokens: readonly string[]): { parent: Container; last: string } {
  let cur: unknown = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, token, false)];
    else if (isObject(cur) && Object.hasOwn(cur, token)) cur = cur[token];
    else throw invalid(`json patch: path not found: /${tokens.join("/")}`);
  }
  if (!Array.isArray(cur) && !isObject(cur)) throw invalid(`json patch: path not found: /${tokens.join("/")}`);
  return { parent: cur, last: tokens[tokens.length - 1] ?? "" };
}

function getAt(doc: unknown, tokens: readonly string[]): unknown {
  if (tokens.length === 0) return doc;
  const { parent, last } = parentOf(doc, tokens);
  if (Array.isArray(parent)) return parent[arrayIndex(parent, last, false)];
  if (!Object.hasOwn(parent, last)) throw invalid(`json patch: path not found: /${tokens.join("/")}`);
  return parent[last];
}

function removeAt(doc: unknown, tokens: readonly string[]): unknown {
  if (tokens.length === 0) throw invalid("json patch: cannot remove the whole document");
  const { parent, last } = parentOf(doc, tokens);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, last, false), 1)[0];
  if (!Object.hasOwn(parent, last)) throw invalid(`json patch: path not found: /${tokens.join("/")}`);
  const old = parent[last];
  delete parent[last];
  return old;
}

/** Returns the new document (the root may be replaced). */
function addAt(doc: unknown, tokens: readonly string[], value: unknown, replace: boolean): unknown {
  if (tokens.length === 0) return value;
  const { parent, last } = parentOf(doc, tokens);
  if (Array.isArray(parent)) {
    const i = arrayIndex(parent, last, !replace);
    parent.splice(i, replace ? 1 : 0, value);
  } else {
    if (replace && !Object.hasOwn(parent, last)) throw invalid(`json patch: path not found: /${tokens.join("/")}`);
    parent[last] = value;
  }
  return doc;
}

/** RFC 6902 on a copy of `target`: add, remove, replace, move, copy, test. */
export function jsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw new KubeApiError("BadRequest", "json patch: body must be an array of operations");
  let doc = jsonClone(target);
  for (const op of operations) {
    if (!isObject(op) || typeof op.op !== "string" || typeof op.path !== "string") throw new KubeApiError("BadRequest", "json patch: each operation needs op and path");
    const path = parsePointer(op.path);
    const from = typeof op.from === "string" ? parsePointer(op.from) : undefined;
    switch (op.op) {
      case "add":
        doc = addAt(doc, path, jsonClone(op.value), false);
        break;
      case "replace":
        doc = addAt(doc, path, jsonClone(op.value), true);
        break;
      case "remove":
        removeAt(doc, path);
        break;
      case "move":
        if (!from) throw new KubeApiError("BadRequest", "json patch: move needs from");
        doc = addAt(doc, path, removeAt(doc, from), false);
        break;
      case "copy":
        if (!from) throw new KubeApiError("BadRequest", "json patch: copy needs from");
        doc = addAt(doc, path, jsonClone(getAt(doc, from)), false);
        break;
      case "test":
        if (!deepEqual(getAt(doc, path), op.value)) throw invalid(`json patch: test failed at ${op.path}`);
        break;
      default:
        throw new KubeApiError("BadRequest", `json patch: unknown op ${JSON.stringify(op.op)}`);
    }
  }
  return doc;
}

/** Applies a PATCH body of the given content type; 415 for server-side apply and unknown types. */
export function applyPatch(contentType: string, target: unknown, body: unknown): unknown {
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  switch (type) {
    case MERGE_PATCH:
    case STRATEGIC_MERGE_PATCH:
      // Strategic merge is treated as a plain merge patch: lists are replaced, not merged by key.
      return mergePatch(target, body);
    case JSON_PATCH:
      return jsonPatch(target, body);
    default:
      throw new KubeApiError(
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: ${JSON_PATCH}, ${MERGE_PATCH}, ${STRATEGIC_MERGE_PATCH}`,
      );
  }
}
