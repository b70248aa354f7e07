import { describe, expect, it } from "vitest";
import { isManifestPath, parseManifestText, toClusterView } from "../../src/files/index.js";

const service = (name: string, ns = "default"): string => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec: { ports: [{ port: 80 }] }
`;

describe("parseManifestText", () => {
  it.each([
    { name: "one YAML document gives one object", file: "a.yaml", text: service("a"), count: 1 },
    { name: "multi-document YAML gives one object per document", file: "a.yaml", text: `${service("a")}---\n${service("b")}`, count: 2 },
    { name: "empty documents are kept as null and ignored later", file: "a.yml", text: `---\n---\n${service("a")}`, count: 2 },
    { name: "kind List is flattened into its items", file: "a.yaml", text: `apiVersion: v1\nkind: List\nitems:\n  - ${JSON.stringify({ apiVersion: "v1", kind: "Service", metadata: { name: "a" } })}\n  - ${JSON.stringify({ apiVersion: "v1", kind: "Service", metadata: { name: "b" } })}\n`, count: 2 },
    { name: "typed lists (ServiceList) are flattened too", file: "a.yaml", text: `kind: ServiceList\nitems: []\n`, count: 0 },
    { name: "JSON files are parsed as JSON", file: "a.json", text: JSON.stringify({ apiVersion: "v1", kind: "Service", metadata: { name: "a" } }), count: 1 },
    { name: "a JSON array gives one object per element", file: "a.json", text: JSON.stringify([{ kind: "X" }, { kind: "Y" }]), count: 2 },
    { name: "an empty file gives no objects", file: "a.yaml", text: "", count: 0 },
  ])("$name", ({ file, text, count }) => {
    const outcome = parseManifestText(text, file);
    expect(outcome.ok).toBe(true);
    if (outcome.ok) {
      expect(outcome.objects).toHaveLength(count);
      expect(outcome.objects.map((o) => o.index)).toEqual([...Array(count).keys()]);
    }
  });

  it.each([
    { name: "a YAML syntax error fails the whole file", file: "a.yaml", text: `${service("a")}---\nkey: [unclosed\n`, error: /invalid YAML in document 2/ },
    { name: "duplicate YAML keys fail the file", file: "a.yaml", text: "a: 1\na: 2\n", error: /invalid YAML/ },
    { name: "invalid JSON fails the file", file: "a.json", text: "{", error: /invalid JSON/ },
  ])("$name", ({ file, text, error }) => {
    const outcome = parseManifestText(text, file);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.error).toMatch(error);
  });

  it.each([
    { name: "yaml is a manifest", path: "x/a.yaml", expected: true },
    { name: "yml is a manifest", path: "a.YML", expected: true },
    { name: "json is a manifest", path: "a.json", expected: true },
    { name: "other extensions are not", path: "a.txt", expected: false },
  ])("$name", ({ path, expected }) => {
    expect(isManifestPath(path)).toBe(expected);
  });
});

describe("toClusterView", () => {
  const viewOf = (text: string, file = "m.yaml"): ReturnType<typeof toClusterView> => {
    const outcome = parseManifestText(text, file);
    if (!outcome.ok) throw new Error(outcome.error);
    return toClusterView(outcome.objects);
  };

  it.each([
    {
      name: "known kinds land in their lists, namespace defaults to default",
      text: `${service("a")}---\napiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: { name: proxypass }\nspec: { controller: x }\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: { name: i }\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: e, namespace: n }\n---\napiVersion: v1\nkind: Secret\nmetadata: { name: s }\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: c }\n`,
      counts: { ingresses: 1, ingressClasses: 1, services: 1, endpointSlices: 1, secrets: 1, configMaps: 1 },
      diagnostics: [],
    },
    {
      name: "unknown kinds and unknown apiVersions are ignored silently",
      text: `apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: d }\n---\napiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: { name: old }\n`,
      counts: { ingresses: 0, ingressClasses: 0, services: 0, endpointSlices: 0, secrets: 0, configMaps: 0 },
      diagnostics: [],
    },
    {
      name: "an invalid known object is left out with an InvalidObject diagnostic naming the field",
      text: `apiVersion: v1\nkind: Service\nmetadata: { name: bad, namespace: n }\nspec: { ports: [{ port: "eighty" }] }\n---\n${service("good")}`,
      counts: { ingresses: 0, ingressClasses: 0, services: 1, endpointSlices: 0, secrets: 0, configMaps: 0 },
      diagnostics: [{ severity: "error", kind: "Service", object: "n/bad", reason: "InvalidObject", message: expect.stringMatching(/m\.yaml object 1: invalid Service: spec\.ports\.0\.port: .*number/) }],
    },
    {
      name: "an invalid object without a name is reported against the file",
      text: `apiVersion: v1\nkind: Service\nmetadata: {}\n`,
      counts: { ingresses: 0, ingressClasses: 0, services: 0, endpointSlices: 0, secrets: 0, configMaps: 0 },
      diagnostics: [{ severity: "error", kind: "Service", object: "m.yaml", reason: "InvalidObject", message: expect.stringContaining("metadata.name") }],
    },
    {
      name: "a second object with the same identity is left out with a warning",
      text: `${service("a")}---\n${service("a")}`,
      counts: { ingresses: 0, ingressClasses: 0, services: 1, endpointSlices: 0, secrets: 0, configMaps: 0 },
      diagnostics: [{ severity: "warning", kind: "Service", object: "default/a", reason: "DuplicateObject", message: expect.stringContaining("m.yaml object 1") }],
    },
    {
      name: "a document that is not an object is reported and ignored",
      text: `just a string\n`,
      counts: { ingresses: 0, ingressClasses: 0, services: 0, endpointSlices: 0, secrets: 0, configMaps: 0 },
      diagnostics: [{ severity: "warning", kind: "File", object: "m.yaml", reason: "NotAnObject", message: expect.any(String) }],
    },
  ])("$name", ({ text, counts, diagnostics }) => {
    const { view, diagnostics: actual } = viewOf(text);
    expect({
      ingresses: view.ingresses.length,
      ingressClasses: view.ingressClasses.length,
      services: view.services.length,
      endpointSlices: view.endpointSlices.length,
      secrets: view.secrets.length,
      configMaps: view.configMaps.length,
    }).toEqual(counts);
    expect(actual).toEqual(diagnostics);
  });

  it("keeps objects in the given order", () => {
    const { view } = viewOf(`${service("b")}---\n${service("a")}`);
    expect(view.services.map((s) => s.metadata.name)).toEqual(["b", "a"]);
  });
});
