// Compression level candidates on a ~100 KiB JSON (see README.md, "Compression levels"): output size
// against CPU time, each candidate measured two ways:
//   one-shot  — zlib's *Sync function on the whole body (the encoder's best case);
//   streaming — what the proxy does per response (src/dataplane/compress.ts createEncoder): a new
//               streaming encoder with the same parameters, the body written in `--chunk`-byte
//               pieces (as undici hands them over) with a flush after each, then ended.
// CPU time is this process's user+system time (process.cpuUsage), so other load on the machine
// inflates it less than wall time would; single thread, Node's bundled zlib/brotli/zstd.
//
//   node_modules/.bin/node test/bench/compression-levels.mjs [--responses N (100)] [--chunk BYTES (16384)] [--file PATH]
import { readFileSync } from "node:fs";
import zlib from "node:zlib";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({ options: { responses: { type: "string", default: "100" }, chunk: { type: "string", default: "16384" }, file: { type: "string" } } });
const responses = Number(opts.responses);
const chunk = Number(opts.chunk);
const C = zlib.constants;

// ~100 KiB JSON like an API list response (the same generator as compression.mjs)
const items = [];
for (let i = 0; items.length === 0 || JSON.stringify(items).length < 100 * 1024; i++) items.push({ id: i, name: `user-${i}`, email: `user${i}@example.com`, active: i % 3 !== 0, score: (i * 7919) % 1000 / 10, tags: ["a", "b", `t${i % 17}`], created: new Date(1700000000000 + i * 3600000).toISOString() });
// --file: another payload (e.g. README.md, a text/markdown page) to check the choice is not the JSON's alone.
const body = opts.file === undefined ? Buffer.from(JSON.stringify(items)) : readFileSync(opts.file);

const gzip = (level) => ({
  name: `gzip ${level}`,
  sync: (b) => zlib.gzipSync(b, { level }),
  stream: () => zlib.createGzip({ level, flush: C.Z_SYNC_FLUSH }),
});
const br = (quality) => ({
  name: `br ${quality}`,
  sync: (b) => zlib.brotliCompressSync(b, { params: { [C.BROTLI_PARAM_QUALITY]: quality, [C.BROTLI_PARAM_LGWIN]: 19, [C.BROTLI_PARAM_SIZE_HINT]: b.length } }),
  stream: (size) => zlib.createBrotliCompress({ flush: C.BROTLI_OPERATION_FLUSH, params: { [C.BROTLI_PARAM_QUALITY]: quality, [C.BROTLI_PARAM_LGWIN]: 19, [C.BROTLI_PARAM_SIZE_HINT]: size } }),
});
// zstd with windowLog 19 (the proxy's memory bound); "+size": the Content-Length as pledgedSrcSize too.
const zstd = (level, pledged) => ({
  name: `zstd ${level}${pledged ? " +size" : ""}`,
  sync: (b) => zlib.zstdCompressSync(b, { params: { [C.ZSTD_c_compressionLevel]: level, [C.ZSTD_c_windowLog]: 19 } }),
  stream: (size) => zlib.createZstdCompress({ flush: C.ZSTD_e_flush, params: { [C.ZSTD_c_compressionLevel]: level, [C.ZSTD_c_windowLog]: 19 }, ...(pledged ? { pledgedSrcSize: size } : {}) }),
});
const candidates = [gzip(1), gzip(4), gzip(6), br(1), br(3), br(4), br(5), br(6), zstd(1, false), zstd(3, false), zstd(3, true), zstd(6, false)];

function cpuMs(fn) {
  const t0 = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000;
}

/** One response through a streaming encoder: chunked writes, each flushed by the encoder's flush mode. */
function streamOnce(make) {
  return new Promise((resolve, reject) => {
    const enc = make(body.length);
    let out = 0;
    enc.on("data", (c) => (out += c.length));
    enc.on("end", () => resolve(out));
    enc.on("error", reject);
    for (let o = 0; o < body.length; o += chunk) enc.write(body.subarray(o, Math.min(body.length, o + chunk)));
    enc.end();
  });
}

async function streamMs(make, n) {
  const t0 = process.cpuUsage();
  let out = 0;
  for (let i = 0; i < n; i++) out = await streamOnce(make);
  const d = process.cpuUsage(t0);
  return { ms: (d.user + d.system) / 1000 / n, out };
}

const out = (line) => process.stdout.write(`${line}\n`);
out(`input ${body.length} bytes; ${responses} responses per candidate; streaming in ${chunk}-byte writes, flushed`);
out("| coding | one-shot size (%) | one-shot CPU ms | streaming size (%) | streaming CPU ms | streaming MiB/s of JSON per core |");
out("|---|--:|--:|--:|--:|--:|");
for (const c of candidates) {
  for (let i = 0; i < 10; i++) c.sync(body);
  await streamMs(c.stream, 10);
  let syncOut = 0;
  const syncMs = cpuMs(() => {
    for (let i = 0; i < responses; i++) syncOut = c.sync(body).length;
  }) / responses;
  const s = await streamMs(c.stream, responses);
  const pct = (n) => ((n / body.length) * 100).toFixed(1);
  out(`| ${c.name} | ${pct(syncOut)} | ${syncMs.toFixed(2)} | ${pct(s.out)} | ${s.ms.toFixed(2)} | ${((body.length / 1048576) / (s.ms / 1000)).toFixed(0)} |`);
}
