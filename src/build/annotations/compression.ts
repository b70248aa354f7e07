// Response body annotations (issue #6): `compression` (httpd SetOutputFilter DEFLATE; ingress-nginx
// use-gzip/enable-brotli). Same family name as body.ts ("body"), in its own module so the request
// side (max-body-size) and the response side are owned separately. Which types and sizes are
// compressed are server settings (`compression-types`, `compression-min-size`: server-settings.ts).
import { z } from "zod";
import { notImplementedFamily, parseWithSchema, plannedDoc, type AnnotationDoc, type AnnotationFamily, type Annotations, type AnnotationParse } from "./family.js";

export interface CompressionValue {
  readonly compression: boolean;
}

export const compressionKey = "proxypass.io/compression";
export const compressionKeys: ReadonlyArray<string> = [compressionKey];

export const compressionSchema = z
  .object({ [compressionKey]: z.enum(["true", "false"], 'must be "true" or "false"').default("false") })
  .transform((v): CompressionValue => ({ compression: v[compressionKey] === "true" }));

export const defaultCompression: CompressionValue = Object.freeze({ compression: false });

export const compressionDocs: ReadonlyArray<AnnotationDoc> = [
  {
    key: compressionKey,
    values: '"true" / "false"',
    default: "false",
    description: "compress responses with zstd, br or gzip by Accept-Encoding q-values, for compression-types above compression-min-size (SetOutputFilter DEFLATE)",
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

/** `custom-error-pages`: recognised, not implemented yet. */
export const errorPagesPlannedFamily = notImplementedFamily("body", "issue #6", [
  plannedDoc("custom-error-pages", "comma statuses", "none", "statuses served from the default backend or a ConfigMap page (ProxyErrorOverride)"),
]);
