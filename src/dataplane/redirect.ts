// Redirects to TLS (ssl-redirect, force-ssl-redirect): the https URL of a plain-HTTP request, as
// ingress-nginx builds it (`return 308 https://$redirect_host$request_uri`): the request's host
// without its port, the public https port when not 443 (ConfigMap `ssl-redirect-port`), then the
// path and query exactly as the client sent them.

/** Paths never redirected: HTTP-01 ACME challenges (cert-manager, certbot) must be answered over plain HTTP (ingress-nginx's no-tls-redirect-locations). */
export const ACME_CHALLENGE_PREFIX = "/.well-known/acme-challenge/";

/** True when a request path (with or without query) is an ACME HTTP-01 challenge. */
export function isAcmeChallenge(path: string): boolean {
  return path.startsWith(ACME_CHALLENGE_PREFIX);
}

/** `https://HOST[:PORT]PATH`; `host` is the normalised request host (no port), `portSuffix` ":8443" or "". */
export function httpsLocation(host: string, portSuffix: string, path: string): string {
  return `https://${host}${portSuffix}${path}`;
}

export const PERMANENT_REDIRECT_BODY = Buffer.from("Permanent Redirect\n", "latin1");
