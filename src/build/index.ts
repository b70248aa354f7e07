export { buildSnapshot, cachedMembersBytes, snapshotVersion, type BuildResult } from "./build-snapshot.js";
export { checkSetting, defaultGlobalSettings, resolveGlobalSettings, settingDocs, settingKeys, type GlobalSettings, type ResolvedSettings, type SettingDoc } from "./global-settings.js";
export {
  checkServerSetting,
  isServerSettingKey,
  serverSettingDocs,
  serverSettingKeys,
  toServerSettings,
  type ServerSettingDoc,
  type ServerSettingsResult,
} from "./server-settings.js";
export { checkRuleHost, checkHostPort, isDnsName, type HostCheck } from "./host.js";
export { checkPath, type PathCheck } from "./path.js";
export { compareIngressAge, ingressRef, timestampSeconds } from "./order.js";
export { selectIngresses, defaultClassAnnotation, legacyClassAnnotation, type ClassSelection } from "./ingress-class.js";
export { sliceMembers, memberKey, serviceNameLabel, hashRoute, withStandby } from "./backend.js";
export { compareRoutes } from "./routes.js";
export * from "./annotations/index.js";
export { buildBalancerMembers, balancerMembersBytes, balancerMembersText, endpointTableVersion, hasEndpointProblem, serviceOfId } from "./endpoints.js";
export { buildTlsTable, checkTlsSecret, parseSslCiphers, parseSslProtocols, tlsSettingsOf, sslCiphersSetting, sslProtocolsSetting, type SecretCheck } from "./tls.js";
export { parseHtpasswd, secretText, htpasswdKey, maxBcryptCost } from "./auth.js";
