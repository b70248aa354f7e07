// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: every
// retry period each instance reads the Lease; the holder renews it (update with the read
// resourceVersion), the others take it over only once it is released or expired. The API server's
// optimistic concurrency (409 Conflict on a stale resourceVersion) decides every race, so two
// instances can never both believe they hold it from the same record. A leader that cannot renew
// for the renew deadline steps down on its own, before the lease expires for the others.
import { randomBytes } from "node:crypto";
import { hostname as osHostname } from "node:os";
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "../util/index.js";
import { apiCallOptions, describeApiError } from "./api-call.js";
import { KubeError, describeError, statusOf } from "./errors.js";

export const defaultElectionId = "proxypass-ingress-leader";

/** Invalid election timings (renew deadline must be below the lease duration, retry period below the renew deadline). */
export class LeaderElectionConfigError extends KubeError {
  constructor(message: string) {
    super("PPI_ERR_LEADER_ELECTION_CONFIG", message);
  }
}

/** Leadership was given up because the Lease could not be renewed within the renew deadline. */
export class LeaseRenewDeadlineError extends KubeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("PPI_ERR_LEADER_RENEW_DEADLINE", message, options);
  }
}

/** Who this controller process is: where its Lease lives, its pod (if known) and its election identity. */
export interface ControllerInstance {
  /** Namespace of the controller (Lease, own pod): `POD_NAMESPACE`, else the option, else "default". */
  readonly namespace: string;
  /** `POD_NAME` (downward API), if set. */
  readonly podName: string | undefined;
  /** Lease holder identity: "NAMESPACE/POD_NAME" (or POD_NAME), else "HOSTNAME_RANDOM". */
  readonly identity: string;
}

export interface ControllerInstanceInputs {
  /** `POD_NAME`, `POD_NAMESPACE`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Fallback namespace when `POD_NAMESPACE` is unset. */
  readonly namespace?: string | undefined;
  readonly hostname?: string;
  /** Random suffix (tests pin it); default 8 hex digits. */
  readonly randomSuffix?: () => string;
}

/**
 * Resolves the controller's namespace and election identity from the downward API variables.
 * Without `POD_NAME` the identity is the hostname plus a random suffix, so two instances on one host
 * (or two restarts of one) stay distinct.
 */
export function resolveControllerInstance(inputs: ControllerInstanceInputs): ControllerInstance {
  const podNamespace = nonEmpty(inputs.env["POD_NAMESPACE"]);
  const podName = nonEmpty(inputs.env["POD_NAME"]);
  const namespace = podNamespace ?? nonEmpty(inputs.namespace) ?? "default";
  let identity: string;
  if (podName !== undefined) identity = podNamespace !== undefined ? `${podNamespace}/${podName}` : podName;
  else identity = `${inputs.hostname ?? osHostname()}_${(inputs.randomSuffix ?? (() => randomBytes(4).toString("hex")))()}`;
  return { namespace, podName, identity };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** What the status writer needs of an elector. */
export interface Leadership {
  readonly isLeader: boolean;
  /** Called (synchronously, once) each time this instance becomes leader. Returns an unsubscribe function. */
  onStartedLeading(listener: () => void): () => void;
  /** Called each time this instance stops being leader (lost, deadline passed, or stop()). */
  onStoppedLeading(listener: () => void): () => void;
}

export interface LeaderElectorOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  readonly instance: ControllerInstance;
  /** Lease name (`--election-id`); default `proxypass-ingress-leader`. */
  readonly electionId?: string;
  /** Lease validity, written as whole seconds (rounded up); default 15 s. */
  readonly leaseDurationMs?: number;
  /** A leader that could not renew for this long steps down; default 10 s. */
  readonly renewDeadlineMs?: number;
  /** Interval of acquire/renew attempts; default 2 s. */
  readonly retryPeriodMs?: number;
  /** Clock (ms since the epoch); default Date.now. */
  readonly now?: () => number;
}

export const defaultLeaderTimings = Object.freeze({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });

type Attempt =
  | { readonly kind: "leader"; readonly renewedAt: number; readonly transitions: number }
  | { readonly kind: "follower"; readonly holder: string }
  | { readonly kind: "conflict" };

