#!/usr/bin/env node
// Entry point: flags, wiring, start and stop. No logic lives here.
import { pathToFileURL } from "node:url";
import { realpathSync } from "node:fs";
import { AdminServer } from "../src/admin/index.js";
import { Reconciler } from "../src/control/index.js";
import { WorkerPool } from "../src/dataplane/index.js";
import { ManifestSource } from "../src/files/index.js";
import { createLoggerFactory } from "../src/util/index.js";
import { FlagError, parseFlags, usage, type Flags } from "./flags.js";

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
  if (flags.manifests === undefined) {
    process.stderr.write(
      `proxypass-ingress: --manifests PATH is required: the Kubernetes source (--kubeconfig, in-cluster) is not built yet\n\n${usage}`,
    );
    return 2;
  }

  const loggerFor = createLoggerFactory(flags["log-level"]);
  const log = loggerFor("main");
  const pool = new WorkerPool({
    workers: flags.workers,
    port: flags["http-port"],
    host: flags["bind-address"],
    logLevel: flags["log-level"],
    accessLog: flags["access-log"],
    logger: loggerFor("proxy"),
  });
  const source = new ManifestSource({ path: flags.manifests, logger: loggerFor("files") });
  const reconciler = new Reconciler({
    source,
    sink: pool,
    settings: { ingressClass: flags["ingress-class"], controllerName: flags["controller-name"], clusterDomain: flags["cluster-domain"] },
    logger: loggerFor("control"),
  });
  const admin = new AdminServer({ isReady: () => reconciler.ready, logger: loggerFor("admin") });

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
      // SIGTERM comes from Kubernetes: keep serving while endpoints controllers notice we are unready.
      const delayS = signal === "SIGTERM" ? flags["shutdown-delay"] : 0;
      log.info({ signal, delaySeconds: delayS, graceSeconds: flags["shutdown-grace"] }, "shutting down: /readyz now fails");
      if (delayS > 0) await new Promise((r) => setTimeout(r, delayS * 1000));
      reconciler.close();
      await source.close();
      await pool.close(flags["shutdown-grace"] * 1000);
      await admin.close();
      log.info("stopped");
      resolve(0);
    };
    process.on("SIGTERM", (s) => void stop(s));
    process.on("SIGINT", (s) => void stop(s));
  });

  try {
    const adminPort = await admin.listen(flags["admin-port"], flags["bind-address"]);
    await pool.start();
    await reconciler.start();
    log.info(
      { httpPort: flags["http-port"], adminPort, workers: flags.workers, manifests: flags.manifests },
      "proxypass-ingress serving",
    );
  } catch (err) {
    log.fatal({ err }, "start failed");
    await pool.close(0).catch(() => undefined);
    await admin.close().catch(() => undefined);
    return 1;
  }
  return stopped;
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
