// A small Dockerfile reader for the image tests: instructions with line continuations joined,
// grouped into stages. Enough for our own Dockerfile; not a general parser.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly line: number;
}

export interface Stage {
  readonly image: string;
  readonly name: string | null;
  readonly instructions: ReadonlyArray<Instruction>;
}

export function readInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i] ?? "";
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith("\\") && i + 1 < lines.length) {
      line = `${line.slice(0, -1)} ${(lines[++i] ?? "").trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (m) out.push({ op: (m[1] ?? "").toUpperCase(), args: (m[2] ?? "").trim(), line: start + 1 });
  }
  return out;
}

/** Stages after resolving ARGs declared before the first FROM (their defaults). */
export function readStages(text: string): { globalArgs: Record<string, string>; stages: Stage[] } {
  const globalArgs: Record<string, string> = {};
  const stages: { image: string; name: string | null; instructions: Instruction[] }[] = [];
  for (const ins of readInstructions(text)) {
    if (ins.op === "FROM") {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      const image = (m?.[1] ?? "").replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => globalArgs[a ?? b ?? ""] ?? "");
      stages.push({ image, name: m?.[2] ?? null, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.op === "ARG") {
        const [k = "", v = ""] = ins.args.split("=");
        globalArgs[k] = v;
      }
    } else stages[stages.length - 1]?.instructions.push(ins);
  }
  return { globalArgs, stages };
}

export const dockerfilePath = join(import.meta.dirname, "..", "..", "Dockerfile");
export const dockerignorePath = join(import.meta.dirname, "..", "..", ".dockerignore");
export function dockerfileText(): string {
  return readFileSync(dockerfilePath, "utf8");
}
