// Readiness probes: GET over loopback with a short timeout, polled until a deadline.
import { request } from "node:http";
import { sleep } from "./procs.mjs";

/** One GET; resolves { status, bytes } or { error }. Never rejects. */
export function get(url, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = request(url, { method: "GET", agent: false, timeout: timeoutMs }, (res) => {
      let bytes = 0;
      res.on("data", (c) => (bytes += c.length));
      res.on("end", () => resolve({ status: res.statusCode, bytes }));
      res.on("error", (err) => resolve({ error: err.message }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve({ error: err.message }));
    req.end();
  });
}

/**
 * Poll `url` until `ok(result)` or the deadline. `alive()` false stops early (the process died).
 * @returns the last result and whether it passed
 */
export async function waitFor(url, { timeoutMs, ok = (r) => r.status === 200, alive = () => true }) {
  const deadline = Date.now() + timeoutMs;
  let last = { error: "not tried" };
  while (Date.now() < deadline) {
    last = await get(url, 500);
    if (ok(last)) return { ok: true, last };
    if (!alive()) return { ok: false, last, died: true };
    await sleep(100);
  }
  return { ok: false, last };
}
