// File-mode persistence of balancer-manager edits (httpd's BalancerPersist): in memory, or with
// `--state-file PATH` a JSON file written atomically (temp file + rename in the same directory) and
// loaded at start. A missing file is an empty state; an unreadable or invalid one is logged and
// the controller starts with an empty state (the file is overwritten by the next edit).
import { readFile, rename, writeFile, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { emptyRuntimeState, parseRuntimeState, serializeRuntimeState, compactRuntimeState, type RuntimeState, type RuntimeStateStore } from "../model/index.js";
import type { Logger } from "../util/index.js";

export interface FileStateStoreOptions {
  /** null = memory only. */
  readonly path: string | null;
  readonly logger: Logger;
}

export class FileStateStore implements RuntimeStateStore {
  readonly #path: string | null;
  readonly #log: Logger;
  #state: RuntimeState = emptyRuntimeState;
  readonly #listeners = new Set<(state: RuntimeState) => void>();
  /** Edits run one after another (each sees the previous one's result). */
  #queue: Promise<unknown> = Promise.resolve();
  #writes = 0;

  constructor(options: FileStateStoreOptions) {
    this.#path = options.path;
    this.#log = options.logger;
  }

  /** Reads the state file (if any). Never throws: a bad file is logged and ignored. */
  async load(): Promise<RuntimeState> {
    if (this.#path === null) return this.#state;
    let text: string;
    try {
      text = await readFile(this.#path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        this.#log.info({ path: this.#path }, "no balancer-manager state file yet: starting with no overrides");
        return this.#state;
      }
      this.#log.error({ err, path: this.#path }, "cannot read the balancer-manager state file: starting with no overrides");
      return this.#state;
    }
    try {
      this.#state = parseRuntimeState(text);
      this.#log.info({ path: this.#path, balancers: Object.keys(this.#state.balancers).length }, "balancer-manager state loaded");
    } catch (err) {
      this.#log.error({ err, path: this.#path }, `invalid balancer-manager state file (${err instanceof Error ? err.message : String(err)}): starting with no overrides`);
    }
    this.#emit();
    return this.#state;
  }

  current(): RuntimeState {
    return this.#state;
  }

  update(edit: (state: RuntimeState) => RuntimeState): Promise<RuntimeState> {
    const run = this.#queue.then(async () => {
      const next = compactRuntimeState(edit(this.#state));
      if (this.#path !== null) await this.#write(this.#path, next);
      this.#state = next;
      this.#emit();
      return next;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  subscribe(listener: (state: RuntimeState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.#queue;
  }

  #emit(): void {
    for (const l of this.#listeners) l(this.#state);
  }

  async #write(path: string, state: RuntimeState): Promise<void> {
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++this.#writes}.tmp`);
    try {
      await writeFile(tmp, serializeRuntimeState(state), { mode: 0o600 });
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }
}
