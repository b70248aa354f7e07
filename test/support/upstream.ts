import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Upstream {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Requests seen, in arrival order. */
  readonly seen: Array<{ method: string; url: string; headers: IncomingMessage["headers"]; at: number }>;
  close(): Promise<void>;
}

/** A real node:http upstream on loopback that answers with its own name (or a custom handler). */
export async function startUpstream(
  name: string,
  opts: { host?: string; port?: number; handler?: (req: IncomingMessage, res: ServerResponse) => void } = {},
): Promise<Upstream> {
  const seen: Upstream["seen"] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, at: performance.now() });
    if (opts.handler) return opts.handler(req, res);
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/plain", "x-upstream": name });
      res.end(name);
    });
  });
  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    host,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
