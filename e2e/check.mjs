#!/usr/bin/env node
// e2e checker: HTTP, TLS and WebSocket assertions against the controller installed in kind,
// reached on 127.0.0.1:18080/18443 (kind-config.yaml). Called by e2e/run.sh, one check per run:
//
//   node e2e/check.mjs routing                 host and path routing, 404 for an unknown host
//   node e2e/check.mjs sticky                  ROUTEID session stays on one pod
//   node e2e/check.mjs app HOST APP [SECONDS]  every answer for HOST comes from APP (polls until then)
//   node e2e/check.mjs tls CA_FILE             TLS by SNI with the tls-e2e Secret (pending if no TLS listener)
//   node e2e/check.mjs websocket               WebSocket echo through the controller
//   node e2e/check.mjs drain ADMIN_URL         balancer-manager drain (N) of one echo member, then undo
//   node e2e/check.mjs load -- CMD ARGS...     steady load while CMD runs; fails on any non-2xx or error
//
// Exit 0: passed; 1: failed; 3: pending (the feature is not built yet; run.sh reports and goes on).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, WebSocket, request } from "undici";

const HTTP = process.env.E2E_HTTP ?? "http://127.0.0.1:18080";
const HTTPS_PORT = Number(process.env.E2E_HTTPS_PORT ?? "18443");
const PENDING = 3;

class CheckError extends Error {}
function assert(cond, message) {
  if (!cond) throw new CheckError(message);
}

/** One request on a fresh connection (no keep-alive reuse across controller restarts). */
async function get(host, path = "/", headers = {}) {
  const res = await request(`${HTTP}${path}`, { headers: { host, ...headers }, reset: true, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await res.body.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (404 page, error page)
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

async function routing() {
  const root = await get("echo.e2e.test", "/hello");
  assert(root.status === 200 && root.json?.app === "echo", `echo.e2e.test/hello -> ${root.status} ${root.text}`);
  const api = await get("echo.e2e.test", "/api/items");
  assert(api.status === 200 && api.json?.app === "api", `echo.e2e.test/api/items -> ${api.status} ${api.text}`);
  const notPrefix = await get("echo.e2e.test", "/apix");
  assert(notPrefix.status === 200 && notPrefix.json?.app === "echo", `/apix is not under the /api prefix -> ${notPrefix.text}`);
  const unknown = await get("nobody.e2e.test", "/");
  assert(unknown.status === 404, `unknown host -> ${unknown.status}, want 404`);
  const pods = new Set();
  for (let i = 0; i < 30; i++) pods.add((await get("echo.e2e.test", "/")).json?.pod);
  assert(pods.size === 3, `30 requests reached ${pods.size} echo pods, want 3 (${[...pods].join(", ")})`);
  console.log(`routing: host and path rules, 404 for unknown hosts, 3 echo pods balanced`);
}

async function sticky() {
  const first = await get("sticky.e2e.test", "/");
  assert(first.status === 200, `sticky first -> ${first.status}`);
  const cookie = [first.headers["set-cookie"]].flat().find((c) => typeof c === "string" && c.startsWith("ROUTEID="));
  assert(cookie !== undefined, `no ROUTEID cookie set: ${JSON.stringify(first.headers["set-cookie"])}`);
  const value = cookie.split(";")[0];
  const pod = first.json.pod;
  assert(value.endsWith(`.${pod}`), `cookie ${value} does not name pod ${pod}`);
  for (let i = 0; i < 20; i++) {
    const r = await get("sticky.e2e.test", "/", { cookie: value });
    assert(r.status === 200 && r.json.pod === pod, `request ${i} with ${value} went to ${r.json?.pod}`);
  }
  console.log(`sticky: 20 requests with ${value} stayed on ${pod}`);
}

async function app(host, want, seconds = "60") {
  const deadline = Date.now() + Number(seconds) * 1000;
  let last = "";
  while (Date.now() < deadline) {
    const seen = [];
    for (let i = 0; i < 10; i++) {
      const r = await get(host, "/").catch((err) => ({ status: 0, text: String(err), json: null }));
      seen.push(r.status === 200 ? r.json?.app : `status ${r.status}`);
    }
    if (seen.every((a) => a === want)) {
      console.log(`app: ${host} answered by ${want} (10 of 10)`);
      return;
    }
    last = seen.join(",");
    await sleep(1000);
  }
  throw new CheckError(`${host}: still not only ${want} after ${seconds}s (last: ${last})`);
}

async function tls(caFile) {
  const ca = readFileSync(caFile);
  const socket = await new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port: HTTPS_PORT, servername: "tls.e2e.test", ca, ALPNProtocols: ["http/1.1"] }, () => resolve(s));
    s.once("error", reject);
  }).catch((err) => err);
  if (socket instanceof Error) {
    console.log(`tls: PENDING — no TLS handshake on :${HTTPS_PORT} (${socket.code ?? socket.message}); the TLS listener comes with the TLS issue`);
    return PENDING;
  }
  const cert = socket.getPeerCertificate();
  assert(socket.authorized, `certificate not trusted: ${socket.authorizationError}`);
  assert(JSON.stringify(cert.subjectaltname ?? "").includes("tls.e2e.test"), `certificate for ${cert.subjectaltname}`);
  socket.write("GET / HTTP/1.1\r\nHost: tls.e2e.test\r\nConnection: close\r\n\r\n");
  let out = "";
  for await (const chunk of socket) out += chunk;
  assert(/^HTTP\/1\.1 200/.test(out), `https://tls.e2e.test/ -> ${out.split("\r\n")[0]}`);
  console.log("tls: SNI tls.e2e.test served the Secret's certificate and routed");
  return 0;
}

