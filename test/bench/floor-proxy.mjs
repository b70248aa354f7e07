// Floor 2: a minimal reverse proxy, node:http + undici `dispatch` with a handler object,
// round robin over a pool with upstream keep-alive. No routing, no config, no metrics:
// the least a Node proxy can do. proxypass-ingress must beat it.
//   node test/bench/floor-proxy.mjs --port 18081 --members 127.0.0.2:9000,127.0.0.3:9000 [--pipelining 1] [--connections 256]
// (--pipelining / --connections: undici Pool options per member, for the pool-option experiments
// of issue 9; the floor-proxy peer runs with the defaults.)
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { Pool } from "undici";

const { values } = parseArgs({ options: { port: { type: "string" }, host: { type: "string", default: "127.0.0.1" }, members: { type: "string" }, pipelining: { type: "string", default: "1" }, connections: { type: "string", default: "256" } } });
const pools = values.members.split(",").map((m) => new Pool(`http://${m}`, { connections: Number(values.connections), pipelining: Number(values.pipelining), keepAliveTimeout: 60_000 }));
const hop = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"]);
let next = 0;

class Forward {
  constructor(res) {
    this.res = res;
    this.controller = null;
    this.onClose = this.onClose.bind(this);
    this.onDrain = this.onDrain.bind(this);
    res.on("close", this.onClose);
  }
  onRequestStart(controller) { this.controller = controller; }
  onResponseStart(_c, statusCode, headers) {
    const out = {};
    for (const name in headers) if (!hop.has(name)) out[name] = headers[name];
    this.res.writeHead(statusCode, out);
  }
  onResponseData(controller, chunk) {
    if (!this.res.write(chunk)) { controller.pause(); this.res.once("drain", this.onDrain); }
  }
  onDrain() { this.controller.resume(); }
  onResponseEnd() { this.res.end(); }
  onResponseError(_c, _err) {
    if (this.res.headersSent) this.res.destroy();
    else { this.res.writeHead(502, { "content-type": "text/plain" }); this.res.end("bad gateway\n"); }
  }
  onClose() { if (!this.res.writableFinished && this.controller !== null) this.controller.abort(new Error("client closed")); }
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const raw = req.rawHeaders;
  const headers = [];
  for (let i = 0; i < raw.length; i += 2) if (!hop.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
  headers.push("x-forwarded-for", req.socket.remoteAddress);
  const pool = pools[next];
  next = (next + 1) % pools.length;
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  pool.dispatch({ method: req.method, path: req.url, headers, body: hasBody ? req : null }, new Forward(res));
});
server.listen(Number(values.port), values.host, () => console.log(`floor-proxy listening on ${values.host}:${values.port} -> ${values.members}`));
process.on("SIGTERM", () => process.exit(0));
