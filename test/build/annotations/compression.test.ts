import { describe, expect, it } from "vitest";
import { compressionFamily, parseAnnotations } from "../../../src/build/index.js";

const C = "proxypass.io/compression";
const E = "proxypass.io/custom-error-pages";

describe("compression and custom-error-pages annotations", () => {
  it.each<{ name: string; annotations: Record<string, string>; defaults?: Record<string, string>; compression: boolean; pages: number[] }>([
    { name: "none: off, no pages", annotations: {}, compression: false, pages: [] },
    { name: "compression true", annotations: { [C]: "true" }, compression: true, pages: [] },
    { name: "a ConfigMap default applies", annotations: {}, defaults: { [C]: "true", [E]: "503" }, compression: true, pages: [503] },
    { name: "an Ingress's false wins over the ConfigMap's true", annotations: { [C]: "false" }, defaults: { [C]: "true" }, compression: false, pages: [] },
    { name: "statuses sorted and unique, spaces allowed", annotations: { [E]: "503, 404,404 ,500" }, compression: false, pages: [404, 500, 503] },
  ])("$name", ({ annotations, defaults, compression, pages }) => {
    const parsed = parseAnnotations(annotations, defaults);
    expect(parsed.findings).toEqual([]);
    expect(parsed.options.compression).toBe(compression);
    expect(parsed.options.customErrorPages ?? []).toEqual(pages);
  });

  it.each([
    { name: "compression yes", key: C, value: "yes", message: /"true" or "false"/ },
    { name: "a 2xx status", key: E, value: "200", message: /not a status 400-599/ },
    { name: "a word", key: E, value: "404,all", message: /not a status 400-599/ },
  ])("$name is an InvalidAnnotation", ({ key, value, message }) => {
    const parsed = compressionFamily.parse({ [key]: value });
    expect(parsed.diagnostics[0]).toMatchObject({ severity: "error", reason: "InvalidAnnotation", key });
    expect(parsed.diagnostics[0]?.message).toMatch(message);
  });
});
