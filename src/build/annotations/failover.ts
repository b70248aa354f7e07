// Passive failover annotations (issue #4).
import { notImplementedFamily, plannedDoc } from "./family.js";

export const failoverFamily = notImplementedFamily("failover", "issue #4", [
  plannedDoc("retry", "seconds", "60", "time a failed member stays in error state (httpd retry=)"),
  plannedDoc("max-attempts", "count", "members - 1", "failover tries on connect failure (httpd maxattempts=)"),
  plannedDoc("fail-on-status", "comma list of statuses", "none", "statuses that put a member in error (httpd failonstatus=)"),
  plannedDoc("fail-on-timeout", '"true" / "false"', "false", "a timeout puts the member in error (httpd failontimeout=)"),
]);
