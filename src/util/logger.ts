import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

/**
 * Parses `--log-level`: either one level ("info") or per-component levels with an optional
 * default ("info,proxy=debug,kube=warn"). Returns undefined when invalid.
 */
export function parseLogLevels(spec: string): { base: LevelWithSilent; components: Record<string, LevelWithSilent> } | undefined {
  const levels = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
  let base: LevelWithSilent = "info";
  const components: Record<string, LevelWithSilent> = {};
  for (const part of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq === -1) {
      if (!levels.has(part)) return undefined;
      base = part as LevelWithSilent;
    } else {
      const name = part.slice(0, eq).trim();
      const level = part.slice(eq + 1).trim();
      if (!/^[a-z][a-z0-9-]*$/.test(name) || !levels.has(level)) return undefined;
      components[name] = level as LevelWithSilent;
    }
  }
  return { base, components };
}

/** Creates the root logger and a factory of per-component child loggers (created once each). */
export function createLoggerFactory(spec: string, destination?: NodeJS.WritableStream): (component: string) => Logger {
  const parsed = parseLogLevels(spec) ?? { base: "info" as LevelWithSilent, components: {} };
  const root = destination ? pino({ level: "trace" }, destination) : pino({ level: "trace" });
  const cache = new Map<string, Logger>();
  return (component: string) => {
    let child = cache.get(component);
    if (child === undefined) {
      child = root.child({ component }, { level: parsed.components[component] ?? parsed.base });
      cache.set(component, child);
    }
    return child;
  };
}
