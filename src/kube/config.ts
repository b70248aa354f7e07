// Where the Kubernetes client configuration comes from: `--kubeconfig PATH`, else the in-cluster
// service account, else `$KUBECONFIG`, else `~/.kube/config`. The choice is a pure function of
// explicit inputs so it can be tested without touching the real environment.
import { existsSync } from "node:fs";
import { isIPv6 } from "node:net";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeConfigError, describeError } from "./errors.js";

export const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface KubeConfigInputs {
  /** `--kubeconfig PATH`, if given. */
  readonly kubeconfigFlag?: string | undefined;
  /** Environment: `KUBECONFIG`, `KUBERNETES_SERVICE_HOST`, `KUBERNETES_SERVICE_PORT`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Home directory (for `~/.kube/config`); undefined when there is none. */
  readonly homeDir?: string | undefined;
  /** Prefix of the service-account directory (tests point it at a temp dir); "" in production. */
  readonly serviceAccountPrefix?: string;
  readonly fileExists?: (path: string) => boolean;
}

export type KubeConfigOrigin =
  | { readonly kind: "flag"; readonly path: string }
  | { readonly kind: "in-cluster"; readonly server: string }
  | { readonly kind: "env"; readonly paths: ReadonlyArray<string> }
  | { readonly kind: "home"; readonly path: string };

/** Picks the configuration source, in contract order. Throws KubeConfigError when there is none. */
export function resolveKubeConfigOrigin(inputs: KubeConfigInputs): KubeConfigOrigin {
  const exists = inputs.fileExists ?? existsSync;
  const flag = inputs.kubeconfigFlag;
  if (flag !== undefined && flag !== "") return { kind: "flag", path: flag };
  const host = inputs.env["KUBERNETES_SERVICE_HOST"];
  const port = inputs.env["KUBERNETES_SERVICE_PORT"];
  const tokenPath = `${inputs.serviceAccountPrefix ?? ""}${serviceAccountDir}/token`;
  if (host !== undefined && host !== "" && port !== undefined && port !== "" && exists(tokenPath)) {
    return { kind: "in-cluster", server: inClusterServer(host, port) };
  }
  const envPaths = (inputs.env["KUBECONFIG"] ?? "").split(delimiter).filter((p) => p !== "");
  if (envPaths.length > 0) return { kind: "env", paths: envPaths };
  if (inputs.homeDir !== undefined && inputs.homeDir !== "") {
    const path = join(inputs.homeDir, ".kube", "config");
    if (exists(path)) return { kind: "home", path };
  }
  throw new KubeConfigError(
    "no Kubernetes configuration: pass --kubeconfig PATH, run in a cluster (service account), set $KUBECONFIG, or create ~/.kube/config",
  );
}

/** Loads the KubeConfig from the chosen origin; throws KubeConfigError on unreadable or incomplete files. */
export function loadKubeConfig(inputs: KubeConfigInputs): { readonly kubeConfig: KubeConfig; readonly origin: KubeConfigOrigin } {
  const origin = resolveKubeConfigOrigin(inputs);
  const kubeConfig = new KubeConfig();
  try {
    switch (origin.kind) {
      case "flag":
      case "home":
        kubeConfig.loadFromFile(origin.path);
        break;
      case "in-cluster":
        loadInCluster(kubeConfig, inputs);
        break;
      case "env": {
        const [first, ...rest] = origin.paths;
        kubeConfig.loadFromFile(first ?? "");
        for (const path of rest) {
          const more = new KubeConfig();
          more.loadFromFile(path);
          kubeConfig.mergeConfig(more, true);
        }
        break;
      }
    }
  } catch (err) {
    throw new KubeConfigError(`cannot load Kubernetes configuration (${describeOrigin(origin)}): ${describeError(err)}`, { cause: err });
  }
  if (kubeConfig.getCurrentCluster() === null) {
    throw new KubeConfigError(`Kubernetes configuration (${describeOrigin(origin)}) has no current context with a cluster`);
  }
  return { kubeConfig, origin };
}

/** Like client-node's `loadFromCluster`, but from the explicit inputs instead of `process.env`. */
function loadInCluster(kubeConfig: KubeConfig, inputs: KubeConfigInputs): void {
  const root = `${inputs.serviceAccountPrefix ?? ""}${serviceAccountDir}`;
  const server = inClusterServer(inputs.env["KUBERNETES_SERVICE_HOST"] ?? "", inputs.env["KUBERNETES_SERVICE_PORT"] ?? "");
  kubeConfig.loadFromOptions({
    clusters: [{ name: "inCluster", server, caFile: `${root}/ca.crt`, skipTLSVerify: false }],
    users: [{ name: "inClusterUser", authProvider: { name: "tokenFile", config: { tokenFile: `${root}/token` } } }],
    contexts: [{ name: "inClusterContext", cluster: "inCluster", user: "inClusterUser" }],
    currentContext: "inClusterContext",
  });
}

function inClusterServer(host: string, port: string): string {
  const scheme = port === "80" || port === "8080" || port === "8001" ? "http" : "https";
  return `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** Inputs from the real process environment, for cmd. */
export function processKubeConfigInputs(kubeconfigFlag: string | undefined): KubeConfigInputs {
  return { kubeconfigFlag, env: process.env, homeDir: homedir() };
}

export function describeOrigin(origin: KubeConfigOrigin): string {
  switch (origin.kind) {
    case "flag":
      return `--kubeconfig ${origin.path}`;
    case "in-cluster":
      return `in-cluster service account, ${origin.server}`;
    case "env":
      return `$KUBECONFIG ${origin.paths.join(delimiter)}`;
    case "home":
      return origin.path;
  }
}
