// Server settings end to end: the compiled controller with `--manifests` (the ConfigMap is one of
// the manifests) and `--configmap`; editing the ConfigMap's `log-level` and `access-log` changes
// the logging of the running controller (primary and worker) without a restart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { startController, type RunningController } from "../support/controller.js";
import { endpointSlicesYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { startUpstream, type Upstream } from "../support/upstream.js";
import { waitFor } from "../support/wait.js";

const noReuse = new Agent({ pipelining: 0 });

let ctl: RunningController;
let dir: string;
let upstream: Upstream;

interface LogLine {
  readonly level: number;
  readonly component?: string;
  readonly msg?: string;
  readonly path?: string;
}

function lines(): LogLine[] {
  const out: LogLine[] = [];
  for (const text of ctl.output().split("\n")) {
    if (!text.startsWith("{")) continue;
    try {
      out.push(JSON.parse(text) as LogLine);
    } catch {
      // a line still being written
    }
  }
  return out;
}

async function get(path: string): Promise<number> {
  const res = await request(`http://127.0.0.1:${ctl.httpPort}${path}`, { headers: { host: "settings.test" }, dispatcher: noReuse });
  await res.body.text();
  return res.statusCode;
}

function writeSettings(data: Record<string, string>): Promise<void> {
  const body = Object.entries(data)
    .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
    .join("\n");
  return writeFile(join(dir, "settings.yaml"), `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: proxypass-settings, namespace: ingress }\ndata:\n${body === "" ? "  {}" : body}\n`);
}

const accessLine = (path: string) => (): true | undefined => (lines().some((l) => l.component === "access" && l.path === path) ? true : undefined);

beforeAll(async () => {
  upstream = await startUpstream("web-0", { host: "127.0.0.40" });
  dir = await mkdtemp(join(tmpdir(), "ppi-settings-"));
  await writeFile(
    join(dir, "app.yaml"),
    [
      serviceYaml("shop", "web", 80),
      endpointSlicesYaml("shop", "web", [{ ip: upstream.host, port: upstream.port, pod: "web-0" }]),
      ingressYaml("shop", "web", [{ host: "settings.test", path: "/", service: "web", port: 80 }]),
    ].join("---\n"),
  );
  await writeSettings({ "log-level": "info" });
  ctl = await startController(["--manifests", dir, "--workers", "1", "--configmap", "ingress/proxypass-settings", "--log-level", "info"]);
  await waitFor(async () => ((await get("/ready").catch(() => 0)) === 200 ? true : undefined), { timeoutMs: 20_000, what: "controller serving" });
}, 40_000);

afterAll(async () => {
  ctl?.child.kill("SIGTERM");
  await ctl?.exited;
  await noReuse.close();
  await upstream?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("server settings through the controller binary", () => {
  it("log-level and access-log from the ConfigMap apply to the running primary and worker, and removing them restores the flags", async () => {
    expect(await get("/one")).toBe(200);
    await waitFor(accessLine("/one"), { what: "access line for /one" });
    expect(lines().some((l) => l.level === 20)).toBe(false);

    await writeSettings({ "log-level": "debug", "access-log": "false" });
    // The worker logs its route apply at debug once the new table (with the settings) is live.
    await waitFor(() => (lines().some((l) => l.level === 20 && l.component === "proxy" && l.msg === "routes applied") ? true : undefined), { what: "worker debug line" });
    // The primary's loggers too: a rebuild that changes nothing logs "no change" at debug.
    await writeFile(join(dir, "other.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: unrelated, namespace: elsewhere }\ndata: { a: b }\n");
    await waitFor(() => (lines().some((l) => l.level === 20 && l.component === "control" && l.msg === "no change") ? true : undefined), { what: "primary debug line" });

    expect(await get("/two")).toBe(200);
    // An invalid value is reported and keeps the previous valid one (access log stays off).
    await writeSettings({ "log-level": "debug", "access-log": "off" });
    await waitFor(() => (lines().some((l) => l.component === "control" && typeof l.msg === "string" && l.msg.startsWith('key access-log: invalid value "off"')) ? true : undefined), { what: "invalid setting reported" });
    expect(await get("/three")).toBe(200);

    await writeSettings({});
    await waitFor(async () => ((await get("/four")) === 200 && accessLine("/four")() ? true : undefined), { what: "access log back on" });
    // One worker writes its lines in order: /two and /three, served while the access log was off, never logged.
    expect(accessLine("/two")()).toBeUndefined();
    expect(accessLine("/three")()).toBeUndefined();
  });
});
