// Rewrites the README's annotation and ConfigMap tables from the builder's doc rows (after
// `npm run build`): `npm run docs:tables`. test/docs/readme.test.ts checks they match.
import { readFileSync, writeFileSync } from "node:fs";
import { refreshReadmeTables } from "../dist/src/build/doc-tables.js";

const path = new URL("../README.md", import.meta.url);
const before = readFileSync(path, "utf8");
const after = refreshReadmeTables(before);
if (after !== before) writeFileSync(path, after);
process.stdout.write(after === before ? "README tables already current\n" : "README tables rewritten\n");
