// Data-plane worker entry (worker_threads): one ProxyServer listening with reusePort on the shared
// port, mapping the shared scoreboard. Logs go to fd 1 directly (pino.destination), not through the
// worker's process.stdout, which Node relays via the main thread.

import { getHeapStatistics } from "node:v8";
import { parentPort, workerData } from "node:worker_threads";
import { pino } from "pino";
import { createLoggerFactory } from "../util/index.js";
import { AUTH_OUTCOMES } from "./auth.js";
import { Scoreboard } from "./balancer/index.js";
import { ProxyServer } from "./proxy-server.js";
import { createWorkerRegistry } from "./stats/index.js";
import type { FromWorker, ToWorker, WorkerInit } from "./worker-protocol.js";

async function runWorker(port: NonNullable<typeof parentPort>, init: WorkerInit): Promise<void> {
  const destination = pino.destination({ dest: 1, sync: false });
  // SonicBoom is a pino destination stream; the factory's parameter is typed as a Node stream.
  const loggers = createLoggerFactory(init.logLevel, destination as unknown as NodeJS.WritableStream);
  const log = loggers("proxy");
  const server = new ProxyServer({
    logger: log,
    // The access log and the levels follow each route table's server settings (over the flags).
    accessLogger: loggers("access"),
    accessLog: init.accessLog,
    logLevels: loggers,
    scoreboard: new Scoreboard(init.buffer),
    workerId: init.exposeWorkerId ? String(init.id) : null,
    maxHeaderSize: init.maxHeaderSize,
    busyLedger: init.busyLedger,
    statsRegion: init.stats,
    accessLogFormat: init.accessLogFormat,
    // Combined lines go to the same non-blocking destination as the JSON lines.
    accessSink: destination,
    requestIdPrefix: String(init.id),
    ...(init.tls !== null ? { tls: { defaultCertificate: init.tls.defaultCertificate, ticketKeys: Buffer.from(init.tls.ticketKeys) } } : {}),
    trustedProxies: init.trustedProxies,
    proxyProtocol: init.proxyProtocol,
  });
  const metrics = createWorkerRegistry(server.routeStats, { worker: String(init.id), heapUsed: () => getHeapStatistics().used_heap_size, authOutcomes: () => ({ counts: server.authOutcomes, labels: AUTH_OUTCOMES }), droppedConnections: () => server.droppedConnections });
  const post = (msg: FromWorker): void => port.postMessage(msg);
  let seq = 0;
  if (init.initial !== null) {
    server.applyAssignedRoutes(init.initial.routes, init.initial.endpoints, init.initial.slots);
    seq = init.initial.seq;
  }
  port.on("message", (msg: ToWorker) => {
    switch (msg.type) {
      case "routes":
        server.applyAssignedRoutes(msg.snapshot.routes, msg.snapshot.endpoints, msg.snapshot.slots);
        post({ type: "ack", seq: msg.snapshot.seq });
        break;
      case "endpoints":
        server.applyAssignedEndpoints(msg.endpoints, msg.slots);
        post({ type: "ack", seq: msg.seq });
        break;
      case "delta":
        server.applyAssignedDelta(msg.delta, msg.slots);
        post({ type: "ack", seq: msg.seq });
        break;
      case "metrics":
        void metrics.getMetricsAsJSON().then((m) => post({ type: "metrics", id: msg.id, metrics: m }));
        break;
      case "drain":
        server.drain();
        break;
      case "close":
        void server.close(msg.graceMs).then(() => {
          destination.flushSync();
          post({ type: "closed" });
          port.close();
        });
        break;
    }
  });
  try {
    const address = await server.listen({ port: init.port, host: init.host, reusePort: true });
    const tlsAddress = init.httpsPort === null ? null : await server.listenTls({ port: init.httpsPort, host: init.host, reusePort: true });
    if (log.isLevelEnabled("debug")) log.debug({ worker: init.id, port: address.port, httpsPort: tlsAddress?.port ?? null }, "worker listening");
    post({ type: "listening", port: address.port, httpsPort: tlsAddress?.port ?? null, seq });
  } catch (err) {
    log.error({ err, worker: init.id }, "worker failed to listen");
    destination.flushSync();
    post({ type: "failed", message: err instanceof Error ? err.message : String(err) });
    port.close();
  }
}

if (parentPort !== null) void runWorker(parentPort, workerData as WorkerInit);
