// The manifest-file source: loads a file or a directory tree of manifests, watches it, and keeps
// each file's last good objects while the file is broken.
import { watch, type FSWatcher } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { compareDiagnostics, fullChange, type ClusterView, type Diagnostic, type SourceChange } from "../model/index.js";
import type { Logger } from "../util/index.js";
import { isManifestPath, parseManifestText, toClusterView, type ManifestObject, type ParsedObject } from "./parse.js";

export interface ManifestSourceOptions {
  /** A manifest file, or a directory read recursively (dot-files and dot-directories are skipped). */
  readonly path: string;
  readonly logger: Logger;
  /** Quiet time after a file-system event before re-reading (ms). */
  readonly debounceMs?: number;
  /** Re-read interval when the path cannot be watched (ms). */
  readonly pollMs?: number;
}

interface FileState {
  /** Text of the last read, to skip unchanged files. */
  readonly text: string | null;
  /** Objects of the last version that parsed. */
  readonly objects: ReadonlyArray<ManifestObject>;
  /** Why the current version cannot be used, or null. */
  readonly error: string | null;
}

interface Listing {
  /** dev:ino of the watched directory (the path, or the file's parent). */
  readonly watchId: string;
  readonly isDirectory: boolean;
  readonly files: ReadonlyArray<string>;
  /** Directories to watch: the root and every subdirectory read (or a single file's parent). */
  readonly dirs: ReadonlyArray<string>;
}

const maxDepth = 32;

export class ManifestSource {
  readonly #root: string;
  readonly #log: Logger;
  readonly #debounceMs: number;
  readonly #pollMs: number;
  readonly #files = new Map<string, FileState>();
  /** What each raw object of the files' last good versions parsed into (unchanged files keep their raw objects). */
  readonly #parsed = new WeakMap<object, ParsedObject>();
  readonly #listeners: Array<(change: SourceChange) => void> = [];
  #rootError: string | null = null;
  /**
   * One non-recursive watcher per directory. Not `fs.watch(root, { recursive: true })`: on Linux
   * Node implements that with per-file watchers, which lose a file replaced by rename (an editor's
   * or a ConfigMap volume's atomic write): after a few renames no event came at all (Node 24).
   */
  readonly #watchers = new Map<string, FSWatcher>();
  #watchId: string | null = null;
  #pollTimer: NodeJS.Timeout | null = null;
  #debounceTimer: NodeJS.Timeout | null = null;
  #scanning: Promise<void> | null = null;
  #rescanRequested = false;
  #closed = false;
  #current: { view: ClusterView; diagnostics: Diagnostic[] } | null = null;

  constructor(options: ManifestSourceOptions) {
    this.#root = options.path;
    this.#log = options.logger;
    this.#debounceMs = options.debounceMs ?? 100;
    this.#pollMs = options.pollMs ?? 500;
  }

  /** Reads everything once and starts watching. Never rejects on bad files or a missing path. */
  async start(): Promise<void> {
    await this.#rescan();
  }

  current(): { view: ClusterView; diagnostics: Diagnostic[] } {
    this.#current ??= this.#compute();
    return this.#current;
  }

  /** Every change is reported as "full": a file can hold any kind of object. */
  onChange(listener: (change: SourceChange) => void): void {
    this.#listeners.push(listener);
  }

