// Compression level candidates on a ~100 KiB JSON (see README.md, "Compression levels"): ratio and throughput.
import zlib from "node:zlib";
// ~100 KiB JSON like an API list response
const items = [];
for (let i = 0; items.length === 0 || JSON.stringify(items).length < 100 * 1024; i++) items.push({ id: i, name: `user-${i}`, email: `user${i}@example.com`, active: i % 3 !== 0, score: (i * 7919) % 1000 / 10, tags: ["a", "b", `t${i % 17}`], created: new Date(1700000000000 + i * 3600000).toISOString() });
const body = Buffer.from(JSON.stringify(items));
const cases = [
  ["gzip 1", (b) => zlib.gzipSync(b, { level: 1 })],
  ["gzip 6", (b) => zlib.gzipSync(b, { level: 6 })],
  ["br 4", (b) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length } })],
  ["br 5", (b) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length } })],
  ["br 6", (b) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 6 } })],
  ["zstd 3", (b) => zlib.zstdCompressSync(b, { params: { [zlib.constants.ZSTD_c_compressionLevel]: 3 } })],
  ["zstd 6", (b) => zlib.zstdCompressSync(b, { params: { [zlib.constants.ZSTD_c_compressionLevel]: 6 } })],
];
console.log(`input ${body.length} bytes`);
for (const [name, f] of cases) {
  for (let i = 0; i < 20; i++) f(body);
  const n = 200; const t0 = process.hrtime.bigint();
  let out = 0; for (let i = 0; i < n; i++) out = f(body).length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${name.padEnd(7)} ratio ${(out / body.length * 100).toFixed(1)}%  ${(n * body.length / s / 1048576).toFixed(0)} MiB/s  ${(s / n * 1e3).toFixed(2)} ms/response  out ${out}`);
}
