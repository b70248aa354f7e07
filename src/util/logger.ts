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

/** Sets the levels of a logger factory's loggers at runtime. */
export interface LogLevelControl {
  /**
   * Sets every component's level from `spec` (the `--log-level` syntax), for the loggers made so far
   * and later ones; null goes back to the spec the factory was created with. An invalid spec changes
   * nothing and returns false.
   */
  setLevels(spec: string | null): boolean;
}

/** A factory of per-component child loggers (created once each) whose levels can change at runtime. */
export interface LoggerFactory extends LogLevelControl {
  (component: string): Logger;
  /** The level spec in effect. */
  readonly levels: string;
}

type Levels = NonNullable<ReturnType<typeof parseLogLevels>>;

/** Creates the root logger and a factory of per-component child loggers (created once each). */
export function createLoggerFactory(spec: string, destination?: NodeJS.WritableStream): LoggerFactory {
  const initial = parseLogLevels(spec) === undefined ? "info" : spec;
  let current = initial;
  let parsed: Levels = parseLogLevels(initial) ?? { base: "info", components: {} };
  const root = destination ? pino({ level: "trace" }, destination) : pino({ level: "trace" });
  const cache = new Map<string, Logger>();
  const factory = (component: string): Logger => {
    let child = cache.get(component);
    if (child === undefined) {
      child = root.child({ component }, { level: parsed.components[component] ?? parsed.base });
      cache.set(component, child);
    }
    return child;
  };
  const setLevels = (next: string | null): boolean => {
    const wanted = next ?? initial;
    if (wanted === current) return true;
    const levels = parseLogLevels(wanted);
    if (levels === undefined) return false;
    current = wanted;
    parsed = levels;
    for (const [component, child] of cache) child.level = levels.components[component] ?? levels.base;
    return true;
  };
  return Object.defineProperties(factory, {
    setLevels: { value: setLevels },
    levels: { get: () => current },
  }) as LoggerFactory;
}
