// Active health-check annotations (issue #4).
import { notImplementedFamily, plannedDoc } from "./family.js";

export const healthFamily = notImplementedFamily("health", "issue #4", [
  plannedDoc("health-check-uri", "path", "none", "enables active checks of this path (httpd hcuri)"),
  plannedDoc("health-check-method", "GET, HEAD, OPTIONS, TCP", "GET", "check method (httpd hcmethod)"),
  plannedDoc("health-check-interval", "seconds", "30", "time between checks (httpd hcinterval)"),
  plannedDoc("health-check-passes", "count", "1", "passes to mark a member healthy (httpd hcpasses)"),
  plannedDoc("health-check-fails", "count", "1", "failures to mark a member unhealthy (httpd hcfails)"),
  plannedDoc("health-check-expect", "statuses and ranges, e.g. 200,204", "200-399", "statuses that pass (httpd hcexpr)"),
]);
