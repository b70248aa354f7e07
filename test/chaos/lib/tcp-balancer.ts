// A small loopback TCP balancer standing in for a Service in front of controller replicas: it polls
// each backend's /readyz every 100 ms and sends new connections (round robin) only to backends
// that answered 200 last time, as kube-proxy does with endpoints that are not ready. Connections
// already open stay where they are, as they do in a cluster.
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { request } from "undici";

export interface TcpBackend {
  readonly name: string;
  readonly port: number;
  readonly adminPort: number;
  ready: boolean;
}

export class TcpBalancer {
  readonly backends: TcpBackend[] = [];
  port = 0;
  refused = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #next = 0;
  #poller: NodeJS.Timeout | null = null;

  constructor() {
    this.#server = createServer((client) => this.#accept(client));
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, "127.0.0.1", () => r()));
    this.port = (this.#server.address() as AddressInfo).port;
    this.#poller = setInterval(() => void this.#poll(), 100);
    return this;
  }

  add(name: string, port: number, adminPort: number): void {
    this.backends.push({ name, port, adminPort, ready: false });
  }

  remove(name: string): void {
    const i = this.backends.findIndex((b) => b.name === name);
    if (i !== -1) this.backends.splice(i, 1);
  }

  async #poll(): Promise<void> {
    await Promise.all(
      this.backends.map(async (b) => {
        try {
          const res = await request(`http://127.0.0.1:${b.adminPort}/readyz`, { headersTimeout: 500, bodyTimeout: 500 });
          await res.body.dump();
          b.ready = res.statusCode === 200;
        } catch {
          b.ready = false;
        }
      }),
    );
  }

  #accept(client: Socket): void {
    const ready = this.backends.filter((b) => b.ready);
    client.on("error", () => {});
    if (ready.length === 0) {
      this.refused++;
      client.resetAndDestroy();
      return;
    }
    const b = ready[this.#next++ % ready.length] as TcpBackend;
    const upstream = connect({ host: "127.0.0.1", port: b.port });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    // A clean end (FIN) travels through pipe(): destroying on "close" could drop bytes still queued.
    client.on("close", () => upstream.destroy());
    this.#sockets.add(client);
    client.on("close", () => this.#sockets.delete(client));
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async close(): Promise<void> {
    if (this.#poller !== null) clearInterval(this.#poller);
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}
