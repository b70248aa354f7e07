// custom-error-pages (httpd ProxyErrorOverride with ErrorDocument; ingress-nginx custom-http-errors):
// for the statuses a route lists, the body of the member's response (or of the proxy's own 502/503/
// 504) is replaced by the ConfigMap's `error-page-<status>` page, served as text/html with the
// status kept. Compiled once per route table: pages as Buffers, shared; per route a status table.

/** The pages of one route: index status - 400, null where the route does not override. */
export class ErrorPages {
  readonly #pages: ReadonlyArray<Buffer | null>;
  readonly #lengths: ReadonlyArray<string>;

  constructor(statuses: ReadonlyArray<number>, pages: ReadonlyMap<number, Buffer>) {
    const table: Array<Buffer | null> = new Array<Buffer | null>(200).fill(null);
    const lengths: string[] = new Array<string>(200).fill("");
    for (const s of statuses) {
      const page = pages.get(s);
      if (page === undefined || s < 400 || s > 599) continue;
      table[s - 400] = page;
      lengths[s - 400] = String(page.length);
    }
    this.#pages = table;
    this.#lengths = lengths;
  }

  /** Compiles a route's statuses against the table's pages; null when none of them has a page. */
  static compile(statuses: ReadonlyArray<number> | undefined, pages: ReadonlyMap<number, Buffer>): ErrorPages | null {
    if (statuses === undefined || statuses.length === 0 || pages.size === 0) return null;
    if (!statuses.some((s) => pages.has(s))) return null;
    return new ErrorPages(statuses, pages);
  }

  /** The `error-page-<status>` keys of the server settings as Buffers. */
  static pagesOf(errorPages: Readonly<Record<string, string>> | undefined): ReadonlyMap<number, Buffer> {
    const out = new Map<number, Buffer>();
    if (errorPages === undefined) return out;
    for (const key of Object.keys(errorPages)) out.set(Number(key), Buffer.from(errorPages[key] as string, "utf8"));
    return out;
  }

  /** The page for `status`, or null. */
  pageFor(status: number): Buffer | null {
    return status >= 400 && status < 600 ? (this.#pages[status - 400] ?? null) : null;
  }

  /** The response head of a page: [content-type, content-length, cache-control] (the member's headers are dropped). */
  head(status: number): string[] {
    return ["content-type", "text/html; charset=utf-8", "content-length", this.#lengths[status - 400] ?? "0", "cache-control", "no-store"];
  }
}