  close(): void {
    this.#closed = true;
    this.#stopWatching();
    this.#stopPolling();
    if (this.#debounceTimer !== null) clearTimeout(this.#debounceTimer);
    this.#debounceTimer = null;
  }

  #compute(): { view: ClusterView; diagnostics: Diagnostic[] } {
    const paths = [...this.#files.keys()].sort();
    const objects = paths.flatMap((p) => this.#files.get(p)?.objects ?? []);
    const { view, diagnostics } = toClusterView(objects, this.#parsed);
    for (const p of paths) {
      const error = this.#files.get(p)?.error ?? null;
      if (error !== null) diagnostics.push(brokenFileDiagnostic(p, error, (this.#files.get(p)?.objects.length ?? 0) > 0));
    }
    if (this.#rootError !== null) {
      diagnostics.push({ severity: "error", kind: "File", object: this.#root, reason: "ManifestPathUnavailable", message: `${this.#rootError}; the last good objects stay in service, re-checked every ${this.#pollMs} ms` });
    }
    return { view, diagnostics: diagnostics.sort(compareDiagnostics) };
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#debounceTimer !== null) clearTimeout(this.#debounceTimer);
    this.#debounceTimer = setTimeout(() => {
      this.#debounceTimer = null;
      void this.#rescan();
    }, this.#debounceMs);
  }

  /** Runs one scan at a time; a request during a scan runs one more afterwards. */
  async #rescan(): Promise<void> {
    if (this.#scanning !== null) {
      this.#rescanRequested = true;
      return this.#scanning;
    }
    this.#scanning = (async () => {
      do {
        this.#rescanRequested = false;
        await this.#scanOnce();
      } while (this.#rescanRequested && !this.#closed);
    })().finally(() => {
      this.#scanning = null;
    });
    return this.#scanning;
  }

  async #scanOnce(): Promise<void> {
    if (this.#closed) return;
    const previousRootError = this.#rootError;
    const listing = await this.#list();
    this.#followWatchTarget(listing);
    let changed: boolean;
    if (listing === null) {
      changed = this.#rootError !== previousRootError;
    } else {
      this.#rootError = null;
      changed = (await this.#readFiles(listing.files)) || previousRootError !== null;
    }
    if (changed && !this.#closed) {
      this.#current = null;
      for (const listener of this.#listeners) listener(fullChange);
    }
  }

  /** Lists manifest files, or records why the path is unavailable and returns null. */
  async #list(): Promise<Listing | null> {
    try {
      const info = await stat(this.#root);
      if (!info.isDirectory()) {
        const parent = await stat(dirname(this.#root));
        return { watchId: `${parent.dev}:${parent.ino}`, isDirectory: false, files: [this.#root], dirs: [dirname(this.#root)] };
      }
      const files: string[] = [];
      const dirs: string[] = [this.#root];
      await this.#walk(this.#root, 0, new Set([`${info.dev}:${info.ino}`]), files, dirs);
      return { watchId: `${info.dev}:${info.ino}`, isDirectory: true, files, dirs };
    } catch (err) {
      const reason = `cannot read manifest path ${this.#root}: ${errorCode(err)}`;
      if (reason !== this.#rootError) this.#log.error({ file: this.#root, reason }, "manifest path unavailable; the last good objects stay in service");
      this.#rootError = reason;
      return null;
    }
  }

  async #walk(dir: string, depth: number, visited: Set<string>, out: string[], dirs: string[]): Promise<void> {
    const entries = await readdir(dir);
    for (const name of entries.sort()) {
      if (name.startsWith(".")) continue;
      const path = join(dir, name);
      const info = await stat(path).catch(() => null);
      if (info === null) continue;
      if (info.isDirectory()) {
        const id = `${info.dev}:${info.ino}`;
        if (depth >= maxDepth || visited.has(id)) continue;
        visited.add(id);
        dirs.push(path);
        await this.#walk(path, depth + 1, visited, out, dirs).catch((err: unknown) => {
          this.#log.warn({ file: path, reason: errorCode(err) }, "cannot read manifest directory");
        });
      } else if (info.isFile() && isManifestPath(name)) {
        out.push(path);
      }
    }
  }

  /** Reads listed files and forgets unlisted ones; returns whether anything changed. */
  async #readFiles(paths: ReadonlyArray<string>): Promise<boolean> {
    let changed = false;
    const listed = new Set(paths);
    for (const path of [...this.#files.keys()]) {
      if (!listed.has(path)) {
        this.#files.delete(path);
        this.#log.info({ file: path }, "manifest file removed");
        changed = true;
      }
    }
    for (const path of paths) changed = (await this.#readFile(path)) || changed;
    return changed;
  }

  async #readFile(path: string): Promise<boolean> {
    const previous = this.#files.get(path);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if (errorCode(err) === "ENOENT") {
        this.#files.delete(path);
        return previous !== undefined;
      }
      return this.#fail(path, previous, null, `cannot read: ${errorCode(err)}`);
    }
    if (previous !== undefined && previous.text === text) return false;
    const parsed = parseManifestText(text, path);
    if (!parsed.ok) return this.#fail(path, previous, text, parsed.error);
    this.#files.set(path, { text, objects: parsed.objects, error: null });
    if (previous?.error) this.#log.info({ file: path }, "manifest file readable again");
    return true;
  }

  #fail(path: string, previous: FileState | undefined, text: string | null, reason: string): boolean {
    const objects = previous?.objects ?? [];
    if (previous?.error === reason && previous.text === text) return false;
    const msg = objects.length > 0 ? "cannot load manifest file; its last good objects stay in service" : "cannot load manifest file; it had no good version, nothing from it is served";
    if (previous?.error !== reason) this.#log.error({ file: path, reason }, msg);
    this.#files.set(path, { text, objects, error: reason });
    return true;
  }

  /** Keeps a watcher on each listed directory (new ones added, gone ones closed); polls while one is missing. */
  #followWatchTarget(listing: Listing | null): void {
    if (this.#closed) return;
    if (listing === null || listing.watchId !== this.#watchId) this.#stopWatching();
    let complete = listing !== null;
    if (listing !== null) {
      const wanted = new Set(listing.dirs);
      for (const [dir, watcher] of this.#watchers) {
        if (wanted.has(dir)) continue;
        watcher.close();
        this.#watchers.delete(dir);
      }
      for (const dir of listing.dirs) if (!this.#watchers.has(dir) && !this.#startWatching(dir)) complete = false;
      this.#watchId = listing.watchId;
    }
    if (!complete) this.#startPolling();
    else this.#stopPolling();
  }

  /** Watches one directory (not recursively); false when it cannot be watched. */
  #startWatching(dir: string): boolean {
    try {
      const watcher = watch(dir, { persistent: false }, () => this.#schedule());
      watcher.on("error", (err) => {
        this.#log.warn({ file: dir, reason: errorCode(err) }, "watching manifests failed; polling instead");
        watcher.close();
        if (this.#watchers.get(dir) === watcher) this.#watchers.delete(dir);
        this.#startPolling();
        this.#schedule();
      });
      this.#watchers.set(dir, watcher);
      return true;
    } catch (err) {
      this.#log.warn({ file: dir, reason: errorCode(err) }, "cannot watch manifests; polling instead");
      return false;
    }
  }

  #stopWatching(): void {
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    this.#watchId = null;
  }

  #startPolling(): void {
    if (this.#pollTimer !== null || this.#closed) return;
    this.#pollTimer = setInterval(() => void this.#rescan(), this.#pollMs);
    this.#pollTimer.unref();
  }

  #stopPolling(): void {
    if (this.#pollTimer !== null) clearInterval(this.#pollTimer);
    this.#pollTimer = null;
  }
}

function brokenFileDiagnostic(path: string, error: string, hasLastGood: boolean): Diagnostic {
  const outcome = hasLastGood ? "its last good objects stay in service" : "it had no good version, nothing from it is served";
  return { severity: "error", kind: "File", object: path, reason: "InvalidFile", message: `${path}: ${error}; ${outcome}` };
}

function errorCode(err: unknown): string {
  if (err !== null && typeof err === "object" && "code" in err && typeof err.code === "string") return err.code;
  return err instanceof Error ? err.message : String(err);
}
