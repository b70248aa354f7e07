// The Ingress status writer: while this replica is leader, every Ingress the controller serves
// (the build's `accepted` list; never another class's Ingress) gets `status.loadBalancer.ingress`
// set to the controller's addresses:
//
// - with `--publish-service NS/NAME`: that Service's `status.loadBalancer.ingress` (ip/hostname),
//   else its `spec.externalIPs`, else its `spec.clusterIP` (in that order);
// - without it: the addresses of the nodes running controller pods. The pods are those matching
//   `podSelector` in the controller namespace, else the controller's own pod (`POD_NAME`); each
//   pod's `spec.nodeName` is looked up and the Node contributes its ExternalIP addresses, or its
//   InternalIP addresses when it has no ExternalIP. Without POD_NAME and selector nothing is written.
//
// A write happens only when the current status differs: the writer remembers, per Ingress, the
// status it last saw at which resourceVersion. The first pass after becoming leader (and any pass
// with many Ingresses to read) starts from one paged LIST of the Ingresses (`limit` 500, across all
// namespaces or in `watchNamespace`), which gives every current status and resourceVersion at once;
// an Ingress's /status subresource is read on its own (GET) only when the view shows a newer
// resourceVersion than the one known or listed for it. Writes are JSON merge patches of /status.
// (resourceVersions are compared as integers, as etcd issues them; any other form is treated as
// "maybe newer", which costs a GET and is never wrong.)
// observe() only records the newest build and marks work due: one pass runs at a time, passes are at
// least `minPassIntervalMs` apart, and every API call goes through a token bucket, so a storm of
// builds costs one pass. On becoming leader the writer forgets what it knew and does a full pass;
// addresses are re-resolved every `resyncIntervalMs` while leader (a publish Service or Node change
// does not trigger a build). When an Ingress stops being accepted while it still exists, its status
// is cleared only if it still holds the addresses this controller writes.
import {
  CoreV1Api,
  NetworkingV1Api,
  PatchStrategy,
  type KubeConfig,
  type V1IngressList,
  type V1IngressLoadBalancerIngress,
  type V1Node,
  type V1Pod,
  type V1PodList,
  type V1Service,
} from "@kubernetes/client-node";
import type { BuildObservation, BuildObserver } from "../model/index.js";
import type { Logger } from "../util/index.js";
import { KubeError, statusOf } from "./errors.js";
import { apiCallOptions, describeApiError } from "./api-call.js";
import type { ControllerInstance, Leadership } from "./leader.js";
import type { NamespacedName } from "./source.js";

/** The controller's addresses cannot be determined (publish Service without address, pods not scheduled, no POD_NAME). */
export class StatusAddressError extends KubeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("PPI_ERR_STATUS_ADDRESSES", message, options);
  }
}

/** Some Ingress status reads or writes of a pass failed (the pass is retried). */
export class StatusWriteError extends KubeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("PPI_ERR_STATUS_WRITE", message, options);
  }
}

/** One entry of `status.loadBalancer.ingress`. */
export interface LoadBalancerAddress {
  readonly ip?: string;
  readonly hostname?: string;
}

export interface StatusRateLimit {
  /** API calls (status reads and writes) per second. */
  readonly perSecond: number;
  readonly burst: number;
}

export const defaultStatusRateLimit: StatusRateLimit = Object.freeze({ perSecond: 50, burst: 100 });

export interface IngressStatusWriterOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** Statuses are written only while this says leader. */
  readonly leadership: Leadership;
  /** Controller namespace and POD_NAME (for node addresses). */
  readonly instance: ControllerInstance;
  /** `--publish-service NS/NAME`. */
  readonly publishService?: NamespacedName | undefined;
  /** Label selector of the controller pods (in the controller namespace) whose nodes give the addresses; default: the own pod (POD_NAME). */
  readonly podSelector?: string | undefined;
  /** Least time between two passes (default 1 000 ms). */
  readonly minPassIntervalMs?: number;
  /** While leader, addresses are re-resolved this often (default 30 000 ms). */
  readonly resyncIntervalMs?: number;
  /** First retry delay after a failed pass (default 2 000 ms), doubling up to 30 000 ms. */
  readonly retryMs?: number;
  readonly rateLimit?: StatusRateLimit;
  /** `--watch-namespace`: the Ingress LIST is made in this namespace; default all namespaces. */
  readonly watchNamespace?: string | undefined;
  /** Items per page of the Ingress LIST (default 500). */
  readonly listPageSize?: number;
  /** A request not answered within this fails (default 10 000 ms). */
  readonly requestTimeoutMs?: number;
  readonly now?: () => number;
}

