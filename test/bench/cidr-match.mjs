// Micro-benchmark: CidrMatcher (src/util/cidr.ts) against node:net BlockList, 1e6 checks x 3 rounds over
// 6 CIDRs and a mixed IPv4/IPv6 sample. Run after npm run build: node test/bench/cidr-match.mjs
import { BlockList } from "node:net";
import { CidrMatcher } from "../../dist/src/util/cidr.js";
const cidrs = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "2001:db8::/32", "fd00::/8"];
const ours = new CidrMatcher(cidrs);
const bl = new BlockList();
for (const c of cidrs) { const [a, p] = c.split("/"); bl.addSubnet(a, Number(p), a.includes(":") ? "ipv6" : "ipv4"); }
const sample = ["10.1.1.1", "172.20.0.1", "172.32.0.1", "8.8.8.8", "192.168.9.9", "100.127.255.255", "2001:db8::1", "fd12::1", "fe80::1", "2001:db7::1"];
for (let round = 0; round < 3; round++) {
const n = 1_000_000; let hits = 0;
let t = performance.now();
for (let i = 0; i < n; i++) if (ours.contains(sample[i % sample.length])) hits++;
const a = ((performance.now() - t) * 1e6) / n;
t = performance.now();
for (let i = 0; i < n; i++) { const s = sample[i % sample.length]; if (bl.check(s, s.includes(":") ? "ipv6" : "ipv4")) hits++; }
const b = ((performance.now() - t) * 1e6) / n;
process.stdout.write(`ours ${a.toFixed(0)} ns, BlockList ${b.toFixed(0)} ns (hits ${hits})\n`);
}
