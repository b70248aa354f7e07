import type { ClusterView } from "./cluster-view.js";
import type { Diagnostic } from "./diagnostic.js";

/** What one reconcile produced, as seen by the status writer, the Event recorder and metrics. */
export interface BuildObservation {
  /** The view the build read. */
  readonly view: ClusterView;
  /** Source and builder diagnostics, sorted. */
  readonly diagnostics: ReadonlyArray<Diagnostic>;
  /** "namespace/name" of the Ingresses this controller serves, sorted. */
  readonly accepted: ReadonlyArray<string>;
  /** Version of the snapshot the data plane runs after this build. */
  readonly snapshotVersion: string;
}

/** Told after every reconcile whose snapshot is live in every worker. Must not throw or block. */
export interface BuildObserver {
  observe(observation: BuildObservation): void;
}
