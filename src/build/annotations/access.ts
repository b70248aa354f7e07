// Access control, redirects to TLS and rate limits (issue #5); authentication is auth.ts.
import { notImplementedFamily, plannedDoc } from "./family.js";

export const accessFamily = notImplementedFamily("access", "issue #5", [
  plannedDoc("allow-cidrs", "comma CIDRs", "all", "client addresses allowed; others get 403 (Require ip)"),
  plannedDoc("deny-cidrs", "comma CIDRs", "none", "client addresses denied with 403 (Deny from)"),
  plannedDoc("ssl-redirect", '"true" / "false"', "true when the Ingress has TLS", "redirect HTTP to HTTPS"),
  plannedDoc("force-ssl-redirect", '"true" / "false"', "false", "redirect HTTP to HTTPS even without TLS in the Ingress"),
  plannedDoc("limit-rps", "requests per second", "none", "per client address per replica; over -> 429"),
  plannedDoc("limit-connections", "count", "none", "concurrent connections per client address per replica; over -> 429"),
  plannedDoc("limit-burst", "count", "none", "burst allowed above limit-rps"),
]);
