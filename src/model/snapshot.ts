// The builder's output: immutable, plain, serializable data. It is also the IPC message to
// data-plane workers. Routes (with balancer settings) and endpoints are published separately,
// like xDS RDS/CDS vs EDS: an endpoint-only change never resends or recompiles the route table.

export type PathType = "Exact" | "Prefix";

/** A header edit, like httpd's RequestHeader/Header: `set`, `add`, `append`, `unset`. Name is lower-case. */
export interface HeaderRule {
  readonly op: "set" | "add" | "append" | "unset";
  readonly name: string;
  /** Empty for `unset`. Never contains CR, LF or other control characters. */
  readonly value: string;
}

/** Milliseconds; `null` means disabled (no timeout). */
export interface Timeouts {
  /** `connect-timeout`: TCP (and later TLS) connect to a member. */
  readonly connectMs: number | null;
  /** `timeout`: time to response headers, and idle time between body chunks. */
  readonly readMs: number | null;
}

export interface RouteOptions {
  readonly timeouts: Timeouts;
  /** `preserve-host` (default true): send the client's Host; false sends the balancer's `hostHeader`. */
  readonly preserveHost: boolean;
  /** `upstream-vhost`: Host sent upstream, overrides both of the above. */
  readonly upstreamVhost: string | null;
  readonly requestHeaders: ReadonlyArray<HeaderRule>;
  readonly responseHeaders: ReadonlyArray<HeaderRule>;
}

export interface Route {
  /** Starts with "/". For Prefix, normalised without trailing "/" (except the root "/"). */
  readonly path: string;
  readonly pathType: PathType;
  /** "namespace/name" of the Ingress that contributed this route. */
  readonly ingress: string;
  /** Id of a balancer in `RouteTable.balancers`. */
  readonly balancer: string;
  readonly options: RouteOptions;
}

export interface VirtualHost {
  /** Exact host ("a.example.com"), one-label wildcard ("*.example.com"), or "" for rules without host (any host). Lower-case, no port. */
  readonly host: string;
  /** In match order: longer paths first; at equal length Exact before Prefix. */
  readonly routes: ReadonlyArray<Route>;
  /** Route for requests to this host that match no path (an Ingress's spec.defaultBackend), else null. */
  readonly fallback: Route | null;
}

/** Balancer settings (route-side, changes with Ingress/Service edits, not with endpoints). */
export interface BalancerConfig {
  /** Stable identity: "namespace/service:port" (port = Service port number). */
  readonly id: string;
  /** "namespace/name" of the Service. */
  readonly service: string;
  /** Host header used when preserve-host is false: Service DNS name (":port" unless 80) or ExternalName. */
  readonly hostHeader: string;
  readonly protocol: "http";
}

export interface RouteTable {
  /** Content hash of everything below. */
  readonly version: string;
  /** Sorted by host. Most specific wins: exact, then wildcard, then "". */
  readonly virtualHosts: ReadonlyArray<VirtualHost>;
  /** spec.defaultBackend of the oldest accepted Ingress that has one: for requests no virtual host matches. */
  readonly defaultRoute: Route | null;
  /** Sorted by id; every balancer some route refers to. */
  readonly balancers: ReadonlyArray<BalancerConfig>;
}

export interface Member {
  /** Stable identity inside its balancer: "address:port". */
  readonly key: string;
  /** IP address, or a DNS name for ExternalName Services. */
  readonly address: string;
  readonly port: number;
  /** Route id (httpd `route=`): the endpoint's targetRef name (pod), else hostname, else "". */
  readonly route: string;
  readonly zone: string | null;
  /** true: ready; false: serving and terminating (used only when no member is ready). */
  readonly ready: boolean;
}

export interface BalancerMembers {
  readonly balancer: string;
  /** Sorted by key. */
  readonly members: ReadonlyArray<Member>;
}

export interface EndpointTable {
  readonly version: string;
  /** Sorted by balancer id; one entry per balancer in the route table (possibly with no members). */
  readonly balancers: ReadonlyArray<BalancerMembers>;
}

export interface ProxySnapshot {
  /** Hash of routes.version and endpoints.version. */
  readonly version: string;
  readonly routes: RouteTable;
  readonly endpoints: EndpointTable;
}

/**
 * Replaces the member lists of some balancers, like an xDS EDS delta: every balancer not named keeps
 * its members. `version` is the endpoint table version after the delta (equal to what a full build
 * of the same cluster gives).
 */
export interface EndpointDelta {
  readonly version: string;
  /** Sorted by balancer id; each names a balancer of the current route table. */
  readonly balancers: ReadonlyArray<BalancerMembers>;
}

/** Where control publishes snapshots: the data plane (all workers), or a test double. */
export interface SnapshotSink {
  /** Apply a new route table (and the endpoints that go with it). Resolves once every worker runs it. */
  applyRoutes(routes: RouteTable, endpoints: EndpointTable): Promise<void>;
  /** Apply new endpoints only; the route table stays as it is. Resolves once every worker runs it. */
  applyEndpoints(endpoints: EndpointTable): Promise<void>;
  /** Replace the members of the named balancers only. Resolves once every worker runs it. */
  applyEndpointDelta(delta: EndpointDelta): Promise<void>;
}