interface Known {
  /** resourceVersion of the Ingress when `status` was seen or written. */
  readonly rv: string;
  /** statusKey of its status.loadBalancer.ingress. */
  readonly status: string;
}

/** Sorted, deduplicated ip/hostname entries. */
export function normaliseAddresses(entries: ReadonlyArray<V1IngressLoadBalancerIngress | LoadBalancerAddress> | undefined | null): LoadBalancerAddress[] {
  const byKey = new Map<string, LoadBalancerAddress>();
  for (const e of entries ?? []) {
    const entry: { ip?: string; hostname?: string; ports?: unknown } = {};
    if (e.ip !== undefined && e.ip !== "") entry.ip = e.ip;
    if (e.hostname !== undefined && e.hostname !== "") entry.hostname = e.hostname;
    // Ports are never written by us: an entry carrying them differs from ours.
    if ("ports" in e && Array.isArray(e.ports) && e.ports.length > 0) entry.ports = e.ports;
    if (Object.keys(entry).length > 0) byKey.set(JSON.stringify(entry), entry);
  }
  return [...byKey.values()].sort((a, b) => (a.ip ?? "").localeCompare(b.ip ?? "") || (a.hostname ?? "").localeCompare(b.hostname ?? ""));
}

function statusKey(addresses: ReadonlyArray<LoadBalancerAddress>): string {
  return JSON.stringify(addresses);
}

/**
 * Whether what is known at resourceVersion `known` is as new as the view's `view`: equal, or both
 * integers with known >= view. Anything else counts as "the view may be newer".
 */
function coversVersion(known: string, view: string): boolean {
  if (known === view) return true;
  if (!/^\d+$/.test(known) || !/^\d+$/.test(view)) return false;
  return BigInt(known) >= BigInt(view);
}

function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf("/");
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

function abortError(): Error {
  return new DOMException("status pass aborted", "AbortError");
}

/** Sleeps `ms` (timer unref'd); rejects at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    timer.unref();
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Writes `status.loadBalancer.ingress` of the accepted Ingresses while leader. A BuildObserver:
 * the reconcile loop calls observe() after each live build; start() subscribes to leadership.
 */
export class IngressStatusWriter implements BuildObserver {
  readonly #networking: NetworkingV1Api;
  readonly #core: CoreV1Api;
  readonly #log: Logger;
  readonly #leadership: Leadership;
  readonly #instance: ControllerInstance;
  readonly #publishService: NamespacedName | undefined;
  readonly #podSelector: string | undefined;
  readonly #minPassIntervalMs: number;
  readonly #resyncIntervalMs: number;
  readonly #retryMs: number;
  readonly #rate: StatusRateLimit;
  readonly #requestTimeoutMs: number;
  readonly #watchNamespace: string | undefined;
  readonly #listPageSize: number;
  readonly #now: () => number;
  readonly #known = new Map<string, Known>();
  /** Ingresses that were accepted and no longer are: their status is cleared when ours. */
  readonly #pendingClear = new Set<string>();
  #accepted = new Set<string>();
  #observation: BuildObservation | null = null;
  #unsubscribe: Array<() => void> = [];
  #started = false;
  #closed = false;
  #dirty = false;
  #timer: NodeJS.Timeout | null = null;
  #resync: NodeJS.Timeout | null = null;
  #pass: Promise<void> | null = null;
  #passAbort: AbortController | null = null;
  #lastPassAt = Number.NEGATIVE_INFINITY;
  #retryAt = Number.NEGATIVE_INFINITY;
  #failures = 0;
  #tokens: number;
  #refilledAt: number;
  #addressesKey: string | null = null;
  #logState = "";
  #writes = 0;
  #passes = 0;
  /** Set on becoming leader: the next pass starts from a LIST. */
  #listDue = true;
  #lists = 0;
  #reads = 0;

