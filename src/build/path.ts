// Paths of Ingress rules.
import type { PathType } from "../model/index.js";

export type PathCheck = { readonly ok: true; readonly path: string; readonly pathType: PathType } | { readonly ok: false; readonly reason: string };

/** Controls, space, DEL, and the query/fragment delimiters. */
function hasBadCharacter(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x3f || c === 0x23) return true;
  }
  return false;
}

/**
 * Checks and normalises a rule path. Absent or empty means "/". ImplementationSpecific is Prefix.
 * Prefix paths lose trailing "/" (except the root); matching is element-wise in the data plane.
 */
export function checkPath(raw: string | undefined, pathType: "Exact" | "Prefix" | "ImplementationSpecific"): PathCheck {
  const path = raw === undefined || raw === "" ? "/" : raw;
  if (!path.startsWith("/")) return { ok: false, reason: `path ${JSON.stringify(path)} must start with "/"` };
  if (hasBadCharacter(path)) return { ok: false, reason: `path ${JSON.stringify(path)} contains a space, control character, "?" or "#"` };
  if (pathType === "Exact") return { ok: true, path, pathType };
  const trimmed = path.replace(/\/+$/, "");
  return { ok: true, path: trimmed === "" ? "/" : trimmed, pathType: "Prefix" };
}
