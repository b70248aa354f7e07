// Response body annotations (issue #6): `compression` (httpd SetOutputFilter DEFLATE; ingress-nginx
// use-gzip/enable-brotli). Same family name as body.ts ("body"), in its own module so the request
// side (max-body-size) and the response side are owned separately. Which types and sizes are
// compressed are server settings (`compression-types`, `compression-min-size`: server-settings.ts).
import { z } from "zod";
import { parseWithSchema, type AnnotationDoc, type AnnotationFamily, type Annotations, type AnnotationParse } from "./family.js";

export interface CompressionValue {
  readonly compression: boolean;
  readonly customErrorPages: ReadonlyArray<number>;
  /** `custom-error-backend`: "SERVICE:PORT" (the Ingress's namespace) or "NAMESPACE/SERVICE:PORT" (ConfigMap only); null = none. */
  readonly customErrorBackend: string | null;
}

export const compressionKey = "proxypass.io/compression";
export const customErrorPagesKey = "proxypass.io/custom-error-pages";
export const customErrorBackendKey = "proxypass.io/custom-error-backend";
export const compressionKeys: ReadonlyArray<string> = [compressionKey, customErrorPagesKey, customErrorBackendKey];

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** `[NAMESPACE/]SERVICE:PORT` (port number or name) -> the same text, checked. */
const errorBackendSchema = z.string().transform((text, ctx): string => {
  const m = /^(?:([^/:]*)\/)?([^/:]*):([^/:]*)$/.exec(text);
  let reason: string | null = null;
  if (m === null) reason = 'must be SERVICE:PORT (a Service of the Ingress\'s namespace and its port number or name, e.g. "error-pages:80"), or NAMESPACE/SERVICE:PORT in the ConfigMap';
  else {
    const [, namespace, service = "", port = ""] = m;
    if (namespace !== undefined && (namespace.length > 63 || !dns1123Label.test(namespace))) reason = `namespace ${JSON.stringify(namespace)} is not a DNS-1123 label`;
    else if (service.length > 63 || !dns1035Label.test(service)) reason = `Service name ${JSON.stringify(service)} is not a DNS-1035 label`;
    else if (/^[0-9]+$/.test(port)) {
      if (port.length > 5 || Number(port) < 1 || Number(port) > 65535 || port.startsWith("0")) reason = `port ${port} is not from 1 to 65535`;
    } else if (port.length > 15 || !dns1123Label.test(port) || !/[a-z]/.test(port) || port.includes("--")) reason = `port ${JSON.stringify(port)} is neither a number nor a port name`;
  }
  if (reason === null) return text;
  ctx.addIssue({ code: "custom", message: reason });
  return z.NEVER;
});

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
    [customErrorBackendKey]: errorBackendSchema.optional(),
  })
  .transform((v): CompressionValue => ({ compression: v[compressionKey] === "true", customErrorPages: v[customErrorPagesKey], customErrorBackend: v[customErrorBackendKey] ?? null }));

export const defaultCompression: CompressionValue = Object.freeze({ compression: false, customErrorPages: noStatuses, customErrorBackend: null });

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
    description: "these statuses, from members or the proxy, are answered with the body of custom-error-backend, else the ConfigMap's error-page-<status>, status kept (ProxyErrorOverride; ingress-nginx custom-http-errors); not for HEAD, upgrades or gRPC; see Custom error pages",
  },
  {
    key: customErrorBackendKey,
    values: "SERVICE:PORT (port number or name); NAMESPACE/SERVICE:PORT only in the ConfigMap",
    default: "none",
    description: "Service asked for the body of a custom-error-pages status (GET with X-Code, X-Format, X-Original-URI, X-Namespace, X-Ingress-Name, X-Service-Name, X-Service-Port, X-Request-ID; ingress-nginx default-backend); its failure falls back to the ConfigMap page, then the built-in one",
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
