// Request body annotations (issue #5). Compression and error pages (issue #6) are in compression.ts.
import { notImplementedFamily, plannedDoc } from "./family.js";

export const bodyFamily = notImplementedFamily("body", "issue #5", [plannedDoc("max-body-size", "bytes, k/m suffixes", "none", "larger request bodies -> 413 (LimitRequestBody)")]);
