import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManifestSource } from "../../src/files/index.js";
import { waitFor } from "../support/wait.js";

const service = (name: string): string => `apiVersion: v1
kind: Service
metadata: { name: ${name} }
spec: { ports: [{ port: 80 }] }
`;

interface LogLine {
  readonly level: number;
  readonly file?: string;
  readonly reason?: string;
  readonly msg: string;
}

function capturingLogger(): { logger: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

const names = (source: ManifestSource): string[] => source.current().view.services.map((s) => s.metadata.name);

/** Resolves once the source's service names equal `expected` (within 1 s, the contract's bound). */
async function expectServices(source: ManifestSource, expected: string[]): Promise<void> {
  await waitFor(() => (JSON.stringify(names(source)) === JSON.stringify(expected) ? true : undefined), {
    timeoutMs: 1000,
    what: `services ${expected.join(",")} (have ${names(source).join(",")})`,
  });
}

describe("ManifestSource", () => {
  let dir: string;
  let source: ManifestSource | null = null;
  let log: ReturnType<typeof capturingLogger>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "ppi-files-"));
    log = capturingLogger();
  });
  afterEach(async () => {
    source?.close();
    source = null;
    await rm(dir, { recursive: true, force: true });
  });

  async function startOn(path: string): Promise<ManifestSource> {
    source = new ManifestSource({ path, logger: log.logger });
    await source.start();
    return source;
  }

  it("loads a directory tree sorted by path, skipping dot-files and other extensions", async () => {
    await mkdir(join(dir, "sub"));
    await writeFile(join(dir, "b.yaml"), service("b"));
    await writeFile(join(dir, "a.yml"), `${service("a1")}---\n${service("a2")}`);
    await writeFile(join(dir, "sub", "c.json"), JSON.stringify({ apiVersion: "v1", kind: "Service", metadata: { name: "c" } }));
    await writeFile(join(dir, ".hidden.yaml"), service("hidden"));
    await writeFile(join(dir, "notes.txt"), service("txt"));
    const s = await startOn(dir);
    expect(names(s)).toEqual(["a1", "a2", "b", "c"]);
    expect(s.current().diagnostics).toEqual([]);
  });

  it("keeps the objects of unchanged files as the same instances when another file changes (the builder's cache recognises them)", async () => {
    await writeFile(join(dir, "a.yaml"), service("a"));
    await writeFile(join(dir, "b.yaml"), service("b"));
    const s = await startOn(dir);
    const before = s.current().view.services;
    await writeFile(join(dir, "b.yaml"), service("b2"));
    await expectServices(s, ["a", "b2"]);
    const after = s.current().view.services;
    expect(after[0]).toBe(before[0]);
    expect(after[1]).not.toBe(before[1]);
  });

  it("loads a single file", async () => {
    const file = join(dir, "one.yaml");
    await writeFile(file, service("one"));
    const s = await startOn(file);
    expect(names(s)).toEqual(["one"]);
  });

  it("sees an edit, an added file and a deleted file within 1 s and notifies", async () => {
    await writeFile(join(dir, "a.yaml"), service("a"));
    const s = await startOn(dir);
    let changes = 0;
    const types = new Set<string>();
    s.onChange((change) => {
      changes++;
      types.add(change.type);
    });
    await writeFile(join(dir, "a.yaml"), service("a-edited"));
    await expectServices(s, ["a-edited"]);
    await writeFile(join(dir, "b.yaml"), service("b"));
    await expectServices(s, ["a-edited", "b"]);
    await rm(join(dir, "a.yaml"));
    await expectServices(s, ["b"]);
    expect(changes).toBeGreaterThanOrEqual(3);
    // A file can hold any kind: every change asks for a full rebuild.
    expect([...types]).toEqual(["full"]);
  });

  it("sees files in a subdirectory created after start", async () => {
    const s = await startOn(dir);
    await mkdir(join(dir, "new"));
    await writeFile(join(dir, "new", "x.yaml"), service("x"));
    await expectServices(s, ["x"]);
  });

  it("keeps a broken file's last good objects, reports it once in the log, and recovers", async () => {
    const file = join(dir, "a.yaml");
    await writeFile(file, service("a"));
    const s = await startOn(dir);
    await writeFile(file, "kind: [broken\n");
    const diagnostic = await waitFor(() => s.current().diagnostics.find((d) => d.reason === "InvalidFile"), { timeoutMs: 1000, what: "InvalidFile diagnostic" });
    expect(diagnostic).toMatchObject({ severity: "error", kind: "File", object: file, message: expect.stringContaining("last good objects stay in service") });
    expect(names(s)).toEqual(["a"]);
    const errors = log.lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file, reason: expect.stringContaining("invalid YAML") });
    await writeFile(file, service("fixed"));
    await expectServices(s, ["fixed"]);
    expect(s.current().diagnostics).toEqual([]);
  });

  it("serves nothing from a file that was never good, and says so", async () => {
    await writeFile(join(dir, "bad.yaml"), "{");
    const s = await startOn(dir);
    expect(names(s)).toEqual([]);
    expect(s.current().diagnostics).toEqual([expect.objectContaining({ reason: "InvalidFile", message: expect.stringContaining("nothing from it is served") })]);
  });

  it("follows an editor's atomic rename over a watched single file", async () => {
    const file = join(dir, "one.yaml");
    await writeFile(file, service("one"));
    const s = await startOn(file);
    await writeFile(join(dir, ".one.yaml.tmp"), service("two"));
    await rename(join(dir, ".one.yaml.tmp"), file);
    await expectServices(s, ["two"]);
  });

  it.each([
    { name: "in the watched directory", sub: "" },
    { name: "in a subdirectory of the watched directory", sub: "team" },
  ])("follows every atomic rename of a file $name (an editor's or a volume's write)", async ({ sub }) => {
    const root = join(dir, "manifests");
    await mkdir(join(root, sub), { recursive: true });
    const file = join(root, sub, "app.yaml");
    await writeFile(file, service("v0"));
    const s = await startOn(root);
    expect(names(s)).toEqual(["v0"]);
    // Node's recursive fs.watch on Linux stopped reporting such a file after its first renames.
    for (let i = 1; i <= 6; i++) {
      await writeFile(join(root, sub, ".app.yaml.tmp"), service(`v${i}`));
      await rename(join(root, sub, ".app.yaml.tmp"), file);
      await expectServices(s, [`v${i}`]);
    }
  });

  it("watches a subdirectory created after start", async () => {
    const root = join(dir, "manifests");
    await mkdir(root);
    const s = await startOn(root);
    await mkdir(join(root, "later"));
    await writeFile(join(root, "later", "x.yaml"), service("x"));
    await expectServices(s, ["x"]);
    await writeFile(join(root, "later", "x.yaml"), service("x2"));
    await expectServices(s, ["x2"]);
  });

  it("keeps the last good objects while the directory is gone and picks up its recreation", async () => {
    const root = join(dir, "manifests");
    await mkdir(root);
    await writeFile(join(root, "a.yaml"), service("a"));
    const s = await startOn(root);
    await rm(root, { recursive: true });
    await waitFor(() => s.current().diagnostics.find((d) => d.reason === "ManifestPathUnavailable"), { timeoutMs: 1000, what: "ManifestPathUnavailable" });
    expect(names(s)).toEqual(["a"]);
    await mkdir(root);
    await writeFile(join(root, "b.yaml"), service("b"));
    await waitFor(() => (names(s).join() === "b" ? true : undefined), { timeoutMs: 2000, what: "recreated directory" });
    expect(s.current().diagnostics).toEqual([]);
    // And the new directory is watched again: an edit shows up within 1 s.
    await writeFile(join(root, "b.yaml"), service("b2"));
    await expectServices(s, ["b2"]);
  });

  it("starts on a missing path without throwing and loads it once it appears", async () => {
    const root = join(dir, "later");
    const s = await startOn(root);
    expect(names(s)).toEqual([]);
    expect(s.current().diagnostics.map((d) => d.reason)).toEqual(["ManifestPathUnavailable"]);
    await mkdir(root);
    await writeFile(join(root, "a.yaml"), service("a"));
    await waitFor(() => (names(s).join() === "a" ? true : undefined), { timeoutMs: 2000, what: "path appears" });
  });

  it("reports invalid objects from files as diagnostics of their kind", async () => {
    await writeFile(join(dir, "a.yaml"), `apiVersion: v1\nkind: Service\nmetadata: { name: s }\nspec: { ports: [{ port: 0 }] }\n`);
    const s = await startOn(dir);
    expect(s.current().diagnostics).toEqual([expect.objectContaining({ kind: "Service", object: "default/s", reason: "InvalidObject" })]);
  });
});
