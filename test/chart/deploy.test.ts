// deploy/proxypass-ingress.yaml is the chart rendered with its defaults: a diff fails here, and
// `npm run deploy:render` regenerates it.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { deployFile, ensureKubeTools, parseObjects, renderDeployManifest } from "../support/helm.js";
import { validateAll } from "./k8s-schema.js";

beforeAll(() => {
  ensureKubeTools();
}, 120_000);

describe("static manifests", () => {
  it("deploy/proxypass-ingress.yaml equals the chart rendered with defaults (npm run deploy:render)", () => {
    expect(readFileSync(deployFile, "utf8")).toBe(renderDeployManifest());
  });

  it("starts with its Namespace (restricted Pod Security) and puts every namespaced object in it", async () => {
    const objects = parseObjects(readFileSync(deployFile, "utf8"));
    expect(objects[0]).toMatchObject({ kind: "Namespace", metadata: { name: "proxypass-ingress", labels: { "pod-security.kubernetes.io/enforce": "restricted" } } });
    const clusterScoped = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "IngressClass"]);
    for (const o of objects) {
      if (clusterScoped.has(o.kind)) expect(o.metadata.namespace, o.kind).toBeUndefined();
      else expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe("proxypass-ingress");
    }
    expect(await validateAll(objects)).toEqual([]);
  });
});
