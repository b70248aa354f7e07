// Readiness probes: GET over loopback with a short timeout, polled until a deadline.
import { request } from "node:http";
import { connect } from "node:net";
import { sleep } from "./procs.mjs";

/** One GET; resolves { status, bytes } or { error }. Never rejects. */
export function get(url, timeoutMs = 1000, headers = {}) {
  return new Promise((resolve) => {
    const req = request(url, { method: "GET", agent: false, timeout: timeoutMs, headers }, (res) => {
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
export async function waitFor(url, { timeoutMs, ok = (r) => r.status === 200, alive = () => true, headers = {} }) {
  const deadline = Date.now() + timeoutMs;
  let last = { error: "not tried" };
  while (Date.now() < deadline) {
    last = await get(url, 500, headers);
    if (ok(last)) return { ok: true, last };
    if (!alive()) return { ok: false, last, died: true };
    await sleep(100);
  }
  return { ok: false, last };
}

/**
 * Sends one GET with `Connection: close` on a raw socket and resolves true when the server closes
 * the connection after its response (within 2 s), else a reason. `--new-conn` measures peers with a
 * new connection per request; one that kept the connection would be measured with keep-alive.
 */
export function closesAfterResponse(url, headers = {}) {
  const u = new URL(url);
  const lines = [`GET ${u.pathname}${u.search} HTTP/1.1`, `Host: ${headers.host ?? u.host}`, "Connection: close", "", ""];
  return new Promise((resolve) => {
    const socket = connect(Number(u.port), u.hostname);
    let got = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`still open 2 s after the request; received ${got.length} bytes`);
    }, 2000);
    socket.setEncoding("latin1");
    socket.on("connect", () => socket.write(lines.join("\r\n")));
    socket.on("data", (d) => (got += d));
    socket.on("end", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(got.startsWith("HTTP/1.1 200") ? true : `closed, but the answer was ${JSON.stringify(got.slice(0, 40))}`);
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      resolve(err.message);
    });
  });
}
