export { KubeError, KubeConfigError, KubeClosedError, WatchStaleError, describeError } from "./errors.js";
export { loadKubeConfig, resolveKubeConfigOrigin, processKubeConfigInputs, describeOrigin, serviceAccountDir, type KubeConfigInputs, type KubeConfigOrigin } from "./config.js";
