// Access control and rate limits are perimeter.ts (issue #5); redirects to TLS are redirect.ts,
// authentication auth.ts. No key is left here.
import { notImplementedFamily } from "./family.js";

export const accessFamily = notImplementedFamily("access", "issue #5", []);
