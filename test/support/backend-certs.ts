// Test PKI for backend TLS: a CA, a leaf it signs for given DNS names, and an unrelated CA.
// Made with the openssl command (test-only; the image ships none) in a temporary directory.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPki {
  /** PEM of the CA that signed `cert`. */
  readonly ca: string;
  /** PEM leaf certificate for `names`, signed by `ca`. */
  readonly cert: string;
  readonly key: string;
  /** PEM of another CA (verification with it fails). */
  readonly otherCa: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA and a leaf for `names` (first = CN), ECDSA P-256, valid for a day. */
export function createTestPki(names: ReadonlyArray<string>): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "ppi-pki-"));
  try {
    const curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(dir, ["req", "-x509", ...curve, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=proxypass test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    openssl(dir, ["req", "-x509", ...curve, "-keyout", "other.key", "-out", "other.crt", "-days", "1", "-subj", "/CN=other test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    openssl(dir, ["req", "-new", ...curve, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", `/CN=${names[0] ?? "localhost"}`]);
    writeFileSync(join(dir, "leaf.ext"), `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`);
    openssl(dir, ["x509", "-req", "-in", "leaf.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.crt", "-days", "1", "-extfile", "leaf.ext"]);
    const read = (f: string): string => readFileSync(join(dir, f), "utf8");
    return { ca: read("ca.crt"), cert: read("leaf.crt"), key: read("leaf.key"), otherCa: read("other.crt") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
