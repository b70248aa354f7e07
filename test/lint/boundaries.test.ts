// The import boundaries of STYLE.md are enforced by `npm run lint`; this proves the rules bite.
import { join } from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../support/controller.js";

const eslint = new ESLint({ cwd: repoRoot });

async function messages(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(repoRoot, file) });
  return (result?.messages ?? []).map((m) => m.message);
}

describe("import boundaries", () => {
  it.each([
    { name: "build does no I/O", file: "src/build/x.ts", code: 'import { readFile } from "node:fs/promises";\nexport const f = readFile;\n', want: /src\/build is pure/ },
    { name: "build reads no clock", file: "src/build/x.ts", code: "export const t = Date.now();\n", want: /reads no clock/ },
    { name: "build may not import the data plane", file: "src/build/x.ts", code: 'export { ProxyServer } from "../dataplane/index.js";\n', want: /may not import src\/dataplane/ },
    { name: "only dataplane imports undici", file: "src/control/x.ts", code: 'import { Pool } from "undici";\nexport const p = Pool;\n', want: /only src\/dataplane may import undici/ },
    { name: "only kube imports client-node", file: "src/files/x.ts", code: 'import { KubeConfig } from "@kubernetes/client-node";\nexport const k = KubeConfig;\n', want: /only src\/kube may import/ },
    { name: "dataplane never sees kube", file: "src/dataplane/x.ts", code: 'export * from "../kube/index.js";\n', want: /may not import src\/kube/ },
    { name: "model imports nothing of ours", file: "src/model/x.ts", code: 'export * from "../util/index.js";\n', want: /may not import src\/util/ },
  ])("$name", async ({ file, code, want }) => {
    expect((await messages(file, code)).some((m) => want.test(m))).toBe(true);
  });

  it("allows what the layout table allows", async () => {
    expect(await messages("src/control/x.ts", 'export { buildSnapshot } from "../build/index.js";\nexport * from "../model/index.js";\n')).toEqual([]);
  });
});
