/**
 * An in-memory Kubernetes API server over real HTTP on 127.0.0.1, for tests: list/watch the way
 * kube-apiserver speaks it (global resourceVersions, replay from a bounded history, bookmarks,
 * 410 Gone), create/get/update/patch/delete with optimistic concurrency and the Ingress `/status`
 * subresource, plus direct fault injection (drop or end watches, fail requests, compact history,
 * stop and restart on the same port). The real `@kubernetes/client-node` talks to it through
 * `kubeconfig()`.
 */
import { writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import { isObject, type JsonObject } from "./kube-api/json.js";
import { applyPatch } from "./kube-api/patch.js";
import { RESOURCES, apiVersionOf, findByKind, findByPath, groupVersions, type ResourceType } from "./kube-api/resources.js";
import { parseFieldSelector, parseLabelSelector } from "./kube-api/selectors.js";
import { KubeApiError, failureStatus, reasonForCode, successStatus } from "./kube-api/status.js";
import { Store, type KubeObject, type KubeObjectInput, type WriteMode } from "./kube-api/store.js";
import { WatchStream, inScope, type WatchInfo } from "./kube-api/watch.js";

export type { KubeObject, KubeObjectInput, ObjectMeta } from "./kube-api/store.js";
export type { ResourceType } from "./kube-api/resources.js";
export type { StatusObject } from "./kube-api/status.js";
export type { WatchInfo } from "./kube-api/watch.js";

export type KubeVerb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection";

/** One request as the stand-in saw it. `verb`/`resource` are null for discovery and unknown paths. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly verb: KubeVerb | null;
  /** API group ("" for core), as in an RBAC rule. */
  readonly group: string | null;
  /** Plural resource, with "/status" for the subresource (as in an RBAC rule): "ingresses/status". */
  readonly resource: string | null;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly contentType: string | undefined;
  /** HTTP status answered (0 until answered; 200 for a watch once the stream opened). */
  status: number;
}

export type RequestPredicate = (req: RecordedRequest) => boolean;

export interface KubeApiOptions {
  /** Port to listen on; 0 (default) picks a free one, kept across stop()/start(). */
  readonly port?: number;
  /** Bearer token the kubeconfig carries and the server requires (401 otherwise). */
  readonly token?: string;
  /** Interval of BOOKMARK events on watches that ask for them (`allowWatchBookmarks=true`). Default 1000 ms. */
  readonly bookmarkIntervalMs?: number;
  /** Changes kept for watch replay; older resourceVersions answer 410. Default 10 000. */
  readonly historyLimit?: number;
  /**
   * How a watch that starts from a compacted resourceVersion is refused: "status" (default) answers
   * HTTP 410 with a Status body; "event" answers 200 with one ERROR event (code 410) and ends the stream.
   */
  readonly goneOnWatchStart?: "status" | "event";
  /** Objects present from the start (applied in order). */
  readonly objects?: readonly KubeObjectInput[];
}

export interface KubeApi {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  /** Every request so far, in arrival order (including failed and injected-failure ones). */
  readonly requests: readonly RecordedRequest[];
  clearRequests(): void;
  /** The latest resourceVersion, as a string. */
  readonly resourceVersion: string;
  /** Watches currently streaming. */
  watches(): readonly WatchInfo[];

  /** kubeconfig YAML for this server (cluster `stand-in`, user with the token, context, namespace `default`). */
  kubeconfig(): string;
  /** Writes `kubeconfig()` to `DIR/kubeconfig` and returns the file path. */
  writeKubeconfig(dir: string): Promise<string>;

  /** Creates or replaces an object as given (status included, resourceVersion ignored); emits ADDED or MODIFIED. */
  apply(obj: KubeObjectInput): KubeObject;
  /** Deletes an object; emits DELETED. Returns false when it did not exist. `kind` may be a Kind or a plural. */
  remove(kind: string, namespace: string | undefined, name: string): boolean;
  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
  /** Objects of a kind, sorted by namespace/name, optionally of one namespace. */
  list(kind: string, namespace?: string): KubeObject[];

