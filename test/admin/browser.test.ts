// The balancer-manager in a real browser (Debian's Chromium through playwright-core) against the
// controller binary with 2 workers: drain a member with a click (a plain form POST), see its state
// change, new sessions move off it while its sticky session still reaches it, and the counters
// refresh by themselves. Saves test-results/balancer-manager.png.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningController } from "../support/controller.js";
import { repoRoot } from "../support/controller.js";
import { waitFor } from "../support/wait.js";
import { hit, hits, startCluster, startServing, stop } from "./controller-fixture.js";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let cluster: Awaited<ReturnType<typeof startCluster>>;
let ctl: RunningController | null = null;
let context: BrowserContext | null = null;
let profile: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it with \`apt-get update && apt-get install -y chromium\` (Debian), or set CHROMIUM_PATH`);
  }
  cluster = await startCluster();
  ctl = await startServing(cluster, []);
  profile = await mkdtemp(join(tmpdir(), "ppi-chromium-"));
  // A fresh profile each run; playwright adds --headless.
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1500, height: 900 } });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await stop(ctl);
  await cluster?.close();
  if (profile !== undefined) await rm(profile, { recursive: true, force: true });
});

describe("balancer-manager in Chromium", () => {
  it("drains a member with a click: state N, new sessions avoid it, its sticky session still reaches it, busy refreshes", async () => {
    if (ctl === null || context === null) throw new Error("setup failed");
    const running = ctl;
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(m.text());
    });
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(`http://127.0.0.1:${running.adminPort}/balancer-manager`);
    await expect.poll(() => page.title()).toContain("Balancer Manager");
    const row = page.locator('tr[data-route="web-a"]');
    expect(await row.locator('[data-f="state"]').textContent()).toBe("Ok");

    // Both pods take new sessions before the drain.
    expect(new Set(await hits(running, 6))).toEqual(new Set(["web-a", "web-b"]));
    // A sticky request to web-a stays in flight across the drain.
    const slow = hit(running, "ROUTEID=.web-a", "/slow");
    await waitFor(() => (cluster.held() === 1 ? true : undefined), { what: "slow request at web-a" });

    await page.getByRole("button", { name: "set N (drain) on web-a" }).click();
    await page.waitForURL(/\/balancer-manager$/);
    await expect.poll(() => row.locator('[data-f="state"]').textContent()).toBe("N");
    expect(await row.locator('[data-f="busy"]').textContent()).toBe("1");

    expect(new Set(await hits(running, 8))).toEqual(new Set(["web-b"]));
    expect(await hits(running, 3, "ROUTEID=.web-a")).toEqual(["web-a", "web-a", "web-a"]);

    await mkdir(join(repoRoot, "test-results"), { recursive: true });
    await page.screenshot({ path: join(repoRoot, "test-results", "balancer-manager.png"), fullPage: true });

    // The in-flight request ends; the page's script shows busy falling to 0 without a reload.
    cluster.release();
    expect(await slow).toBe("web-a");
    await expect.poll(() => row.locator('[data-f="busy"]').textContent(), { timeout: 10_000 }).toBe("0");
    // The toggle now offers to clear N; clicking it puts the member back into rotation.
    await page.getByRole("button", { name: "clear N (drain) on web-a" }).click();
    await page.waitForURL(/\/balancer-manager$/);
    expect(await row.locator('[data-f="state"]').textContent()).toBe("Ok");
    expect(new Set(await hits(running, 6))).toEqual(new Set(["web-a", "web-b"]));
    expect(problems).toEqual([]); // no CSP violation, no script error
  }, 60_000);
});