async function websocket() {
  // undici's WebSocket never sends a caller's Host header (a forbidden header in the fetch spec):
  // the URL names the host and the dispatcher resolves it to the controller's address.
  const controller = new URL(HTTP);
  const lookup = (_host, opts, cb) => (opts?.all ? cb(null, [{ address: controller.hostname, family: 4 }]) : cb(null, controller.hostname, 4));
  const dispatcher = new Agent({ connect: { lookup } });
  const ws = new WebSocket(`ws://echo.e2e.test:${controller.port || 80}/ws`, { dispatcher });
  const result = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ error: "timeout" }), 10_000);
    ws.addEventListener("open", () => ws.send("ping-e2e"));
    ws.addEventListener("message", (ev) => {
      clearTimeout(timer);
      resolve({ data: String(ev.data) });
    });
    ws.addEventListener("error", (ev) => {
      clearTimeout(timer);
      resolve({ error: ev.message ?? "error" });
    });
  });
  ws.close();
  await dispatcher.close().catch(() => {});
  assert(result.error === undefined, `websocket: upgrade through the controller failed (${result.error})`);
  assert(/^echo-.*:ping-e2e$/.test(result.data), `websocket echo: ${result.data}`);
  console.log(`websocket: echoed by ${result.data.split(":")[0]}`);
  return 0;
}

async function adminJson(admin) {
  const res = await request(`${admin}/balancer-manager?json`);
  assert(res.statusCode === 200, `balancer-manager?json -> ${res.statusCode}`);
  return res.body.json();
}

async function adminPost(admin, body) {
  const res = await request(`${admin}/balancer-manager`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = await res.body.json();
  assert(res.statusCode === 200 && json.ok === true, `balancer-manager POST ${JSON.stringify(body)} -> ${res.statusCode} ${JSON.stringify(json)}`);
}

async function drain(admin) {
  const state = await adminJson(admin);
  const balancer = state.balancers.find((b) => b.id === "e2e/echo:80");
  assert(balancer !== undefined, `no balancer e2e/echo:80 in ${state.balancers.map((b) => b.id).join(", ")}`);
  const member = balancer.members[0];
  const key = member.key ?? member.address;
  assert(typeof key === "string", `member without key: ${JSON.stringify(member)}`);
  await adminPost(admin, { nonce: state.nonce, balancer: balancer.id, member: key, set: "N" });
  try {
    // the edit reaches the other replica through the runtime ConfigMap within about a second
    await sleep(3000);
    for (let i = 0; i < 60; i++) {
      const r = await get("echo.e2e.test", "/");
      assert(r.status === 200, `during drain -> ${r.status}`);
      assert(r.json.pod !== member.route, `request ${i} reached drained member ${member.route}`);
    }
    console.log(`drain: 60 non-sticky requests avoided drained member ${member.route} (${key}) on both replicas`);
  } finally {
    await adminPost(admin, { nonce: state.nonce, balancer: balancer.id, member: key, clear: "N" });
  }
}

async function load(argv) {
  const sep = argv.indexOf("--");
  const cmd = argv.slice(sep + 1);
  assert(sep !== -1 && cmd.length > 0, "load needs -- CMD ARGS...");
  const counts = { ok: 0, bad: 0, errors: 0 };
  const problems = [];
  let running = true;
  const worker = async () => {
    while (running) {
      try {
        const r = await get("echo.e2e.test", "/load");
        if (r.status >= 200 && r.status < 300) counts.ok++;
        else {
          counts.bad++;
          if (problems.length < 10) problems.push(`status ${r.status}: ${r.text.slice(0, 120)}`);
        }
      } catch (err) {
        counts.errors++;
        if (problems.length < 10) problems.push(`error ${err.code ?? err.message}`);
      }
      await sleep(20);
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  await sleep(2000);
  const child = spawn(cmd[0], cmd.slice(1), { stdio: "inherit" });
  const code = await new Promise((resolve) => child.on("exit", (c) => resolve(c)));
  await sleep(5000); // keep loading while the last old pods terminate
  running = false;
  await Promise.all(workers);
  console.log(`load: ${counts.ok} 2xx, ${counts.bad} non-2xx, ${counts.errors} errors while: ${cmd.join(" ")}`);
  assert(code === 0, `${cmd.join(" ")} exited ${code}`);
  assert(counts.ok > 100, `only ${counts.ok} requests completed`);
  assert(counts.bad === 0 && counts.errors === 0, `non-2xx or errors under load:\n  ${problems.join("\n  ")}`);
}

const [command, ...args] = process.argv.slice(2);
const checks = {
  routing: () => routing(),
  sticky: () => sticky(),
  app: () => app(args[0], args[1], args[2]),
  tls: () => tls(args[0]),
  websocket: () => websocket(),
  drain: () => drain(args[0] ?? "http://127.0.0.1:10254"),
  load: () => load(args),
};
const check = checks[command];
if (check === undefined) {
  console.error(`usage: check.mjs ${Object.keys(checks).join("|")} ...`);
  process.exit(2);
}
try {
  const code = await check();
  await new Agent().close();
  process.exit(typeof code === "number" ? code : 0);
} catch (err) {
  console.error(`FAIL ${command}: ${err instanceof CheckError ? err.message : err.stack}`);
  process.exit(1);
}
