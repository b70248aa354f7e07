// Public API of the data plane.
export { ProxyServer, type ProxyServerOptions, type ListenOptions } from "./proxy-server.js";
export { WorkerPool, type WorkerPoolOptions, type WorkerStatsView, type WorkerMetrics } from "./worker-pool.js";
export { HealthChecker, type HealthCheckerOptions, type HealthResult } from "./health/index.js";
export { compileRoutes, Router, CompiledRoute, VirtualHostMatcher, hstsValue, tlsCovers, type SiteSecurity } from "./router.js";
export * from "./stats/index.js";
export { normalizeHost } from "./host.js";
export { TunnelProxy, isWebSocketUpgrade, hasWebSocketToken } from "./websocket.js";
export { HeaderRules, isHopByHop, connectionTokens } from "./headers.js";
export {
  ProxyError,
  NoRouteError,
  BadRequestError,
  ForeignHostError,
  MethodNotAllowedError,
  NoMemberError,
  UpstreamRefusedError,
  UpstreamResetError,
  UpstreamError,
  ConnectTimeoutError,
  ReadTimeoutError,
  ClientAbortError,
  ERROR_RESPONSES,
  classifyUpstreamError,
  type ProxyErrorCode,
  type ErrorResponse,
} from "./errors.js";
export * from "./balancer/index.js";
export { DEFAULT_UPSTREAM_OPTIONS, type UpstreamOptions } from "./upstream.js";
export { createCertificate, createDefaultCertificate, type PemPair, type CertificateRequest, type KeyKind } from "./certificates.js";
export { TlsContexts, createTicketKeys } from "./tls.js";
export { AUTH_OUTCOMES, AuthGate, CompiledAuth, basicCredentials, verifyPassword, type AuthVerdict, type AuthRequest } from "./auth.js";
