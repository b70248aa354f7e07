// Request/response body annotations (issues #5, #6).
import { notImplementedFamily, plannedDoc } from "./family.js";

export const bodyFamily = notImplementedFamily("body", "issues #5/#6", [
  plannedDoc("max-body-size", "bytes, k/m suffixes", "none", "larger request bodies -> 413 (LimitRequestBody)"),
  plannedDoc("compression", '"true" / "false"', "false", "br/gzip by Accept-Encoding (SetOutputFilter DEFLATE)"),
  plannedDoc("custom-error-pages", "comma statuses", "none", "statuses served from the default backend or a ConfigMap page (ProxyErrorOverride)"),
]);
