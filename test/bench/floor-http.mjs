// Floor 1: a bare node:http server answering 100 bytes directly (no proxy). What the
// runtime costs per request before any proxying happens.
//   node test/bench/floor-http.mjs --port 18080 [--host 127.0.0.1]
import { createServer } from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { port: { type: "string" }, host: { type: "string", default: "127.0.0.1" } } });
const body = Buffer.alloc(100, "x");
body.write("proxypass bench floor\n");

const server = createServer({ keepAliveTimeout: 60_000 }, (_req, res) => {
  res.writeHead(200, { "content-type": "text/plain", "content-length": 100 });
  res.end(body);
});
server.listen(Number(values.port), values.host, () => console.log(`floor-http listening on ${values.host}:${values.port}`));
process.on("SIGTERM", () => process.exit(0));
