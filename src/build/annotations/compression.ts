// Response body annotations (issue #6): `compression` (httpd SetOutputFilter DEFLATE; ingress-nginx
// use-gzip/enable-brotli). Same family name as body.ts ("body"), in its own module so the request
// side (max-body-size) and the response side are owned separately. Which types and sizes are
// compressed are server settings (`compression-types`, `compression-min-size`: server-settings.ts).
import { z } from "zod";
import { parseWithSchema, type AnnotationDoc, type AnnotationFamily, type Annotations, type AnnotationParse } from "./family.js";

export interface CompressionValue {
  readonly compression: boolean;
  readonly customErrorPages: ReadonlyArray<number>;
}

export const compressionKey = "proxypass.io/compression";
export const customErrorPagesKey = "proxypass.io/custom-error-pages";
export const compressionKeys: ReadonlyArray<string> = [compressionKey, customErrorPagesKey];

const noStatuses: ReadonlyArray<number> = Object.freeze([]);

/** Comma list of statuses 400-599 -> sorted, unique; "" = none. */
const statusListSchema = z.string().transform((text, ctx): ReadonlyArray<number> => {
  // Spaces and tabs only (String.trim would accept CR/LF/VT around an item).
  const parts = text.split(",").map((p) => p.replace(/^[ \t]+|[ \t]+$/g, "")).filter((p) => p !== "");
  const out = new Set<number>();
  for (const p of parts) {
    if (!/^[45][0-9][0-9]$/.test(p)) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(p)} is not a status 400-599 (comma list, e.g. "404,503")` });
      return z.NEVER;
    }
    out.add(Number(p));
  }
  return [...out].sort((a, b) => a - b);
});

export const compressionSchema = z
  .object({
    [compressionKey]: z.enum(["true", "false"], 'must be "true" or "false"').default("false"),
    [customErrorPagesKey]: statusListSchema.default(noStatuses),
  })
  .transform((v): CompressionValue => ({ compression: v[compressionKey] === "true", customErrorPages: v[customErrorPagesKey] }));

export const defaultCompression: CompressionValue = Object.freeze({ compression: false, customErrorPages: noStatuses });

export const compressionDocs: ReadonlyArray<AnnotationDoc> = [
  {
    key: compressionKey,
    values: '"true" / "false"',
    default: "false",
    description: "compress responses with zstd, br or gzip by Accept-Encoding q-values, for compression-types above compression-min-size (SetOutputFilter DEFLATE)",
  },
  {
    key: customErrorPagesKey,
    values: 'comma statuses 400-599, e.g. "404,503"',
    default: "none",
    description: "these statuses, from members or the proxy, are answered with the ConfigMap's error-page-<status> body, status kept (ProxyErrorOverride; ingress-nginx custom-http-errors)",
  },
];

export function parseCompression(annotations: Annotations): AnnotationParse<CompressionValue> {
  return parseWithSchema(compressionSchema, annotations, compressionKeys, defaultCompression);
}

export const compressionFamily: AnnotationFamily<CompressionValue> = {
  name: "body",
  implemented: true,
  keys: compressionKeys,
  docs: compressionDocs,
  parse: parseCompression,
};
