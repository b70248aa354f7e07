#!/usr/bin/env node
// Entry point: flags, wiring, start and stop. No logic lives here.
import { pathToFileURL } from "node:url";
import { realpathSync } from "node:fs";
import { hostname } from "node:os";
import { readFileSync } from "node:fs";
import { AdminAccess, AdminServer, BalancerManager, ClusterMetrics, FileStateStore, MetricsObserver, ServerStatus, WebhookServer, createMetrics } from "../src/admin/index.js";
import { WorkerPool } from "../src/dataplane/index.js";
import { Reconciler, reviewIngressAdmission, type ConfigSource } from "../src/control/index.js";
import { ManifestSource } from "../src/files/index.js";
import {
  ConfigMapStateStore,
  EventRecorder,
  IngressStatusWriter,
  KubeConfigError,
  KubeSource,
  LeaderElector,
  defaultRuntimeConfigMapName,
  describeOrigin,
  loadKubeConfig,
  processKubeConfigInputs,
  readNodeZone,
  resolveControllerInstance,
} from "../src/kube/index.js";
import type { BuildObserver, RuntimeStateStore } from "../src/model/index.js";
import { createLoggerFactory, type Logger } from "../src/util/index.js";
import { FlagError, parseFlags, usage, type Flags } from "./flags.js";

/** ServerVersion of server-status (apache_exporter reads "NAME/x.y.z"). */
const VERSION = "0.1.0";

/** The Kubernetes-mode parts: source, leader election, status writer, Event recorder. */
interface KubeParts {
  readonly kubeConfig: ReturnType<typeof loadKubeConfig>["kubeConfig"];
  readonly source: KubeSource;
  readonly elector: LeaderElector;
  readonly status: IngressStatusWriter;
  readonly events: EventRecorder;
  /** The controller's namespace (POD_NAMESPACE), home of the Lease and the runtime ConfigMap. */
  readonly namespace: string;
}

