// Kubernetes objects stop at the border: list items carry no kind/apiVersion (watch events carry
// both), so every raw object is brought to the full JSON form of the API before the model's zod
// schemas see it. Lists and watches are read as raw JSON (never through client-node's typed
// models), so timestamps are already RFC 3339 strings.

/** Shallow copy of the raw JSON object `obj` with `apiVersion`/`kind` set ({} when it is not an object). */
export function normaliseObject(obj: unknown, apiVersion: string, kind: string): Record<string, unknown> {
  const record = obj !== null && typeof obj === "object" && !Array.isArray(obj) ? (obj as Record<string, unknown>) : {};
  return { ...record, apiVersion, kind };
}

/** RFC 3339 as the API server writes `Time`: whole seconds without fraction, else milliseconds. */
export function formatTime(date: Date): string {
  if (Number.isNaN(date.getTime())) return "";
  const iso = date.toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso;
}
