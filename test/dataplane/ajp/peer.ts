// A scripted AJP peer for tests of what Tomcat never sends (malformed or truncated packets, no
// CPong): container -> proxy packet builders and a raw TCP server answering each forward request
// with `script(n)`. Used by protocol.test.ts (AjpPool alone) and proxy-edge.test.ts (through the proxy).
import { createServer, type Server, type Socket } from "node:net";

/** A container -> proxy packet. */
export function ab(payload: Buffer): Buffer {
  const head = Buffer.from([0x41, 0x42, 0, 0]);
  head.writeUInt16BE(payload.length, 2);
  return Buffer.concat([head, payload]);
}
export function str(s: string): Buffer {
  const b = Buffer.alloc(s.length + 3);
  b.writeUInt16BE(s.length, 0);
  b.write(s, 2, "latin1");
  return b;
}
export function int(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}
export function sendHeaders(status: number, headers: Array<[string | number, string]>): Buffer {
  const parts = [Buffer.from([4]), int(status), str("OK"), int(headers.length)];
  for (const [n, v] of headers) parts.push(typeof n === "number" ? int(n) : str(n), str(v));
  return ab(Buffer.concat(parts));
}
export function bodyChunk(data: string): Buffer {
  return ab(Buffer.concat([Buffer.from([3]), int(data.length), Buffer.from(data, "latin1"), Buffer.from([0])]));
}
export const endResponse = (reuse: boolean): Buffer => ab(Buffer.from([5, reuse ? 1 : 0]));

export interface Peer {
  readonly port: number;
  /** Sockets accepted so far. */
  readonly accepted: Socket[];
  /** Forward requests received so far. */
  readonly requests: () => number;
  /** CPing packets received so far (never answered: a peer without CPong). */
  readonly pings: () => number;
  close(): Promise<void>;
}

/** A TCP server that, for each forward request received, writes `script(n)` (n = request number on that connection). */
export async function peer(script: (n: number, socket: Socket) => Buffer | null): Promise<Peer> {
  const accepted: Socket[] = [];
  let requests = 0;
  let pings = 0;
  const server: Server = createServer((socket) => {
    accepted.push(socket);
    let n = 0;
    let buf = Buffer.alloc(0);
    socket.on("error", () => {});
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4) {
        const len = buf.readUInt16BE(2);
        if (buf.length < 4 + len) return;
        const type = buf[4];
        buf = buf.subarray(4 + len);
        if (type === 10) pings++;
        if (type === 2) {
          requests++;
          const out = script(n++, socket);
          if (out !== null) socket.write(out);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    accepted,
    requests: () => requests,
    pings: () => pings,
    close: async () => {
      for (const s of accepted) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
