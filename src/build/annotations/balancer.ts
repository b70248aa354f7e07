// Balancer annotations (issue #4): lbmethod, sticky sessions, hot standby, canary.
import { notImplementedFamily, plannedDoc } from "./family.js";

export const balancerFamily = notImplementedFamily("balancer", "issue #4", [
  plannedDoc("lbmethod", "byrequests, bytraffic, bybusyness, random2", "byrequests", "balancing method (httpd lbmethod=)"),
  plannedDoc("sticky-session", "cookie name", "none", "sticky routes by cookie; route = endpoint's pod name (httpd stickysession=)"),
  plannedDoc("sticky-nofailover", '"true" / "false"', "false", "no failover for sticky requests (httpd nofailover=On)"),
  plannedDoc("hot-standby", "SERVICE:PORT", "none", "standby balancer used while no primary member is usable (httpd status=+H)"),
  plannedDoc("canary", '"true" / "false"', "false", "this Ingress is the canary of the same host and path"),
  plannedDoc("canary-weight", "0-100", "0", "percentage of requests sent to the canary"),
  plannedDoc("canary-by-header", "header name", "none", "header that selects the canary"),
  plannedDoc("canary-by-cookie", "cookie name", "none", "cookie that selects the canary"),
]);