  /** Destroys every open watch socket abruptly (no final chunk). Returns how many. */
  dropWatches(): number;
  /** Ends every open watch stream cleanly, as kube-apiserver does at its request timeout. Returns how many. */
  endWatches(): number;
  /**
   * Answers matching API requests with `status` (a Status body) instead of serving them: a number
   * fails the next n requests, a predicate fails every request it matches until the returned
   * function is called.
   */
  failRequests(rule: number | RequestPredicate, status?: number): () => void;
  /**
   * Cuts the watch history: a watch from any older resourceVersion answers 410 Gone. Open watches
   * get an ERROR event with code 410 and are ended, unless `expireWatches` is false.
   */
  compact(options?: { expireWatches?: boolean }): void;
  /** Closes the listener and every connection (connection refused from now on); objects are kept. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** stop(), for good. */
  close(): Promise<void>;
}

interface FailureRule {
  readonly match: RequestPredicate;
  remaining: number;
  readonly status: number;
}

/** A parsed resource path. */
interface ResourceRoute {
  readonly resource: ResourceType;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly subresource: string | undefined;
}

const JSON_HEADERS = { "content-type": "application/json" } as const;

function parseResourcePath(segments: readonly string[]): ResourceRoute | "unknown" | null {
  let group: string;
  let version: string;
  let rest: readonly string[];
  if (segments[0] === "api" && segments.length >= 3) {
    group = "";
    version = segments[1] ?? "";
    rest = segments.slice(2);
  } else if (segments[0] === "apis" && segments.length >= 4) {
    group = segments[1] ?? "";
    version = segments[2] ?? "";
    rest = segments.slice(3);
  } else {
    return null;
  }
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural = "", name, subresource, ...extra] = rest;
  const resource = findByPath(group, version, plural);
  if (!resource || extra.length > 0) return "unknown";
  if (namespace !== undefined && !resource.namespaced) return "unknown";
  if (subresource !== undefined && !(subresource === "status" && resource.statusSubresource)) return "unknown";
  return { resource, namespace, name, subresource };
}

function verbFor(method: string, route: ResourceRoute, watch: boolean): KubeVerb | null {
  const item = route.name !== undefined;
  switch (method) {
    case "GET":
      return watch ? "watch" : item ? "get" : "list";
    case "POST":
      return item ? null : "create";
    case "PUT":
      return item ? "update" : null;
    case "PATCH":
      return item ? "patch" : null;
    case "DELETE":
      return item ? "delete" : "deletecollection";
    default:
      return null;
  }
}

function isWatch(query: Readonly<Record<string, string>>): boolean {
  return query.watch === "1" || query.watch === "true";
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { ...JSON_HEADERS, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new KubeApiError("BadRequest", "the body of the request is not valid JSON");
  }
}

/** List items carry no kind/apiVersion on a real server (only the list does). */
function listItem(obj: KubeObject): JsonObject {
  const item: JsonObject = { ...obj };
  delete item.kind;
  delete item.apiVersion;
  return item;
}

function kubeconfigYaml(url: string, token: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: stand-in",
    "    cluster:",
    `      server: ${url}`,
    "      insecure-skip-tls-verify: true",
    "users:",
    "  - name: stand-in",
    "    user:",
    `      token: ${token}`,
    "contexts:",
    "  - name: stand-in",
    "    context:",
    "      cluster: stand-in",
    "      user: stand-in",
    "      namespace: default",
    "current-context: stand-in",
    "",
  ].join("\n");
}

class StandInApi implements KubeApi {
  readonly token: string;
  readonly requests: RecordedRequest[] = [];
  readonly #store: Store;
  readonly #bookmarkIntervalMs: number;
  readonly #goneOnWatchStart: "status" | "event";
  readonly #watches = new Set<WatchStream>();
  readonly #sockets = new Set<Socket>();
  #failures: FailureRule[] = [];
  /** The matching objects of lists being paged, by continue-token id (see #page). */
  readonly #listSnapshots = new Map<number, readonly KubeObject[]>();
  #listSnapshotIds = 0;
  #server: Server | null = null;
  #port: number;

