export { isManifestPath, parseManifestText, toClusterView, type ManifestObject, type ParseOutcome } from "./parse.js";
export { ManifestSource, type ManifestSourceOptions } from "./source.js";
