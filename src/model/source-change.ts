// What a source says about a change when it tells control: enough to choose between the
// endpoint fast lane (only EndpointSlices of known Services changed) and a full rebuild.

export type SourceChange =
  /** EndpointSlices changed, and nothing else: the Services ("ns/name") they belong to. */
  | { readonly type: "endpoints"; readonly services: ReadonlyArray<string> }
  /** Anything else (or unknown): rebuild everything. `kind` is for logs. */
  | { readonly type: "full"; readonly kind: string };

/** The change a source reports when it cannot say more (files, relists). */
export const fullChange: SourceChange = Object.freeze({ type: "full", kind: "unknown" });
