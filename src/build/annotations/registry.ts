// All annotation families, and the one parse of an Ingress's annotations into route options.
import type { BackendProtocol, FailoverConfig, HealthCheckConfig, LbMethod, RouteOptions, StickyConfig } from "../../model/index.js";
import { accessFamily } from "./access.js";
import { redirectFamily } from "./redirect.js";
import { authFamily, type AuthValue } from "./auth.js";
import { ajpFamily, ajpKeys, type AjpValue } from "./ajp.js";
import { balancerFamily, type CanaryValue, type HotStandbyRef } from "./balancer.js";
import { bodyFamily } from "./body.js";
import { connectFamily } from "./connect.js";
import { compressionFamily, customErrorBackendKey } from "./compression.js";
import { perimeterFamily } from "./perimeter.js";
import { failoverFamily } from "./failover.js";
import { annotationPrefix, invalidAnnotation, type AnnotationDoc, type AnnotationFinding, type Annotations } from "./family.js";
import { headersFamily } from "./headers.js";
import { healthFamily } from "./health.js";
import { backendProtocolKey, protocolFamily, toWebsocketIdleMs } from "./protocol.js";
import { rewriteFamily } from "./rewrite.js";
import { timeoutsFamily, toTimeouts } from "./timeouts.js";

/** The families of STYLE.md, in README order (then ajp, the AJP member settings, and connect). */
export const annotationFamilies = [balancerFamily, healthFamily, failoverFamily, timeoutsFamily, headersFamily, rewriteFamily, perimeterFamily, accessFamily, redirectFamily, authFamily, bodyFamily, compressionFamily, protocolFamily, ajpFamily, connectFamily] as const;

/** Every recognised `proxypass.io/` key. */
export const knownAnnotationKeys: ReadonlySet<string> = new Set(annotationFamilies.flatMap((f) => f.keys));

/** Doc rows of all families, for the README generator. */
export const annotationDocs: ReadonlyArray<AnnotationDoc & { readonly family: string; readonly implemented: boolean }> = annotationFamilies.flatMap((f) =>
  f.docs.map((d) => ({ ...d, family: f.name, implemented: f.implemented })),
);

const noDefaults: Annotations = Object.freeze({});

/** What an Ingress's annotations say about the balancers it routes to (BalancerSettings before resolution). */
export interface BalancerSettingsValue {
  readonly lbmethod: LbMethod;
  readonly sticky: StickyConfig | null;
  readonly failover: FailoverConfig;
  readonly healthCheck: HealthCheckConfig | null;
  /** Unresolved `hot-standby` Service and port, in the Ingress's namespace. */
  readonly hotStandby: HotStandbyRef | null;
  /** `backend-protocol`. */
  readonly protocol: BackendProtocol;
  /** `backend-tls-verify` (TLS protocols only). */
  readonly tlsVerify: boolean;
  /** Unresolved `backend-ca-secret`: a Secret name in the Ingress's namespace; null = none. */
  readonly caSecret: string | null;
  /** `ajp-*` (AJP only; `ajp.secret` unresolved: a Secret name in the Ingress's namespace). */
  readonly ajp: AjpValue;
}

export interface ParsedAnnotations {
  readonly options: RouteOptions;
  readonly balancer: BalancerSettingsValue;
  /** Non-null when the Ingress is a canary (`canary: "true"`). */
  readonly canary: CanaryValue | null;
  /** `auth-*`: before the `auth-secret` Secret is read (../auth.ts resolves it into `options.auth`). */
  readonly auth: AuthValue;
  /** Sorted by key, then message. Any `error` means this Ingress version must not be served. */
  readonly findings: ReadonlyArray<AnnotationFinding>;
}

/**
 * Parses all families; unknown `proxypass.io/` keys give `UnknownAnnotation` warnings. `defaults`
 * (full keys, already valid: the global settings) apply to keys the Ingress does not set.
 */
