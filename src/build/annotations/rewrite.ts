// Path rewriting and redirect annotations (issues #5, #6).
import { notImplementedFamily, plannedDoc } from "./family.js";

export const rewriteFamily = notImplementedFamily("rewrite", "issues #5/#6", [
  plannedDoc("rewrite-target", "path", "none", "path that replaces the matched Prefix (ProxyPass /a/ http://b/x/)"),
  plannedDoc("proxy-pass-reverse", '"true" / "false"', "true when rewrite-target is set", "rewrite Location and cookie paths back (ProxyPassReverse)"),
  plannedDoc("app-root", "path", "none", "path that / redirects to"),
]);