function timeOf(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value === "string") {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/**
 * Elects one leader among the controller replicas. start() begins the acquire/renew loop; stop()
 * steps down and releases the Lease (holder cleared) so another replica takes over at once.
 */
export class LeaderElector implements Leadership {
  readonly #api: CoordinationV1Api;
  readonly #log: Logger;
  readonly #identity: string;
  readonly #namespace: string;
  readonly #name: string;
  readonly #leaseDurationSeconds: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #requestTimeoutMs: number;
  readonly #now: () => number;
  readonly #started = new Set<() => void>();
  readonly #stopped = new Set<() => void>();
  readonly #abort = new AbortController();
  #leader = false;
  #running = false;
  #closed = false;
  #timer: NodeJS.Timeout | null = null;
  #inFlight: Promise<void> | null = null;
  /** renewTime of the last successful acquire/renew we wrote. */
  #renewedAt = 0;
  /** The Lease record as last read (resourceVersion) and when we first saw it, for expiry that does not trust other clocks. */
  #observedVersion: string | undefined;
  #observedAt = 0;
  #logState = "";
  #transitions = 0;

  constructor(options: LeaderElectorOptions) {
    const leaseDurationMs = options.leaseDurationMs ?? defaultLeaderTimings.leaseDurationMs;
    const renewDeadlineMs = options.renewDeadlineMs ?? defaultLeaderTimings.renewDeadlineMs;
    const retryPeriodMs = options.retryPeriodMs ?? defaultLeaderTimings.retryPeriodMs;
    if (!(retryPeriodMs > 0 && renewDeadlineMs > retryPeriodMs && leaseDurationMs > renewDeadlineMs)) {
      throw new LeaderElectionConfigError(`leader election needs 0 < retry period (${retryPeriodMs} ms) < renew deadline (${renewDeadlineMs} ms) < lease duration (${leaseDurationMs} ms)`);
    }
    this.#api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.#log = options.logger;
    this.#identity = options.instance.identity;
    this.#namespace = options.instance.namespace;
    this.#name = options.electionId ?? defaultElectionId;
    this.#leaseDurationSeconds = Math.max(1, Math.ceil(leaseDurationMs / 1000));
    this.#renewDeadlineMs = renewDeadlineMs;
    this.#retryPeriodMs = retryPeriodMs;
    this.#requestTimeoutMs = Math.max(retryPeriodMs, Math.floor(renewDeadlineMs / 2));
    this.#now = options.now ?? Date.now;
  }

  get identity(): string {
    return this.#identity;
  }

  /** "namespace/name" of the Lease. */
  get lease(): string {
    return `${this.#namespace}/${this.#name}`;
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** How many times this instance became leader. */
  get transitions(): number {
    return this.#transitions;
  }

  onStartedLeading(listener: () => void): () => void {
    this.#started.add(listener);
    return () => this.#started.delete(listener);
  }

  onStoppedLeading(listener: () => void): () => void {
    this.#stopped.add(listener);
    return () => this.#stopped.delete(listener);
  }

  /** Starts the acquire/renew loop (first attempt at once). */
  start(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    this.#log.info({ lease: this.lease, identity: this.#identity }, "leader election started");
    this.#tick();
  }

  /**
   * Stops the loop; a leader steps down (listeners told first) and releases the Lease so another
   * replica takes over at once. `release: false` leaves the Lease to expire, as a crash would.
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#running = false;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const wasLeader = this.#leader;
    this.#abort.abort();
    await this.#inFlight;
    if (this.#leader) this.#setFollower("stopping");
    if (wasLeader && options.release !== false) await this.#release();
  }

  #tick(): void {
    this.#timer = null;
    if (!this.#running) return;
    this.#timer = setTimeout(() => this.#tick(), this.#retryPeriodMs);
    this.#timer.unref();
    this.#checkDeadline();
    if (this.#inFlight !== null) return;
    const attempt = this.#tryAcquireOrRenew().then(
      (result) => this.#onAttempt(result),
      (err: unknown) => this.#onError(err),
    );
    this.#inFlight = attempt.finally(() => {
      this.#inFlight = null;
    });
  }

  #signal(): AbortSignal {
    return AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#requestTimeoutMs)]);
  }

  async #tryAcquireOrRenew(): Promise<Attempt> {
    const now = this.#now();
    let lease: V1Lease;
    try {
      lease = await this.#api.readNamespacedLease({ name: this.#name, namespace: this.#namespace }, apiCallOptions(this.#signal()));
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      return this.#create(now);
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const version = lease.metadata?.resourceVersion;
    if (version !== this.#observedVersion) {
      this.#observedVersion = version;
      this.#observedAt = now;
    }
    if (holder !== "" && holder !== this.#identity && !this.#expired(spec.renewTime, spec.leaseDurationSeconds, now)) return { kind: "follower", holder };
    const mine = holder === this.#identity;
    const transitions = (spec.leaseTransitions ?? 0) + (mine ? 0 : 1);
    const body: V1Lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { ...lease.metadata, name: this.#name, namespace: this.#namespace },
      spec: {
        holderIdentity: this.#identity,
        leaseDurationSeconds: this.#leaseDurationSeconds,
        acquireTime: new V1MicroTime(mine ? (timeOf(spec.acquireTime) ?? now) : now),
        renewTime: new V1MicroTime(now),
        leaseTransitions: transitions,
      },
    };
    try {
      await this.#api.replaceNamespacedLease({ name: this.#name, namespace: this.#namespace, body }, apiCallOptions(this.#signal()));
    } catch (err) {
      if (statusOf(err) === 409) return { kind: "conflict" };
      throw err;
    }
    return { kind: "leader", renewedAt: now, transitions };
  }

  async #create(now: number): Promise<Attempt> {
    const body: V1Lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: this.#name, namespace: this.#namespace },
      spec: {
        holderIdentity: this.#identity,
        leaseDurationSeconds: this.#leaseDurationSeconds,
        acquireTime: new V1MicroTime(now),
        renewTime: new V1MicroTime(now),
        leaseTransitions: 0,
      },
    };
    try {
      await this.#api.createNamespacedLease({ namespace: this.#namespace, body }, apiCallOptions(this.#signal()));
    } catch (err) {
      if (statusOf(err) === 409) return { kind: "conflict" };
      throw err;
    }
    return { kind: "leader", renewedAt: now, transitions: 0 };
  }

  /**
   * Expired when renewTime + leaseDurationSeconds is past, or (should the holder's clock run ahead of
   * ours) when the record has not changed for a lease duration since we first saw it.
   */
  #expired(renewTime: unknown, durationSeconds: number | undefined, now: number): boolean {
    const duration = (durationSeconds ?? this.#leaseDurationSeconds) * 1000;
    const renewed = timeOf(renewTime);
    if (renewed === undefined || renewed + duration < now) return true;
    return this.#observedAt + duration < now;
  }

  #onAttempt(result: Attempt): void {
    if (!this.#running) return;
    switch (result.kind) {
      case "leader":
        this.#renewedAt = result.renewedAt;
        if (!this.#leader) {
          this.#leader = true;
          this.#transitions++;
          this.#logOnce("leader", () => this.#log.info({ lease: this.lease, identity: this.#identity, leaseTransitions: result.transitions }, "became leader"));
          this.#notify(this.#started);
        } else {
          this.#logOnce("leader", () => this.#log.info({ lease: this.lease, identity: this.#identity }, "renewing the lease again"));
        }
        return;
      case "follower":
        if (this.#leader) this.#setFollower(`lease taken over by ${result.holder}`);
        this.#logOnce(`follower:${result.holder}`, () => this.#log.info({ lease: this.lease, leader: result.holder }, "another instance is leader"));
        return;
      case "conflict":
        // Lost a race (or our record was stale): the next read tells who won.
        if (this.#leader) this.#setFollower("conflict while renewing the lease");
        return;
    }
  }

  #onError(err: unknown): void {
    if (!this.#running) return;
    const message = describeApiError(err);
    this.#logOnce(`error:${message}`, () => this.#log.warn({ lease: this.lease, err: message }, "leader election: Lease request failed; retrying"));
    this.#checkDeadline();
  }

  #checkDeadline(): void {
    if (!this.#leader) return;
    const since = this.#now() - this.#renewedAt;
    if (since <= this.#renewDeadlineMs) return;
    const err = new LeaseRenewDeadlineError(`lease ${this.lease} not renewed for ${since} ms (renew deadline ${this.#renewDeadlineMs} ms)`);
    this.#log.warn({ lease: this.lease, err: err.message, code: err.code }, "stepping down: renew deadline passed");
    this.#setFollower("renew deadline passed");
  }

  #setFollower(reason: string): void {
    if (!this.#leader) return;
    this.#leader = false;
    this.#logState = "";
    this.#log.info({ lease: this.lease, identity: this.#identity, reason }, "stopped leading");
    this.#notify(this.#stopped);
  }

  #notify(listeners: ReadonlySet<() => void>): void {
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch (err) {
        this.#log.error({ err: describeError(err) }, "leadership listener threw");
      }
    }
  }

  #logOnce(state: string, log: () => void): void {
    if (state === this.#logState) return;
    this.#logState = state;
    log();
  }

  /** Clears the holder (duration 1 s) if we still hold the Lease, so another replica acquires it at its next retry. */
  async #release(): Promise<void> {
    const signal = AbortSignal.timeout(this.#requestTimeoutMs);
    try {
      const lease = await this.#api.readNamespacedLease({ name: this.#name, namespace: this.#namespace }, apiCallOptions(signal));
      const spec = lease.spec ?? {};
      if (spec.holderIdentity !== this.#identity) return;
      const now = this.#now();
      const body: V1Lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { ...lease.metadata, name: this.#name, namespace: this.#namespace },
        spec: {
          leaseDurationSeconds: 1,
          acquireTime: new V1MicroTime(now),
          renewTime: new V1MicroTime(now),
          leaseTransitions: spec.leaseTransitions ?? 0,
        },
      };
      await this.#api.replaceNamespacedLease({ name: this.#name, namespace: this.#namespace, body }, apiCallOptions(signal));
      this.#log.info({ lease: this.lease, identity: this.#identity }, "released the lease");
    } catch (err) {
      this.#log.warn({ lease: this.lease, err: describeApiError(err) }, "could not release the lease; it expires on its own");
    }
  }
}
