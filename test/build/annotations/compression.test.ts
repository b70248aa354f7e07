import { describe, expect, it } from "vitest";
import { compressionFamily, parseAnnotations } from "../../../src/build/index.js";

const C = "proxypass.io/compression";
const E = "proxypass.io/custom-error-pages";
const EB = "proxypass.io/custom-error-backend";

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

  it.each<{ name: string; annotations: Record<string, string>; defaults?: Record<string, string>; backend: string | undefined }>([
    { name: "no error backend by default", annotations: { [E]: "404" }, backend: undefined },
    { name: "SERVICE:PORT by number", annotations: { [EB]: "error-pages:80" }, backend: "error-pages:80" },
    { name: "SERVICE:PORT by port name", annotations: { [EB]: "error-pages:http" }, backend: "error-pages:http" },
    { name: "the ConfigMap may name another namespace", annotations: {}, defaults: { [EB]: "ingress/error-pages:80" }, backend: "ingress/error-pages:80" },
    { name: "an Ingress's own SERVICE:PORT wins over the ConfigMap's", annotations: { [EB]: "mine:8080" }, defaults: { [EB]: "ingress/error-pages:80" }, backend: "mine:8080" },
  ])("custom-error-backend: $name", ({ annotations, defaults, backend }) => {
    const parsed = parseAnnotations(annotations, defaults);
    expect(parsed.findings).toEqual([]);
    expect(parsed.options.customErrorBackend).toBe(backend);
  });

  it("custom-error-backend: an Ingress naming another namespace is an InvalidAnnotation", () => {
    const parsed = parseAnnotations({ [EB]: "ingress/error-pages:80" });
    expect(parsed.findings).toEqual([expect.objectContaining({ severity: "error", reason: "InvalidAnnotation", key: EB, message: expect.stringMatching(/own namespace/) })]);
  });

  it.each([
    { name: "compression yes", key: C, value: "yes", message: /"true" or "false"/ },
    { name: "an error backend without a port", key: EB, value: "error-pages", message: /must be SERVICE:PORT/ },
    { name: "an error backend with port 0", key: EB, value: "error-pages:0", message: /not from 1 to 65535/ },
    { name: "an error backend with an upper-case name", key: EB, value: "Error-Pages:80", message: /not a DNS-1035 label/ },
    { name: "an error backend with a bad namespace", key: EB, value: "in_gress/error-pages:80", message: /not a DNS-1123 label/ },
    { name: "an error backend with a CR", key: EB, value: "error-pages:80\r", message: /neither a number nor a port name/ },
    { name: "a 2xx status", key: E, value: "200", message: /not a status 400-599/ },
    { name: "a word", key: E, value: "404,all", message: /not a status 400-599/ },
  ])("$name is an InvalidAnnotation", ({ key, value, message }) => {
    const parsed = compressionFamily.parse({ [key]: value });
    expect(parsed.diagnostics[0]).toMatchObject({ severity: "error", reason: "InvalidAnnotation", key });
    expect(parsed.diagnostics[0]?.message).toMatch(message);
  });
});