  constructor(options: IngressStatusWriterOptions) {
    this.#networking = options.kubeConfig.makeApiClient(NetworkingV1Api);
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#log = options.logger;
    this.#leadership = options.leadership;
    this.#instance = options.instance;
    this.#publishService = options.publishService;
    this.#podSelector = options.podSelector;
    this.#minPassIntervalMs = options.minPassIntervalMs ?? 1000;
    this.#resyncIntervalMs = options.resyncIntervalMs ?? 30_000;
    this.#retryMs = options.retryMs ?? 2000;
    this.#rate = options.rateLimit ?? defaultStatusRateLimit;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#watchNamespace = options.watchNamespace === "" ? undefined : options.watchNamespace;
    this.#listPageSize = Math.max(1, options.listPageSize ?? 500);
    this.#now = options.now ?? Date.now;
    this.#tokens = this.#rate.burst;
    this.#refilledAt = this.#now();
  }

  /** Status writes (sets and clears) made so far. */
  get writes(): number {
    return this.#writes;
  }

  /** Ingress LIST requests (pages) made so far. */
  get lists(): number {
    return this.#lists;
  }

  /** Single-Ingress status reads (GET ingresses/status) made so far. */
  get reads(): number {
    return this.#reads;
  }

  /** Passes completed (successful or not), for tests and metrics. */
  get passes(): number {
    return this.#passes;
  }

  /** The addresses written by the last successful pass (null before one). */
  get addresses(): ReadonlyArray<LoadBalancerAddress> | null {
    return this.#addressesKey === null ? null : (JSON.parse(this.#addressesKey) as LoadBalancerAddress[]);
  }

