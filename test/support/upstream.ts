// Recording node:http upstreams on loopback, shared by every test suite.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Arrival {
  /** Global order across upstreams and test events (see nextSeq). */
  readonly seq: number;
  readonly at: number;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
}

let arrivalSeq = 0;

/** Global order of events across upstreams and applies in one test process. */
export function nextSeq(): number {
  return ++arrivalSeq;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, name: string) => void;

export interface Upstream {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly server: Server;
  /** Requests seen, in arrival order. */
  readonly arrivals: Arrival[];
  close(): Promise<void>;
}

/** Default handler: drains the body, answers 200 with the upstream's name as body and `x-upstream`. */
export const nameHandler: UpstreamHandler = (req, res, name) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "text/plain", "x-upstream": name });
    res.end(name);
  });
};

/** Starts a recording upstream on `host` (127.0.0.1) and a free port (or `port`). */
export async function startUpstream(
  name: string,
  options: UpstreamHandler | { host?: string; port?: number; handler?: UpstreamHandler } = {},
): Promise<Upstream> {
  const opts = typeof options === "function" ? { handler: options } : options;
  const handler = opts.handler ?? nameHandler;
  const host = opts.host ?? "127.0.0.1";
  const arrivals: Arrival[] = [];
  const server = createServer((req, res) => {
    arrivals.push({ seq: nextSeq(), at: performance.now(), method: req.method ?? "", url: req.url ?? "", headers: req.headers, rawHeaders: req.rawHeaders });
    handler(req, res, name);
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    host,
    port,
    server,
    arrivals,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
