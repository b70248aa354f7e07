// The README's reference tables, rendered from the builder's own doc rows. test/docs/readme.test.ts
// fails when the README drifts from them; `npm run docs:tables` (scripts/readme-tables.mjs, on the
// built dist/) rewrites the README's marked blocks.
import { annotationDocs } from "./annotations/index.js";
import { settingDocs } from "./global-settings.js";
import { serverSettingDocs } from "./server-settings.js";

const cell = (s: string): string => s.replace(/\|/g, "\\|");

export function renderAnnotationTable(): string {
  const rows = annotationDocs.map((d) => {
    const key = d.key.replace(/^proxypass\.io\//, "");
    return `| \`${key}\` | ${d.implemented ? "yes" : "not yet"} | ${cell(d.values)} | ${cell(d.default)} | ${cell(d.description.replace(/ \(not implemented yet\)$/, ""))} |`;
  });
  return ["| annotation | works | values | default | meaning |", "|---|---|---|---|---|", ...rows].join("\n");
}

export function renderSettingsTable(): string {
  const rows = settingDocs.map((d) => `| \`${d.key}\` | ${cell(d.values)} | ${cell(d.default)} | \`${d.annotation}\` |`);
  return ["| key | values | built-in default | default of annotation |", "|---|---|---|---|", ...rows].join("\n");
}

export function renderServerSettingsTable(): string {
  const rows = serverSettingDocs.map((d) => `| \`${d.key}\` | ${cell(d.values)} | ${cell(d.default)} | ${cell(d.description)} |`);
  return ["| key | values | built-in default | meaning |", "|---|---|---|---|", ...rows].join("\n");
}

/** The README's marked blocks and their renderers. */
export const readmeTables: ReadonlyArray<{ readonly marker: string; readonly render: () => string }> = [
  { marker: "annotations", render: renderAnnotationTable },
  { marker: "settings", render: renderSettingsTable },
  { marker: "server-settings", render: renderServerSettingsTable },
];

/** The README text with every marked block replaced by its current table. */
export function refreshReadmeTables(readme: string): string {
  let out = readme;
  for (const t of readmeTables) {
    const re = new RegExp(`(<!-- ${t.marker}:begin -->\\n)[\\s\\S]*?(\\n<!-- ${t.marker}:end -->)`);
    if (!re.test(out)) throw new Error(`README has no ${t.marker}:begin/end block`);
    out = out.replace(re, (_m, a: string, b: string) => `${a}${t.render()}${b}`);
  }
  return out;
}
