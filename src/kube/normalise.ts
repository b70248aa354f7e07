// Kubernetes objects stop at the border: client-node list results carry `Date` objects and no
// kind/apiVersion (watch events carry strings and both), so every object is brought to the plain
// JSON form of the API before the model's zod schemas see it.
import type { KubernetesObject } from "@kubernetes/client-node";

/** Plain JSON copy of `obj` with `apiVersion`/`kind` set and every Date as an RFC 3339 string. */
export function normaliseObject(obj: KubernetesObject, apiVersion: string, kind: string): Record<string, unknown> {
  const text = JSON.stringify(obj, function (this: unknown, key: string, value: unknown) {
    const raw: unknown = this !== null && typeof this === "object" ? Reflect.get(this, key) : undefined;
    return raw instanceof Date ? formatTime(raw) : value;
  });
  const plain: unknown = JSON.parse(text);
  const record = plain !== null && typeof plain === "object" && !Array.isArray(plain) ? (plain as Record<string, unknown>) : {};
  return { ...record, apiVersion, kind };
}

/** RFC 3339 as the API server writes `Time`: whole seconds without fraction, else milliseconds. */
export function formatTime(date: Date): string {
  if (Number.isNaN(date.getTime())) return "";
  const iso = date.toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso;
}
