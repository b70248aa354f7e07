// The controller's topology zone: its node's `topology.kubernetes.io/zone` label, read once at start
// (when --zone is not given) so EndpointSlice hints can put other-zone members in lbset 1.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../util/index.js";
import { apiCallOptions, describeApiError } from "./api-call.js";

export const zoneLabel = "topology.kubernetes.io/zone";

/** The one call it makes (`get nodes`), injectable for tests. */
export type ReadNode = (name: string, signal: AbortSignal) => Promise<{ metadata?: { labels?: Record<string, string> } }>;

export interface NodeZoneOptions {
  readonly nodeName: string;
  readonly logger: Logger;
  /** Default: CoreV1Api.readNode of `kubeConfig`. */
  readonly readNode?: ReadNode;
  readonly kubeConfig?: KubeConfig;
  readonly timeoutMs?: number;
}

/**
 * The node's zone label, or null: a failed read or a node without the label is logged as a warning
 * and gives null (no zone tiers), never an error.
 */
export async function readNodeZone(options: NodeZoneOptions): Promise<string | null> {
  const { nodeName, logger } = options;
  let read = options.readNode;
  if (read === undefined) {
    if (options.kubeConfig === undefined) throw new TypeError("readNodeZone needs readNode or kubeConfig");
    const core = options.kubeConfig.makeApiClient(CoreV1Api);
    read = (name, signal) => core.readNode({ name }, apiCallOptions(signal));
  }
  try {
    const node = await read(nodeName, AbortSignal.timeout(options.timeoutMs ?? 10_000));
    const zone = node.metadata?.labels?.[zoneLabel];
    if (zone === undefined || zone === "") {
      logger.warn({ node: nodeName }, `node has no ${zoneLabel} label; no zone tiers for EndpointSlice hints`);
      return null;
    }
    logger.info({ node: nodeName, zone }, "zone from the node label");
    return zone;
  } catch (err) {
    logger.warn({ node: nodeName, err: describeApiError(err) }, `cannot read the node's ${zoneLabel} label; no zone tiers for EndpointSlice hints (set --zone)`);
    return null;
  }
}
