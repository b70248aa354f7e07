// Redirects to TLS (issue #5): `ssl-redirect` (on by default: plain-HTTP requests for a host that has
// TLS in some Ingress get 308 to https), `force-ssl-redirect` (redirect even without TLS, for hosts
// whose TLS ends at an external load balancer). The same keys as ingress-nginx, with its rule:
// redirect when force-ssl-redirect, or when ssl-redirect and the host has a certificate.
import { z } from "zod";
import { parseWithSchema, type AnnotationDoc, type AnnotationFamily, type AnnotationParse, type Annotations } from "./family.js";

export interface RedirectValue {
  readonly sslRedirect: boolean;
  readonly forceSslRedirect: boolean;
}

export const sslRedirectKey = "proxypass.io/ssl-redirect";
export const forceSslRedirectKey = "proxypass.io/force-ssl-redirect";
export const redirectKeys: ReadonlyArray<string> = [sslRedirectKey, forceSslRedirectKey];

const flag = z.enum(["true", "false"], 'must be "true" or "false"');

export const redirectSchema = z
  .object({ [sslRedirectKey]: flag.default("true"), [forceSslRedirectKey]: flag.default("false") })
  .transform((v): RedirectValue => ({ sslRedirect: v[sslRedirectKey] === "true", forceSslRedirect: v[forceSslRedirectKey] === "true" }));

export const defaultRedirect: RedirectValue = Object.freeze({ sslRedirect: true, forceSslRedirect: false });

export const redirectDocs: ReadonlyArray<AnnotationDoc> = [
  {
    key: sslRedirectKey,
    values: '"true" / "false"',
    default: '"true"',
    description:
      "plain-HTTP requests for a host listed in some Ingress's `spec.tls` get 308 to the same path and query on https (port: ConfigMap `ssl-redirect-port`); `\"false\"` serves them over HTTP too",
  },
  {
    key: forceSslRedirectKey,
    values: '"true" / "false"',
    default: '"false"',
    description:
      "308 to https even when the host has no TLS here (TLS ends at a load balancer in front); a request whose trusted `X-Forwarded-Proto` is already `https` is not redirected (see `--trusted-proxies`)",
  },
];

export function parseRedirect(annotations: Annotations): AnnotationParse<RedirectValue> {
  return parseWithSchema(redirectSchema, annotations, redirectKeys, defaultRedirect);
}

export const redirectFamily: AnnotationFamily<RedirectValue> = {
  name: "access",
  implemented: true,
  keys: redirectKeys,
  docs: redirectDocs,
  parse: parseRedirect,
};
