// Request body annotations: max-body-size moved to perimeter.ts (issue #5); compression and error
// pages are in compression.ts (issue #6). No key is left here.
import { notImplementedFamily } from "./family.js";

export const bodyFamily = notImplementedFamily("body", "issue #5", []);
