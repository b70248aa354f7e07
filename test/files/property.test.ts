// Property tests (fast-check) of the manifest loader: arbitrary text (as YAML or JSON) and arbitrary
// JSON values never make it throw; a valid object is kept whatever garbage objects sit next to it;
// and a watched file that turns unparseable keeps serving its last good objects.
import fc from "fast-check";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManifestSource, parseManifestText, toClusterView } from "../../src/files/index.js";

const SERVICE = "apiVersion: v1\nkind: Service\nmetadata: { name: good, namespace: ns }\nspec:\n  ports: [{ name: http, port: 80 }]\n";
const INGRESS = {
  apiVersion: "networking.k8s.io/v1",
  kind: "Ingress",
  metadata: { name: "web", namespace: "ns", annotations: { "proxypass.io/timeout": "5" } },
  spec: { ingressClassName: "proxypass", rules: [{ host: "a.test", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "good", port: { number: 80 } } } }] } }] },
};

/** Valid text with random characters inserted, spans cut, or cut short. */
const mutatedText = fc.tuple(fc.constantFrom(SERVICE, JSON.stringify(INGRESS), `${SERVICE}---\n${SERVICE}`), fc.array(fc.tuple(fc.nat(400), fc.string({ unit: "binary", maxLength: 4 }), fc.nat(3)), { minLength: 1, maxLength: 4 })).map(([text, edits]) => {
  let t = text;
  for (const [at, insert, cut] of edits) {
    const i = at % (t.length + 1);
    t = t.slice(0, i) + insert + t.slice(i + cut);
  }
  return t;
});
const anyText = fc.oneof(fc.string({ unit: "binary", maxLength: 200 }), mutatedText);

/** A valid Ingress with one subtree replaced by an arbitrary JSON value. */
function replaceAt(value: unknown, path: ReadonlyArray<number>, replacement: unknown): unknown {
  if (path.length === 0 || value === null || typeof value !== "object") return replacement;
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  if (entries.length === 0) return replacement;
  const [head = 0, ...rest] = path;
  const pick = head % entries.length;
  const out: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...value };
  const [k, v] = entries[pick] as readonly [string, unknown];
  (out as Record<string, unknown>)[k] = replaceAt(v, rest, replacement);
  return out;
}
const brokenIngress = fc.tuple(fc.array(fc.nat(), { maxLength: 6 }), fc.jsonValue({ maxDepth: 3 })).map(([path, replacement]) => replaceAt(INGRESS, path, replacement));

describe("manifest loader on arbitrary input", () => {
  it("parseManifestText never throws, for .yaml and .json alike", () => {
    fc.assert(
      fc.property(anyText, fc.constantFrom("x.yaml", "x.json"), (text, file) => {
        const parsed = parseManifestText(text, file);
        if (parsed.ok) expect(Array.isArray(parsed.objects)).toBe(true);
        else expect(parsed.error.length).toBeGreaterThan(0);
      }),
      { numRuns: 1000, seed: 21 },
    );
  });

  it("toClusterView never throws on arbitrary objects, and keeps a valid Service next to them", () => {
    const good = parseManifestText(SERVICE, "good.yaml");
    if (!good.ok) throw new Error(good.error);
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.jsonValue({ maxDepth: 4 }), brokenIngress), { maxLength: 6 }), (values) => {
        const objects = [...good.objects, ...values.map((value, index) => ({ file: "junk.yaml", index, value }))];
        const { view, diagnostics } = toClusterView(objects);
        expect(view.services.map((s) => s.metadata.name)).toContain("good");
        for (const d of diagnostics) expect(d.message.length).toBeGreaterThan(0);
      }),
      { numRuns: 500, seed: 22 },
    );
  });
});

describe("a watched file that turns unparseable", () => {
  let dir = "";
  let source: ManifestSource | null = null;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ppi-files-prop-"));
  });
  afterAll(async () => {
    source?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps serving its last good objects, whatever the broken text", async () => {
    const file = join(dir, "app.yaml");
    await writeFile(file, SERVICE);
    const s = new ManifestSource({ path: dir, logger: pino({ level: "silent" }) });
    source = s;
    await s.start();
    let changes = 0;
    s.onChange(() => changes++);
    const broken = fc.sample(
      mutatedText.filter((t) => !parseManifestText(t, file).ok),
      { numRuns: 15, seed: 23 },
    );
    const seen = new Set<string>();
    for (const text of broken) {
      if (seen.has(text)) continue;
      seen.add(text);
      const before = changes;
      await writeFile(file, text);
      // The source notices (a failed file counts as a change) within the contract's second.
      const deadline = Date.now() + 3_000;
      while (changes === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(changes).toBeGreaterThan(before);
      expect(s.current().view.services.map((x) => x.metadata.name)).toEqual(["good"]);
    }
    expect(seen.size).toBeGreaterThan(5);
  });
});
