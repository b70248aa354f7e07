import { createHash } from "node:crypto";

/** JSON with object keys sorted, so equal data always serializes to equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Map)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v as Record<string, unknown>).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

/** Short content hash (first 16 hex chars of sha256 over canonical JSON). */
export function contentHash(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 16);
}

/**
 * contentHash of a value whose canonical JSON is given in parts (concatenated in order), without
 * joining them into one string: `new ContentHasher().update("[1,").update("2]").digest() === contentHash([1, 2])`.
 */
export class ContentHasher {
  readonly #hash = createHash("sha256");

  update(text: string): this {
    this.#hash.update(text);
    return this;
  }

  digest(): string {
    return this.#hash.digest("hex").slice(0, 16);
  }
}