export async function main(argv: ReadonlyArray<string>): Promise<number> {
  let flags: Flags;
  try {
    flags = parseFlags(argv);
  } catch (err) {
    if (err instanceof FlagError) {
      process.stderr.write(`proxypass-ingress: ${err.message}\n\n${usage}`);
      return 2;
    }
    throw err;
  }
  if (flags.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (flags.manifests !== undefined && (flags.kubeconfig !== undefined || flags["watch-namespace"] !== undefined)) {
    process.stderr.write(`proxypass-ingress: --manifests cannot be combined with --kubeconfig or --watch-namespace\n\n${usage}`);
    return 2;
  }

  if (flags.manifests !== undefined && flags["runtime-configmap"] !== undefined) {
    process.stderr.write(`proxypass-ingress: --runtime-configmap needs the Kubernetes source; with --manifests use --state-file\n\n${usage}`);
    return 2;
  }
  if (flags.manifests === undefined && flags["state-file"] !== undefined) {
    process.stderr.write(`proxypass-ingress: --state-file is for the file source; with Kubernetes the edits live in --runtime-configmap\n\n${usage}`);
    return 2;
  }
  let adminToken: string | null = null;
  if (flags["admin-token-file"] !== undefined) {
    try {
      adminToken = readFileSync(flags["admin-token-file"], "utf8").trim();
    } catch (err) {
      process.stderr.write(`proxypass-ingress: cannot read --admin-token-file: ${err instanceof Error ? err.message : String(err)}\n`);
      return 2;
    }
    if (adminToken === "" || /\s/.test(adminToken)) {
      process.stderr.write("proxypass-ingress: --admin-token-file must hold one token without spaces\n");
      return 2;
    }
  }

  const loggerFor = createLoggerFactory(flags["log-level"]);
  const log = loggerFor("main");
  let kube: KubeParts | null = null;
  let source: ConfigSource;
  try {
    if (flags.manifests !== undefined) source = new ManifestSource({ path: flags.manifests, logger: loggerFor("files") });
    else source = (kube = createKubeParts(flags, loggerFor)).source;
  } catch (err) {
    if (err instanceof KubeConfigError) {
      process.stderr.write(`proxypass-ingress: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const kubeSource = kube?.source;
  const metrics = createMetrics(kubeSource !== undefined ? { informers: () => kubeSource.informers() } : {});
  const observers: BuildObserver[] = [new MetricsObserver(metrics)];
  if (kube !== null) observers.push(kube.status, kube.events);
  const pool = new WorkerPool({
    workers: flags.workers,
    port: flags["http-port"],
    httpsPort: flags["https-port"],
    host: flags["bind-address"],
    logLevel: flags["log-level"],
    accessLog: flags["access-log"],
    accessLogFormat: flags["access-log-format"],
    maxHeaderSize: flags["max-header-size"],
    trustedProxies: flags["trusted-proxies"] ?? [],
    proxyProtocol: flags["proxy-protocol"],
    logger: loggerFor("proxy"),
    healthLogger: loggerFor("health"),
  });
  // --zone, else (cluster, NODE_NAME set) the node's zone label read once; null = no zone tiers.
  const nodeName = process.env["NODE_NAME"];
  // /metrics: every worker's request metrics aggregated with the primary's; member gauges from the scoreboard.
  const cluster = new ClusterMetrics({ metrics, workers: pool, reader: pool });
  const zone = flags.zone ?? (kube !== null && nodeName !== undefined && nodeName !== "" ? await readNodeZone({ kubeConfig: kube.kubeConfig, nodeName, logger: loggerFor("kube") }) : null);
  const reconciler = new Reconciler({
    source,
    sink: pool,
    settings: { ingressClass: flags["ingress-class"], controllerName: flags["controller-name"], clusterDomain: flags["cluster-domain"], configMap: flags.configmap ?? null, zone, defaultCertificate: flags["default-ssl-certificate"] ?? null },
    logger: loggerFor("control"),
    observers,
    // The ConfigMap's log-level, while set, replaces --log-level for the controller's loggers too.
    onServerSettings: (server) => loggerFor.setLevels(server.logLevel),
    onPublish: (timing) => cluster.observePublish(timing),
  });
  // balancer-manager: edits persist in the state store, whose every new state goes into the scoreboard.
  const access = new AdminAccess({ ...(flags["admin-allow-cidrs"] !== undefined ? { allow: flags["admin-allow-cidrs"] } : {}), token: adminToken });
  const { store: runtimeStore, persistence } = await createRuntimeStore(flags, kube, loggerFor);
  runtimeStore.subscribe((state) => pool.setRuntimeState(state));
  pool.setRuntimeState(runtimeStore.current());
  const manager = new BalancerManager({ reader: pool, store: runtimeStore, access, logger: loggerFor("admin"), persistence });
  const serverStatus = new ServerStatus({
    source: { workers: () => pool.workerStats(), balancers: () => pool.balancers(), snapshot: () => reconciler.published },
    startedAt: Date.now(),
    version: `proxypass-ingress/${VERSION}`,
  });
  const admin = new AdminServer({
    isReady: () => reconciler.ready,
    logger: loggerFor("admin"),
    metrics,
    clusterMetrics: cluster,
    access,
    balancerManager: manager,
    serverStatus,
    config: { snapshot: () => reconciler.published, runtime: () => runtimeStore.current() },
  });
  // Validating admission webhook (only with a certificate): src/control's per-Ingress checks.
  const webhookCert = flags["webhook-cert-file"];
  const webhookKey = flags["webhook-key-file"];
  let webhook: WebhookServer | null = null;
  if (webhookCert !== undefined && webhookKey !== undefined) {
    const admission = { ingressClass: flags["ingress-class"] };
    try {
      webhook = new WebhookServer({ certFile: webhookCert, keyFile: webhookKey, logger: loggerFor("admin"), review: (body) => reviewIngressAdmission(body, admission) });
    } catch (err) {
      process.stderr.write(`proxypass-ingress: ${err instanceof Error ? err.message : String(err)}\n`);
      return 2;
    }
  }

  let stopping = false;
  const stopped = new Promise<number>((resolve) => {
    const stop = async (signal: NodeJS.Signals): Promise<void> => {
      if (stopping) {
        log.warn({ signal }, "second signal: exiting now");
        resolve(130);
        return;
      }
      stopping = true;
      reconciler.markUnready();
      // Keep-alive clients get Connection: close from now on, and reconnect to a ready replica.
      pool.drain();
      // SIGTERM comes from Kubernetes: keep serving while endpoints controllers notice we are unready.
      const delayS = signal === "SIGTERM" ? flags["shutdown-delay"] : 0;
      log.info({ signal, delaySeconds: delayS, graceSeconds: flags["shutdown-grace"] }, "shutting down: /readyz now fails");
      if (delayS > 0) await new Promise((r) => setTimeout(r, delayS * 1000));
      reconciler.close();
      if (kube !== null) {
        await Promise.all([kube.status.close(), kube.events.close()]);
        // Hand the Lease over at once rather than after it expires.
        await kube.elector.stop({ release: true });
      }
      await source.close();
      await pool.close(flags["shutdown-grace"] * 1000);
      manager.close();
      await runtimeStore.close();
      await webhook?.close();
      await admin.close();
      log.info("stopped");
      resolve(0);
    };
    process.on("SIGTERM", (s) => void stop(s));
    process.on("SIGINT", (s) => void stop(s));
  });
  // Test-only, off by default (test/chaos/README.md): with PROXYPASS_CHAOS_HOOKS=1, SIGUSR2 kills
  // one data-plane worker abruptly (as a crash would), in turn; the pool respawns it.
  if (process.env["PROXYPASS_CHAOS_HOOKS"] === "1") {
    let victim = 0;
    process.on("SIGUSR2", () => {
      const id = victim++ % flags.workers;
      log.warn({ worker: id }, "chaos hook: killing a data-plane worker");
      void pool.killWorker(id);
    });
  }

  try {
    const adminPort = await admin.listen(flags["admin-port"], flags["bind-address"]);
    if (webhook !== null) await webhook.listen(flags["webhook-port"], flags["bind-address"]);
    await pool.start();
    if (kube !== null) {
      kube.elector.start();
      kube.status.start();
    }
    await reconciler.start();
    log.info(
      { httpPort: pool.port, httpsPort: pool.httpsPort, adminPort, workers: flags.workers, source: flags.manifests ?? "kubernetes" },
      "proxypass-ingress serving",
    );
  } catch (err) {
    log.fatal({ err }, "start failed");
    await pool.close(0).catch(() => undefined);
    await admin.close().catch(() => undefined);
    await webhook?.close().catch(() => undefined);
    return 1;
  }
  return stopped;
}

/** Where balancer-manager edits live: memory or --state-file (file mode), the runtime ConfigMap (Kubernetes). */
async function createRuntimeStore(flags: Flags, kube: KubeParts | null, loggerFor: (component: string) => Logger): Promise<{ store: RuntimeStateStore; persistence: string }> {
  if (kube !== null) {
    const target = flags["runtime-configmap"] ?? { namespace: kube.namespace, name: defaultRuntimeConfigMapName };
    const log = loggerFor("kube");
    const store = new ConfigMapStateStore({ kubeConfig: kube.kubeConfig, namespace: target.namespace, name: target.name, logger: log });
    // Not awaited: serving does not wait for it; its state arrives through subscribe() once listed.
    store.start().catch((err: unknown) => log.error({ err, configMap: store.target }, "runtime ConfigMap watch did not start"));
    return { store, persistence: `ConfigMap ${store.target} (shared by every replica)` };
  }
  const path = flags["state-file"] ?? null;
  const store = new FileStateStore({ path, logger: loggerFor("admin") });
  await store.load();
  return { store, persistence: path === null ? "memory (lost on restart; see --state-file)" : `file ${path}` };
}

/** The Kubernetes API source plus leader election, the Ingress status writer and the Event recorder. */
function createKubeParts(flags: Flags, loggerFor: (component: string) => Logger): KubeParts {
  const { kubeConfig, origin } = loadKubeConfig(processKubeConfigInputs(flags.kubeconfig));
  const log = loggerFor("kube");
  const instance = resolveControllerInstance({ env: process.env, hostname: hostname() });
  log.info({ kubeconfig: describeOrigin(origin), namespace: flags["watch-namespace"] ?? "(all)", identity: instance.identity }, "watching the Kubernetes API");
  const source = new KubeSource({
    kubeConfig,
    logger: log,
    ...(flags["watch-namespace"] !== undefined ? { watchNamespace: flags["watch-namespace"] } : {}),
    ...(flags.configmap !== undefined ? { configMap: flags.configmap } : {}),
    ...(flags["default-ssl-certificate"] !== undefined ? { defaultCertificate: flags["default-ssl-certificate"] } : {}),
  });
  const elector = new LeaderElector({ kubeConfig, logger: loggerFor("leader"), instance, electionId: flags["election-id"] });
  const status = new IngressStatusWriter({
    kubeConfig,
    logger: loggerFor("status"),
    leadership: elector,
    instance,
    publishService: flags["publish-service"],
    ...(flags["watch-namespace"] !== undefined ? { watchNamespace: flags["watch-namespace"] } : {}),
  });
  const events = new EventRecorder({ kubeConfig, logger: loggerFor("events"), identity: instance.identity, isActive: () => elector.isLeader });
  return { kubeConfig, source, elector, status, events, namespace: instance.namespace };
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      // Let pino flush, then exit with the code.
      setImmediate(() => process.exit(code));
    },
    (err: unknown) => {
      process.stderr.write(`proxypass-ingress: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
