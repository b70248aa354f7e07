export { KubeError, KubeConfigError, KubeClosedError, KubeApiError, WatchStaleError, describeError } from "./errors.js";
export { loadKubeConfig, resolveKubeConfigOrigin, processKubeConfigInputs, describeOrigin, serviceAccountDir, type KubeConfigInputs, type KubeConfigOrigin } from "./config.js";
export { backoffDelay, backoffStep, defaultBackoff, type BackoffOptions } from "./backoff.js";
export { collectionClient, parseListPage, defaultWatchTuning, type CollectionClient, type ListPage, type WatchedResource, type WatchTuning } from "./watch.js";
export { InformerSupervisor, keyOf, type StoreEvent, type SupervisorOptions } from "./supervisor.js";
export { normaliseObject, formatTime } from "./normalise.js";
export { collectReferences, secretAnnotations, serviceAnnotations, type References } from "./references.js";
export { KubeSource, secretFieldSelector, type KubeSourceOptions, type InformerStatus, type NamespacedName, type WatchedKind } from "./source.js";
export { rbacRules, isAllowed, type RbacRule, type RbacVerb } from "./rbac.js";
export { readNodeZone, zoneLabel, type NodeZoneOptions, type ReadNode } from "./node-zone.js";
export {
  LeaderElector,
  LeaderElectionConfigError,
  LeaseRenewDeadlineError,
  resolveControllerInstance,
  defaultElectionId,
  defaultLeaderTimings,
  type ControllerInstance,
  type ControllerInstanceInputs,
  type Leadership,
  type LeaderElectorOptions,
} from "./leader.js";
export {
  IngressStatusWriter,
  StatusAddressError,
  StatusWriteError,
  normaliseAddresses,
  defaultStatusRateLimit,
  type IngressStatusWriterOptions,
  type LoadBalancerAddress,
  type StatusRateLimit,
} from "./status.js";
export { EventRecorder, EventWriteError, EventRecorderOptionsError, defaultReportingController, defaultEventRateLimit, maxNoteBytes, truncateNote, type EventRecorderOptions, type EventRateLimit } from "./events.js";
export { ConfigMapStateStore, RuntimeStateWriteError, RUNTIME_STATE_KEY, defaultRuntimeConfigMapName, type ConfigMapStateStoreOptions } from "./runtime-state.js";