  constructor(options: KubeApiOptions) {
    this.token = options.token ?? "stand-in-token";
    this.#port = options.port ?? 0;
    this.#bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    this.#goneOnWatchStart = options.goneOnWatchStart ?? "status";
    this.#store = new Store(options.historyLimit ?? 10_000);
    this.#store.subscribe((event) => {
      for (const w of this.#watches) w.deliver(event);
    });
    for (const obj of options.objects ?? []) this.apply(obj);
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get resourceVersion(): string {
    return String(this.#store.resourceVersion);
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  watches(): readonly WatchInfo[] {
    return [...this.#watches].filter((w) => !w.closed).map((w) => w.info);
  }

  kubeconfig(): string {
    return kubeconfigYaml(this.url, this.token);
  }

  async writeKubeconfig(dir: string): Promise<string> {
    const file = join(dir, "kubeconfig");
    await writeFile(file, this.kubeconfig(), { mode: 0o600 });
    return file;
  }

  // --- direct store access -------------------------------------------------------------------

  apply(obj: KubeObjectInput): KubeObject {
    const resource = findByKind(obj.kind, obj.apiVersion);
    const name = obj.metadata.name ?? "";
    const namespace = resource.namespaced ? (obj.metadata.namespace ?? "default") : undefined;
    if (this.#store.get(resource, namespace, name)) return this.#store.update(resource, obj, namespace, name, "force");
    return this.#store.create(resource, obj, namespace);
  }

  remove(kind: string, namespace: string | undefined, name: string): boolean {
    const resource = findByKind(kind);
    if (!this.#store.get(resource, namespace, name)) return false;
    this.#store.delete(resource, namespace, name);
    return true;
  }

  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.#store.get(findByKind(kind), namespace, name);
  }

  list(kind: string, namespace?: string): KubeObject[] {
    return this.#store.list(findByKind(kind), namespace);
  }

  // --- faults --------------------------------------------------------------------------------

  dropWatches(): number {
    const open = [...this.#watches].filter((w) => !w.closed);
    for (const w of open) w.destroy();
    this.#watches.clear();
    return open.length;
  }

  endWatches(): number {
    const open = [...this.#watches].filter((w) => !w.closed);
    for (const w of open) w.end();
    this.#watches.clear();
    return open.length;
  }

  failRequests(rule: number | RequestPredicate, status = 500): () => void {
    const entry: FailureRule =
      typeof rule === "number" ? { match: () => true, remaining: rule, status } : { match: rule, remaining: Number.POSITIVE_INFINITY, status };
    this.#failures.push(entry);
    return () => {
      this.#failures = this.#failures.filter((f) => f !== entry);
    };
  }

  compact(options: { expireWatches?: boolean } = {}): void {
    const before = this.#store.resourceVersion;
    this.#store.compact();
    if (options.expireWatches === false) return;
    for (const w of [...this.#watches]) {
      w.write("ERROR", failureStatus(410, "Expired", `The resourceVersion for the provided watch is too old. (compacted at ${before})`));
      w.end();
    }
    this.#watches.clear();
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((req, res) => {
      void this.#handle(req, res);
    });
    server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const w of this.#watches) w.destroy();
    this.#watches.clear();
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    server.closeAllConnections();
    await closed;
  }

  close(): Promise<void> {
    return this.stop();
  }

  // --- HTTP ----------------------------------------------------------------------------------

  #takeFailure(rec: RecordedRequest): number | null {
    for (const f of this.#failures) {
      if (f.remaining > 0 && f.match(rec)) {
        f.remaining--;
        if (f.remaining <= 0) this.#failures = this.#failures.filter((x) => x !== f);
        return f.status;
      }
    }
    return null;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const segments = url.pathname.split("/").filter((s) => s !== "");
    const route = parseResourcePath(segments);
    const method = req.method ?? "GET";
    const routed = route !== null && route !== "unknown" ? route : null;
    const rec: RecordedRequest = {
      method,
      path: url.pathname,
      query,
      verb: routed ? verbFor(method, routed, isWatch(query)) : null,
      group: routed ? routed.resource.group : null,
      resource: routed ? routed.resource.plural + (routed.subresource ? `/${routed.subresource}` : "") : null,
      namespace: routed?.namespace,
      name: routed?.name,
      contentType: req.headers["content-type"],
      status: 0,
    };
    this.requests.push(rec);
    res.on("finish", () => {
      if (rec.status === 0) rec.status = res.statusCode;
    });
    const answer = (code: number, body: unknown): void => {
      rec.status = code;
      sendJson(res, code, body);
    };
    try {
      if (req.headers.authorization !== `Bearer ${this.token}`) {
        req.resume();
        throw new KubeApiError("Unauthorized", "Unauthorized");
      }
      const injected = this.#takeFailure(rec);
      if (injected !== null) {
        req.resume();
        answer(injected, failureStatus(injected, reasonForCode(injected), `injected failure (${injected})`));
        return;
      }
      if (route === null) {
        req.resume();
        this.#discovery(segments, answer);
        return;
      }
      if (route === "unknown") throw new KubeApiError("NotFound", "the server could not find the requested resource");
      if (rec.verb === null) throw new KubeApiError("MethodNotAllowed", `the server does not allow this method on the requested resource`);
      await this.#serve(req, res, route, rec.verb, query, answer);
      if (rec.status === 0 && res.headersSent) rec.status = res.statusCode;
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof KubeApiError) answer(err.code, err.toStatus());
      else answer(500, failureStatus(500, "InternalError", err instanceof Error ? err.message : String(err)));
    }
  }

  #discovery(segments: readonly string[], answer: (code: number, body: unknown) => void): void {
    const path = segments.join("/");
    const resourceList = (groupVersion: string, resources: readonly ResourceType[]): unknown => ({
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion,
      resources: resources.flatMap((r) => [
        { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs },
        ...(r.statusSubresource ? [{ name: `${r.plural}/status`, singularName: "", namespaced: r.namespaced, kind: r.kind, verbs: ["get", "patch", "update"] }] : []),
      ]),
    });
    const apiGroup = (group: string, versions: readonly string[]): unknown => {
      const list = versions.map((version) => ({ groupVersion: `${group}/${version}`, version }));
      return { kind: "APIGroup", apiVersion: "v1", name: group, versions: list, preferredVersion: list[0] };
    };
    if (path === "version") {
      answer(200, { major: "1", minor: "33", gitVersion: "v1.33.0-stand-in", gitCommit: "", gitTreeState: "clean", buildDate: "", goVersion: "", compiler: "", platform: `${process.platform}/${process.arch}` });
    } else if (path === "api") {
      answer(200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: `127.0.0.1:${this.#port}` }] });
    } else if (path === "api/v1") {
      answer(200, resourceList("v1", RESOURCES.filter((r) => r.group === "")));
    } else if (path === "apis") {
      answer(200, { kind: "APIGroupList", apiVersion: "v1", groups: groupVersions().map((g) => apiGroup(g.group, g.versions)) });
    } else if (segments[0] === "apis" && segments.length === 2) {
      const g = groupVersions().find((x) => x.group === segments[1]);
      if (!g) throw new KubeApiError("NotFound", "the server could not find the requested resource");
      answer(200, apiGroup(g.group, g.versions));
    } else if (segments[0] === "apis" && segments.length === 3) {
      const rs = RESOURCES.filter((r) => r.group === segments[1] && r.version === segments[2]);
      if (rs.length === 0) throw new KubeApiError("NotFound", "the server could not find the requested resource");
      answer(200, resourceList(`${segments[1]}/${segments[2]}`, rs));
    } else if (path === "healthz" || path === "livez" || path === "readyz") {
      answer(200, "ok");
    } else {
      throw new KubeApiError("NotFound", "the server could not find the requested resource");
    }
  }

  async #serve(
    req: IncomingMessage,
    res: ServerResponse,
    route: ResourceRoute,
    verb: KubeVerb,
    query: Readonly<Record<string, string>>,
    answer: (code: number, body: unknown) => void,
  ): Promise<void> {
    const { resource, namespace, name, subresource } = route;
    const store = this.#store;
    const mode: WriteMode = subresource === "status" ? "status" : "main";
    switch (verb) {
      case "list":
      case "watch":
      case "deletecollection": {
        const labels = parseLabelSelector(query.labelSelector ?? "");
        const fields = parseFieldSelector(query.fieldSelector ?? "", resource);
        if (verb === "watch") {
          req.resume();
          this.#watch(res, route, labels, fields, query);
          return;
        }
        const scope = { resource, namespace, labels, fields };
        const matchingNow = (): KubeObject[] => store.list(resource, namespace).filter((o) => inScope(scope, o));
        if (verb === "deletecollection") {
          const matching = matchingNow();
          await readBody(req);
          for (const o of matching) store.delete(resource, o.metadata.namespace, o.metadata.name);
          answer(200, { kind: `${resource.kind}List`, apiVersion: apiVersionOf(resource), metadata: { resourceVersion: String(store.resourceVersion) }, items: matching.map(listItem) });
          return;
        }
        req.resume();
        answer(200, this.#page(resource, matchingNow, query));
        return;
      }
      case "get": {
        req.resume();
        if (name === undefined) throw new KubeApiError("MethodNotAllowed", "no name");
        const found = store.get(resource, namespace, name);
        if (!found) throw store.notFound(resource, name);
        answer(200, found);
        return;
      }
      case "create": {
        answer(201, store.create(resource, await readBody(req), namespace));
        return;
      }
      case "update": {
        if (name === undefined) throw new KubeApiError("MethodNotAllowed", "no name");
        answer(200, store.update(resource, await readBody(req), namespace, name, mode));
        return;
      }
      case "patch": {
        if (name === undefined) throw new KubeApiError("MethodNotAllowed", "no name");
        const body = await readBody(req);
        const contentType = req.headers["content-type"] ?? "";
        answer(200, store.patch(resource, namespace, name, mode, (current) => applyPatch(contentType, current, body)));
        return;
      }
      case "delete": {
        if (name === undefined) throw new KubeApiError("MethodNotAllowed", "no name");
        const body = await readBody(req);
        const pre = isObject(body) && isObject(body.preconditions) ? body.preconditions : {};
        const deleted = store.delete(resource, namespace, name, {
          ...(typeof pre.resourceVersion === "string" ? { resourceVersion: pre.resourceVersion } : {}),
          ...(typeof pre.uid === "string" ? { uid: pre.uid } : {}),
        });
        answer(200, successStatus({ name, group: resource.group, kind: resource.plural, uid: deleted.metadata.uid }));
        return;
      }
    }
  }

  /**
   * `limit`/`continue` paging over the sorted result. As on kube-apiserver, every page of one list
   * is served from the state at the first page's resourceVersion (the matching objects are kept,
   * keyed by the token, until the last page is served), and a continue token whose list was
   * compacted since (or is unknown, e.g. after a restart) answers 410 Expired.
   */
  #page(resource: ResourceType, matchingNow: () => readonly KubeObject[], query: Readonly<Record<string, string>>): unknown {
    let items: readonly KubeObject[];
    let start = 0;
    let listRv = String(this.#store.resourceVersion);
    let id = 0;
    if (query.continue) {
      let token: unknown;
      try {
        token = JSON.parse(Buffer.from(query.continue, "base64url").toString("utf8"));
      } catch {
        token = null;
      }
      if (!isObject(token) || typeof token.rv !== "string" || typeof token.start !== "number" || typeof token.id !== "number") throw new KubeApiError("BadRequest", "continue key is not valid");
      const snapshot = this.#listSnapshots.get(token.id);
      if (snapshot === undefined || Number(token.rv) < this.#store.compactedRv) {
        throw new KubeApiError("Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.");
      }
      items = snapshot;
      start = token.start;
      listRv = token.rv;
      id = token.id;
    } else {
      items = matchingNow();
    }
    const limit = Number(query.limit ?? "0");
    const end = limit > 0 ? start + limit : items.length;
    const page = items.slice(start, end);
    const metadata: JsonObject = { resourceVersion: listRv };
    if (id !== 0) this.#listSnapshots.delete(id);
    if (end < items.length) {
      id = ++this.#listSnapshotIds;
      this.#listSnapshots.set(id, items);
      // A bounded number of lists in progress; the oldest token expires first.
      for (const old of this.#listSnapshots.keys()) {
        if (this.#listSnapshots.size <= 64) break;
        this.#listSnapshots.delete(old);
      }
      metadata.continue = Buffer.from(JSON.stringify({ rv: listRv, start: end, id })).toString("base64url");
      metadata.remainingItemCount = items.length - end;
    }
    return { kind: `${resource.kind}List`, apiVersion: apiVersionOf(resource), metadata, items: page.map(listItem) };
  }

  #watch(
    res: ServerResponse,
    route: ResourceRoute,
    labels: ReturnType<typeof parseLabelSelector>,
    fields: ReturnType<typeof parseFieldSelector>,
    query: Readonly<Record<string, string>>,
  ): void {
    const store = this.#store;
    const { resource, namespace, name } = route;
    const scopedFields = name === undefined ? fields : [...fields, { field: "metadata.name", value: name, negate: false }];
    const scope = { resource, namespace, labels, fields: scopedFields };
    const rvParam = query.resourceVersion ?? "";
    if (rvParam !== "" && !/^\d+$/.test(rvParam)) throw new KubeApiError("BadRequest", `invalid resourceVersion ${JSON.stringify(rvParam)}`);
    const fromRv = rvParam === "" || rvParam === "0" ? null : Number(rvParam);
    const replay = fromRv === null ? null : store.since(fromRv);
    if (replay === "gone" && this.#goneOnWatchStart === "status") {
      throw new KubeApiError("Expired", `too old resource version: ${fromRv} (${store.compactedRv})`);
    }
    const stream = new WatchStream(res, scope, {
      resource: resource.plural,
      namespace,
      labelSelector: query.labelSelector,
      fieldSelector: query.fieldSelector,
      bookmarks: query.allowWatchBookmarks === "true",
      startedAt: Date.now(),
    });
    stream.open();
    if (replay === "gone") {
      stream.write("ERROR", failureStatus(410, "Expired", `too old resource version: ${fromRv} (${store.compactedRv})`));
      stream.end();
      return;
    }
    // Replay and subscription happen in the same tick: no change can fall between them.
    if (replay === null) {
      for (const obj of store.list(resource, namespace)) stream.deliver({ rv: 0, type: "ADDED", resource, object: obj, previous: null });
    } else {
      for (const event of replay) stream.deliver(event);
    }
    this.#watches.add(stream);
    res.on("close", () => this.#watches.delete(stream));
    if (stream.info.bookmarks) stream.startBookmarks(this.#bookmarkIntervalMs, () => store.resourceVersion);
    const timeout = Number(query.timeoutSeconds ?? "0");
    if (timeout > 0) stream.endAfter(timeout * 1000);
  }
}

/** Starts a stand-in API server on 127.0.0.1 (port 0 unless `options.port`). */
export async function startKubeApi(options: KubeApiOptions = {}): Promise<KubeApi> {
  const api = new StandInApi(options);
  await api.start();
  return api;
}
