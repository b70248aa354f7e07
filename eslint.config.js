// Lint rules, including the import boundaries of STYLE.md: each folder may import only
// the folders in its row of the layout table, and a few packages belong to one folder.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const folders = ["model", "kube", "files", "build", "control", "dataplane", "admin", "util"];
/** folder -> folders it may import */
const allowed = {
  model: [],
  util: [],
  kube: ["model", "util"],
  files: ["model", "util"],
  build: ["model", "util"],
  control: ["build", "model", "util"],
  dataplane: ["model", "util"],
  admin: ["model", "util"],
};
/** package -> folders that may import it (cmd and test may import anything) */
const packageOwners = {
  "@kubernetes/client-node": ["kube"],
  undici: ["dataplane"],
  "node:http": ["dataplane", "admin"],
  "node:https": ["dataplane", "admin"],
  "node:http2": ["dataplane", "admin"],
};

function boundary(folder) {
  const patterns = [];
  for (const other of folders) {
    if (other === folder || allowed[folder].includes(other)) continue;
    patterns.push({
      group: [`**/${other}/*`, `**/${other}/**`, `../${other}`, `../../${other}`],
      message: `src/${folder} may not import src/${other} (STYLE.md layout table)`,
    });
  }
  const paths = [];
  for (const [pkg, owners] of Object.entries(packageOwners)) {
    if (owners.includes(folder)) continue;
    paths.push({ name: pkg, message: `only src/${owners.join(", src/")} may import ${pkg}` });
  }
  if (folder === "build") {
    for (const name of ["node:fs", "node:fs/promises", "node:net", "node:child_process", "node:timers", "node:worker_threads"]) {
      paths.push({ name, message: "src/build is pure: no I/O" });
    }
  }
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: {
      "no-restricted-imports": ["error", { paths, patterns }],
      ...(folder === "build"
        ? {
            "no-restricted-globals": ["error", { name: "Date", message: "src/build reads no clock" }, { name: "process", message: "src/build is pure" }, { name: "setTimeout", message: "src/build is pure" }],
            "no-restricted-properties": ["error", { object: "Math", property: "random", message: "src/build is deterministic" }],
          }
        : {}),
    },
  };
}

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", ".bench/**", "charts/**", "deploy/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", setImmediate: "readonly", Buffer: "readonly", URL: "readonly", queueMicrotask: "readonly", structuredClone: "readonly", performance: "readonly", AbortController: "readonly", SharedArrayBuffer: "readonly", Atomics: "readonly", TextEncoder: "readonly", TextDecoder: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "error",
      "no-console": ["error"],
      "no-restricted-syntax": ["error", { selector: "ExportDefaultDeclaration", message: "named exports only" }],
    },
  },
  ...folders.map(boundary),
  { files: ["eslint.config.js", "vitest.config.ts"], rules: { "no-restricted-syntax": "off" } },
  { files: ["scripts/**", "test/bench/**", "e2e/**"], rules: { "no-console": "off" } },
);
