// The Dockerfile cannot be built here (no Docker engine), so its rules are checked as text:
// multi-stage, pinned official Node 24 build image, distroless Node 24 runtime, production
// dependencies only, numeric non-root USER, exec-form ENTRYPOINT, OCI labels, no `latest`.
// No HEALTHCHECK on purpose: Kubernetes ignores it and the chart's probes do that job.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dockerfileText, dockerignorePath, readStages, type Instruction } from "./dockerfile.js";

const { globalArgs, stages } = readStages(dockerfileText());
const final = stages[stages.length - 1];
const all = (op: string, within: ReadonlyArray<Instruction> = stages.flatMap((s) => s.instructions)): Instruction[] => within.filter((i) => i.op === op);
const finalOps = final?.instructions ?? [];
const repoRoot = join(import.meta.dirname, "..", "..");

describe("Dockerfile", () => {
  it("is multi-stage: build and prod-deps on the official Node 24 image, runtime on distroless Node 24", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const byName = Object.fromEntries(stages.map((s) => [s.name, s.image]));
    expect(byName.build).toMatch(/^node:24\.\d+\.\d+-bookworm-slim$/);
    expect(byName["prod-deps"]).toMatch(/^node:24\.\d+\.\d+-bookworm-slim$/);
    expect(final?.image).toBe("gcr.io/distroless/nodejs24-debian12:nonroot");
    expect(globalArgs.NODE_VERSION).toMatch(/^24\.\d+\.\d+$/);
  });

  it("the build image's Node matches the package's own pinned Node 24 devDependency major", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
    expect(pkg.devDependencies.node).toMatch(/^\^?24\./);
  });

  it.each(stages.map((s) => ({ name: s.name ?? "?", image: s.image })))("stage $name: image $image has an explicit tag that is not latest", ({ image }) => {
    const tag = /:([^/@]+)(@sha256:[a-f0-9]{64})?$/.exec(image)?.[1];
    expect(tag, image).toBeDefined();
    expect(tag).not.toBe("latest");
  });

  it("installs with npm ci from the lock file; the runtime gets --omit=dev dependencies only", () => {
    const runs = all("RUN").map((r) => r.args);
    expect(runs.some((r) => /npm ci --omit=dev/.test(r))).toBe(true);
    expect(runs.every((r) => !/npm install/.test(r))).toBe(true);
    const copies = all("COPY", finalOps).map((c) => c.args);
    expect(copies).toContainEqual(expect.stringMatching(/--from=prod-deps .*node_modules/));
    expect(copies).toContainEqual(expect.stringMatching(/--from=build .*dist/));
    expect(all("RUN", finalOps)).toEqual([]); // distroless has no shell: nothing runs in the runtime stage
  });

  it("runs as a numeric non-root user", () => {
    const users = all("USER", finalOps);
    expect(users.length).toBeGreaterThan(0);
    const last = users[users.length - 1]?.args ?? "";
    expect(last).toMatch(/^\d+(:\d+)?$/);
    expect(last.split(":").map(Number).every((n) => n > 0)).toBe(true);
    // the chart's securityContext runs the same UID
    expect(last).toBe("65532:65532");
  });

  it("has an exec-form ENTRYPOINT starting the controller with node", () => {
    const entry = all("ENTRYPOINT", finalOps);
    expect(entry).toHaveLength(1);
    const argv = JSON.parse(entry[0]?.args ?? "null") as unknown;
    expect(argv).toEqual(["/nodejs/bin/node", "dist/cmd/proxypass-ingress.js"]);
    expect(all("CMD", finalOps).every((c) => c.args.startsWith("["))).toBe(true);
    expect(all("SHELL")).toEqual([]);
  });

  it("carries the OCI labels", () => {
    const labels = all("LABEL", finalOps).map((l) => l.args).join(" ");
    for (const key of ["title", "description", "source", "licenses", "version", "revision"]) {
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    }
  });

  it("exposes the traffic and admin ports and has no HEALTHCHECK (Kubernetes probes instead)", () => {
    expect(all("EXPOSE", finalOps).map((e) => e.args).join(" ").split(/\s+/).sort()).toEqual(["10254", "8080", "8443"]);
    expect(all("HEALTHCHECK")).toEqual([]);
  });

  it("copies only paths that exist and that .dockerignore lets into the context", () => {
    const ignore = readFileSync(dockerignorePath, "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
    expect(ignore[0]).toBe("*"); // allow-list
    const allowed = ignore.filter((l) => l.startsWith("!")).map((l) => l.slice(1).replace(/\/$/, ""));
    for (const c of all("COPY").filter((x) => !x.args.includes("--from="))) {
      const parts = c.args.split(/\s+/).filter((p) => !p.startsWith("--"));
      for (const src of parts.slice(0, -1)) {
        expect(existsSync(join(repoRoot, src)), src).toBe(true);
        expect(allowed, src).toContain(src);
      }
    }
    for (const never of ["node_modules", ".git", "test", "dist", "e2e"]) expect(allowed).not.toContain(never);
  });
});