export function parseAnnotations(annotations: Annotations, defaults: Annotations = noDefaults): ParsedAnnotations {
  const effective = defaults === noDefaults ? annotations : { ...defaults, ...annotations };
  const timeouts = timeoutsFamily.parse(effective);
  const headers = headersFamily.parse(effective);
  const balancer = balancerFamily.parse(effective);
  const health = healthFamily.parse(effective);
  const failover = failoverFamily.parse(effective);
  const protocol = protocolFamily.parse(effective);
  const ajp = ajpFamily.parse(effective);
  const rewrite = rewriteFamily.parse(effective);
  const connect = connectFamily.parse(effective);
  const compression = compressionFamily.parse(effective);
  const auth = authFamily.parse(effective);
  const redirect = redirectFamily.parse(effective);
  const perimeter = perimeterFamily.parse(effective);
  const findings: AnnotationFinding[] = [];
  // Warnings ("ignored") only about keys the Ingress sets itself, not about global defaults.
  for (const f of [...timeouts.diagnostics, ...headers.diagnostics, ...balancer.diagnostics, ...health.diagnostics, ...failover.diagnostics, ...protocol.diagnostics, ...ajp.diagnostics, ...rewrite.diagnostics, ...connect.diagnostics, ...compression.diagnostics, ...auth.diagnostics, ...perimeter.diagnostics, ...redirect.diagnostics]) {
    if (f.severity === "error" || Object.hasOwn(annotations, f.key)) findings.push(f);
  }
  // Only the ConfigMap (the cluster admin) may name another namespace's Service as the error backend.
  const ownErrorBackend = annotations[customErrorBackendKey];
  if (ownErrorBackend !== undefined && compression.value.customErrorBackend !== null && ownErrorBackend.includes("/")) {
    findings.push(invalidAnnotation(customErrorBackendKey, ownErrorBackend, "an Ingress names a Service of its own namespace (SERVICE:PORT); NAMESPACE/SERVICE:PORT is for the ConfigMap"));
  }
  for (const family of annotationFamilies) {
    if (!family.implemented) findings.push(...family.parse(annotations).diagnostics);
  }
  for (const key of Object.keys(annotations)) {
    if (key.startsWith(annotationPrefix) && !knownAnnotationKeys.has(key)) {
      findings.push({ severity: "warning", reason: "UnknownAnnotation", key, message: `annotation ${key} is unknown and ignored` });
    }
  }
  findings.sort((a, b) => compare(a.key, b.key) || compare(a.message, b.message));
  const options: RouteOptions = {
    timeouts: toTimeouts(timeouts.value),
    preserveHost: headers.value.preserveHost,
    upstreamVhost: headers.value.upstreamVhost,
    requestHeaders: headers.value.requestHeaders,
    responseHeaders: headers.value.responseHeaders,
    websocketIdleMs: toWebsocketIdleMs(protocol.value),
    rewriteTarget: rewrite.value.rewriteTarget,
    appRoot: rewrite.value.appRoot,
    // ProxyPassReverse is on by default whenever the member sees another path or Host than the client sent.
    proxyPassReverse: rewrite.value.proxyPassReverse ?? (rewrite.value.rewriteTarget !== null || headers.value.upstreamVhost !== null || !headers.value.preserveHost),
    connectPorts: connect.value.ports,
    compression: compression.value.compression,
    // Only when set, so routes without it keep their snapshot JSON (and table versions).
    ...(compression.value.customErrorPages.length > 0 ? { customErrorPages: compression.value.customErrorPages } : {}),
    ...(compression.value.customErrorBackend !== null ? { customErrorBackend: compression.value.customErrorBackend } : {}),
    // Only when not the default, so snapshots of Ingresses without these keys stay as they were.
    ...(redirect.value.sslRedirect ? {} : { sslRedirect: false }),
    ...(redirect.value.forceSslRedirect ? { forceSslRedirect: true } : {}),
    maxBodyBytes: perimeter.value.maxBodyBytes,
    allowCidrs: perimeter.value.allowCidrs,
    denyCidrs: perimeter.value.denyCidrs,
    rateLimit: perimeter.value.limitRps === null ? null : { rps: perimeter.value.limitRps, burst: perimeter.value.limitBurst ?? 0 },
    limitConnections: perimeter.value.limitConnections,
  };
  const settings: BalancerSettingsValue = {
    lbmethod: balancer.value.lbmethod,
    sticky: balancer.value.sticky,
    failover: failover.value,
    healthCheck: health.value,
    hotStandby: balancer.value.hotStandby,
    protocol: protocol.value.backendProtocol,
    tlsVerify: protocol.value.tlsVerify,
    caSecret: protocol.value.caSecret,
    ajp: ajp.value,
  };
  if (settings.protocol !== "ajp" && ajp.diagnostics.length === 0) {
    for (const key of ajpKeys) {
      if (Object.hasOwn(annotations, key)) findings.push({ severity: "warning", reason: "AnnotationIgnored", key, message: `annotation ${key} applies only with ${backendProtocolKey}: AJP; ignored` });
    }
    findings.sort((a, b) => compare(a.key, b.key) || compare(a.message, b.message));
  }
  return { options, balancer: settings, canary: balancer.value.canary, auth: auth.value, findings };
}

export function hasErrors(findings: ReadonlyArray<AnnotationFinding>): boolean {
  return findings.some((f) => f.severity === "error");
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
