// Golden builder tests: test/fixtures/build/<case>.in.yaml -> <case>.out.yaml. `npx vitest -u`
// rewrites the outputs; review the YAML diff.
import { describe, expect, it } from "vitest";
import { fixtureDir, goldenCases, renderResult, runCase } from "./golden.js";

describe("buildSnapshot goldens", () => {
  it.each(goldenCases())("$name", async ({ id }) => {
    const { result, sourceDiagnostics } = runCase(id);
    await expect(renderResult(result, sourceDiagnostics)).toMatchFileSnapshot(`${fixtureDir}${id}.out.yaml`);
  });
});
