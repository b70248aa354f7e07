// Access control and rate limits (issue #5); redirects to TLS are redirect.ts, authentication auth.ts.
import { notImplementedFamily, plannedDoc } from "./family.js";

export const accessFamily = notImplementedFamily("access", "issue #5", [
  plannedDoc("allow-cidrs", "comma CIDRs", "all", "client addresses allowed; others get 403 (Require ip)"),
  plannedDoc("deny-cidrs", "comma CIDRs", "none", "client addresses denied with 403 (Deny from)"),
  plannedDoc("limit-rps", "requests per second", "none", "per client address per replica; over -> 429"),
  plannedDoc("limit-connections", "count", "none", "concurrent connections per client address per replica; over -> 429"),
  plannedDoc("limit-burst", "count", "none", "burst allowed above limit-rps"),
]);