  /** Subscribes to leadership; if already leader, starts a full pass. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#unsubscribe = [this.#leadership.onStartedLeading(() => this.#onStartedLeading()), this.#leadership.onStoppedLeading(() => this.#onStoppedLeading())];
    if (this.#leadership.isLeader) this.#onStartedLeading();
  }

  observe(observation: BuildObservation): void {
    if (this.#closed) return;
    const accepted = new Set(observation.accepted);
    for (const key of this.#accepted) if (!accepted.has(key)) this.#pendingClear.add(key);
    for (const key of accepted) this.#pendingClear.delete(key);
    this.#accepted = accepted;
    this.#observation = observation;
    this.#dirty = true;
    this.#kick();
  }

  /** Stops timers and any pass in progress; resolves once it ended. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#unsubscribe = [];
    this.#stopTimers();
    this.#passAbort?.abort();
    await this.#pass;
  }

  #onStartedLeading(): void {
    if (this.#closed) return;
    this.#known.clear();
    this.#listDue = true;
    this.#failures = 0;
    this.#retryAt = Number.NEGATIVE_INFINITY;
    this.#dirty = true;
    this.#resync ??= setInterval(() => {
      this.#dirty = true;
      this.#kick();
    }, this.#resyncIntervalMs);
    this.#resync.unref();
    this.#log.info({ publishService: this.#publishService === undefined ? undefined : `${this.#publishService.namespace}/${this.#publishService.name}` }, "leader: writing Ingress status");
    this.#kick();
  }

  #onStoppedLeading(): void {
    this.#stopTimers();
    this.#passAbort?.abort();
    this.#known.clear();
    this.#logState = "";
  }

  #stopTimers(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#resync !== null) clearInterval(this.#resync);
    this.#resync = null;
  }

  /** Schedules a pass if one is due and none is running or scheduled. */
  #kick(): void {
    if (!this.#started || this.#closed || !this.#dirty || !this.#leadership.isLeader) return;
    if (this.#pass !== null || this.#timer !== null || this.#observation === null) return;
    const now = this.#now();
    const wait = Math.max(0, this.#lastPassAt + this.#minPassIntervalMs - now, this.#retryAt - now);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#pass = this.#runPass().finally(() => {
        this.#pass = null;
        this.#kick();
      });
    }, wait);
    this.#timer.unref();
  }

  async #runPass(): Promise<void> {
    const observation = this.#observation;
    if (observation === null || !this.#leadership.isLeader || this.#closed) return;
    this.#dirty = false;
    const abort = new AbortController();
    this.#passAbort = abort;
    try {
      await this.#passOver(observation, abort.signal);
      this.#failures = 0;
      this.#retryAt = Number.NEGATIVE_INFINITY;
      this.#logOnce("ok", () => this.#log.info({ addresses: this.#addressesKey }, "Ingress status up to date"));
    } catch (err) {
      if (abort.signal.aborted) return;
      this.#dirty = true;
      this.#failures++;
      const delay = Math.min(30_000, this.#retryMs * 2 ** Math.min(this.#failures - 1, 10));
      this.#retryAt = this.#now() + delay;
      const message = err instanceof KubeError ? err.message : describeApiError(err);
      const code = err instanceof KubeError ? err.code : "PPI_ERR_STATUS_WRITE";
      this.#logOnce(`error:${message}`, () => this.#log.warn({ err: message, code, retryMs: delay }, "Ingress status not written; retrying"));
    } finally {
      this.#passAbort = null;
      this.#lastPassAt = this.#now();
      this.#passes++;
    }
  }

  async #passOver(observation: BuildObservation, signal: AbortSignal): Promise<void> {
    const addresses = await this.#resolveAddresses(signal);
    const desired = statusKey(addresses);
    if (desired !== this.#addressesKey) {
      this.#log.info({ addresses: desired }, "controller addresses for Ingress status");
      this.#addressesKey = desired;
    }
    const versions = new Map<string, string>();
    for (const ing of observation.view.ingresses) versions.set(`${ing.metadata.namespace}/${ing.metadata.name}`, ing.metadata.resourceVersion ?? "");
    // Ingresses whose current status is not known at (at least) the view's resourceVersion.
    let unknown = 0;
    for (const key of observation.accepted) {
      const rv = versions.get(key);
      if (rv === undefined) continue;
      const known = this.#known.get(key);
      if (known === undefined || !coversVersion(known.rv, rv)) unknown++;
    }
    for (const key of this.#pendingClear) if (versions.has(key)) unknown++;
    // One LIST costs a request per page: cheaper than GETs as soon as a few pages' worth are unknown.
    const pages = Math.max(1, Math.ceil(versions.size / this.#listPageSize));
    let listed: Map<string, Known> | null = null;
    if (unknown > 0 && (this.#listDue || unknown > 4 * pages)) {
      try {
        listed = await this.#listStatuses(signal);
        this.#listDue = false;
      } catch (err) {
        if (signal.aborted) throw err;
        // Not fatal (e.g. a Role without cluster-wide list): this pass reads the Ingresses one by one.
        this.#log.warn({ err: describeApiError(err), namespace: this.#watchNamespace }, "Ingress list for status failed; reading statuses one by one");
      }
    }
    let failed = 0;
    let firstError: unknown;
    const attempt = async (work: () => Promise<void>): Promise<void> => {
      try {
        await work();
      } catch (err) {
        if (signal.aborted) throw err;
        failed++;
        firstError ??= err;
      }
    };
    for (const key of observation.accepted) {
      const rv = versions.get(key);
      if (rv === undefined) continue;
      const fromList = listed?.get(key);
      if (fromList !== undefined) {
        const known = this.#known.get(key);
        if (known === undefined || !coversVersion(known.rv, fromList.rv)) this.#known.set(key, fromList);
      }
      await attempt(() => this.#ensure(key, rv, addresses, desired, signal));
    }
    for (const key of [...this.#pendingClear]) {
      const rv = versions.get(key);
      if (rv === undefined) {
        this.#pendingClear.delete(key);
        this.#known.delete(key);
        continue;
      }
      const fromList = listed?.get(key);
      await attempt(async () => {
        await this.#clear(key, desired, fromList !== undefined && coversVersion(fromList.rv, rv) ? fromList : undefined, signal);
        this.#pendingClear.delete(key);
      });
    }
    if (failed > 0) throw new StatusWriteError(`${failed} Ingress status update(s) failed, first: ${describeApiError(firstError)}`, { cause: firstError });
  }

  /** Status and resourceVersion of every Ingress in scope, by "namespace/name": one paged LIST. */
  async #listStatuses(signal: AbortSignal): Promise<Map<string, Known>> {
    const result = new Map<string, Known>();
    let token: string | undefined;
    do {
      await this.#take(signal);
      const options = apiCallOptions(this.#signal(signal));
      const page: V1IngressList =
        this.#watchNamespace === undefined
          ? await this.#networking.listIngressForAllNamespaces({ limit: this.#listPageSize, ...(token !== undefined ? { _continue: token } : {}) }, options)
          : await this.#networking.listNamespacedIngress({ namespace: this.#watchNamespace, limit: this.#listPageSize, ...(token !== undefined ? { _continue: token } : {}) }, options);
      this.#lists++;
      for (const ing of page.items) {
        const namespace = ing.metadata?.namespace;
        const name = ing.metadata?.name;
        if (namespace === undefined || name === undefined) continue;
        result.set(`${namespace}/${name}`, { rv: ing.metadata?.resourceVersion ?? "", status: statusKey(normaliseAddresses(ing.status?.loadBalancer?.ingress)) });
      }
      const next = page.metadata?._continue;
      token = next !== undefined && next !== "" ? next : undefined;
    } while (token !== undefined);
    return result;
  }

  /**
   * Makes one accepted Ingress's status `addresses`. The status known for it is used when it is at
   * least as new as the view's resourceVersion; otherwise it is read (GET) first.
   */
  async #ensure(key: string, viewRv: string, addresses: ReadonlyArray<LoadBalancerAddress>, desired: string, signal: AbortSignal): Promise<void> {
    const known = this.#known.get(key);
    let current: Known | null | undefined = known !== undefined && coversVersion(known.rv, viewRv) ? known : undefined;
    if (current?.status === desired) return;
    const { namespace, name } = splitKey(key);
    current ??= await this.#readStatus(namespace, name, signal);
    if (current === null) {
      this.#known.delete(key);
      return;
    }
    if (current.status === desired) {
      this.#known.set(key, current);
      return;
    }
    const rv = await this.#patchStatus(namespace, name, addresses, signal);
    if (rv === null) {
      this.#known.delete(key);
      return;
    }
    this.#known.set(key, { rv, status: desired });
    this.#log.info({ ingress: key, addresses: desired }, "Ingress status written");
  }

  /** Clears the status of an Ingress no longer accepted, if it holds our addresses (or what we last wrote). */
  async #clear(key: string, desired: string, listed: Known | undefined, signal: AbortSignal): Promise<void> {
    const ours = this.#known.get(key)?.status;
    this.#known.delete(key);
    const { namespace, name } = splitKey(key);
    const current = listed ?? (await this.#readStatus(namespace, name, signal));
    if (current === null || current.status === statusKey([])) return;
    if (current.status !== desired && current.status !== ours) return;
    const rv = await this.#patchStatus(namespace, name, null, signal);
    if (rv !== null) this.#log.info({ ingress: key }, "Ingress no longer served: status cleared");
  }

  /** status of an Ingress and its resourceVersion; null when it no longer exists. */
  async #readStatus(namespace: string, name: string, signal: AbortSignal): Promise<Known | null> {
    await this.#take(signal);
    this.#reads++;
    try {
      const ing = await this.#networking.readNamespacedIngressStatus({ name, namespace }, apiCallOptions(this.#signal(signal)));
      return { rv: ing.metadata?.resourceVersion ?? "", status: statusKey(normaliseAddresses(ing.status?.loadBalancer?.ingress)) };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  /** Merge-patches status.loadBalancer.ingress (null clears it); returns the new resourceVersion, null when the Ingress is gone. */
  async #patchStatus(namespace: string, name: string, addresses: ReadonlyArray<LoadBalancerAddress> | null, signal: AbortSignal): Promise<string | null> {
    await this.#take(signal);
    // Leadership can end while waiting for a token.
    if (!this.#leadership.isLeader || signal.aborted) throw abortError();
    try {
      const body = { status: { loadBalancer: { ingress: addresses } } };
      const ing = await this.#networking.patchNamespacedIngressStatus({ name, namespace, body }, apiCallOptions(this.#signal(signal), PatchStrategy.MergePatch));
      this.#writes++;
      return ing.metadata?.resourceVersion ?? "";
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async #resolveAddresses(signal: AbortSignal): Promise<LoadBalancerAddress[]> {
    const svc = this.#publishService;
    if (svc !== undefined) {
      await this.#take(signal);
      let service: V1Service;
      try {
        service = await this.#core.readNamespacedService({ name: svc.name, namespace: svc.namespace }, apiCallOptions(this.#signal(signal)));
      } catch (err) {
        throw new StatusAddressError(`publish service ${svc.namespace}/${svc.name}: ${describeApiError(err)}`, { cause: err });
      }
      const lb = normaliseAddresses((service.status?.loadBalancer?.ingress ?? []).map((e) => ({ ip: e.ip, hostname: e.hostname })));
      if (lb.length > 0) return lb;
      const external = normaliseAddresses((service.spec?.externalIPs ?? []).map((ip) => ({ ip })));
      if (external.length > 0) return external;
      const clusterIP = service.spec?.clusterIP;
      if (clusterIP !== undefined && clusterIP !== "" && clusterIP !== "None") return [{ ip: clusterIP }];
      throw new StatusAddressError(`publish service ${svc.namespace}/${svc.name} has no load-balancer ingress, external IPs or cluster IP`);
    }
    const nodes = await this.#controllerNodes(signal);
    const addresses: LoadBalancerAddress[] = [];
    for (const nodeName of nodes) {
      await this.#take(signal);
      let node: V1Node;
      try {
        node = await this.#core.readNode({ name: nodeName }, apiCallOptions(this.#signal(signal)));
      } catch (err) {
        throw new StatusAddressError(`node ${nodeName}: ${describeApiError(err)}`, { cause: err });
      }
      const all = node.status?.addresses ?? [];
      const external = all.filter((a) => a.type === "ExternalIP" && a.address !== "");
      const chosen = external.length > 0 ? external : all.filter((a) => a.type === "InternalIP" && a.address !== "");
      for (const a of chosen) addresses.push({ ip: a.address });
    }
    const result = normaliseAddresses(addresses);
    if (result.length === 0) throw new StatusAddressError(`nodes ${nodes.join(", ")} have no ExternalIP or InternalIP address`);
    return result;
  }

  /** Names of the nodes running controller pods (sorted, deduplicated). */
  async #controllerNodes(signal: AbortSignal): Promise<string[]> {
    const namespace = this.#instance.namespace;
    const selector = this.#podSelector;
    const names = new Set<string>();
    if (selector !== undefined && selector !== "") {
      await this.#take(signal);
      let pods: V1PodList;
      try {
        pods = await this.#core.listNamespacedPod({ namespace, labelSelector: selector }, apiCallOptions(this.#signal(signal)));
      } catch (err) {
        throw new StatusAddressError(`controller pods (${namespace}, ${selector}): ${describeApiError(err)}`, { cause: err });
      }
      for (const pod of pods.items) {
        const phase = pod.status?.phase;
        if (pod.metadata?.deletionTimestamp !== undefined || phase === "Succeeded" || phase === "Failed") continue;
        const node = pod.spec?.nodeName;
        if (node !== undefined && node !== "") names.add(node);
      }
      if (names.size === 0) throw new StatusAddressError(`no running controller pod (${namespace}, ${selector}) is scheduled on a node`);
    } else {
      const podName = this.#instance.podName;
      if (podName === undefined) throw new StatusAddressError("cannot find the controller's nodes: set POD_NAME (downward API) or a pod selector, or use --publish-service");
      await this.#take(signal);
      let pod: V1Pod;
      try {
        pod = await this.#core.readNamespacedPod({ name: podName, namespace }, apiCallOptions(this.#signal(signal)));
      } catch (err) {
        throw new StatusAddressError(`controller pod ${namespace}/${podName}: ${describeApiError(err)}`, { cause: err });
      }
      const node = pod.spec?.nodeName;
      if (node === undefined || node === "") throw new StatusAddressError(`controller pod ${namespace}/${podName} is not scheduled on a node`);
      names.add(node);
    }
    return [...names].sort();
  }

  #signal(pass: AbortSignal): AbortSignal {
    return AbortSignal.any([pass, AbortSignal.timeout(this.#requestTimeoutMs)]);
  }

  /** Token bucket over every API call of the writer. */
  async #take(signal: AbortSignal): Promise<void> {
    for (;;) {
      if (signal.aborted) throw abortError();
      const now = this.#now();
      this.#tokens = Math.min(this.#rate.burst, this.#tokens + ((now - this.#refilledAt) / 1000) * this.#rate.perSecond);
      this.#refilledAt = now;
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return;
      }
      await sleep(Math.ceil(((1 - this.#tokens) / this.#rate.perSecond) * 1000), signal);
    }
  }

  #logOnce(state: string, log: () => void): void {
    if (state === this.#logState) return;
    this.#logState = state;
    log();
  }
}
