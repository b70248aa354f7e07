// Certificates made in-process: the self-signed default certificate the TLS listener presents when
// no `--default-ssl-certificate` is given (generated once at start by the primary and handed to
// every worker, so all workers present the same one), and test certificates. The image is
// distroless: no openssl binary, so this uses @peculiar/x509 on Node's WebCrypto. That library
// needs a Reflect metadata polyfill (reflect-metadata); both are loaded on first use only, so a
// process that never generates a certificate never installs the polyfill.

import { webcrypto } from "node:crypto";

/** A PEM certificate chain (leaf first) and its PEM private key (PKCS#8). */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

export type KeyKind = "ecdsa" | "rsa";

export interface CertificateRequest {
  /** Subject common name. */
  readonly commonName: string;
  /** DNS subject alternative names (wildcards allowed). */
  readonly dnsNames?: ReadonlyArray<string>;
  /** Default "ecdsa" (P-256). */
  readonly keyKind?: KeyKind;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Issuer (a CA made with `isCa`); default self-signed. */
  readonly issuer?: PemPair;
  /** A CA certificate (basicConstraints cA, keyCertSign). */
  readonly isCa?: boolean;
  /** Serial number, hex; default random. */
  readonly serial?: string;
}

type X509Module = typeof import("@peculiar/x509");
let x509Module: Promise<X509Module> | null = null;

function loadX509(): Promise<X509Module> {
  x509Module ??= (async () => {
    await import("reflect-metadata");
    const x509 = await import("@peculiar/x509");
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  })();
  return x509Module;
}

const ECDSA = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const RSA = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 } as const;

function algorithmOf(kind: KeyKind): typeof ECDSA | typeof RSA {
  return kind === "rsa" ? RSA : ECDSA;
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive
  return Buffer.from(bytes).toString("hex");
}

/** Makes a certificate (self-signed, or signed by `issuer`) and its key. */
export async function createCertificate(request: CertificateRequest): Promise<PemPair> {
  const x509 = await loadX509();
  const kind = request.keyKind ?? "ecdsa";
  const alg = algorithmOf(kind);
  const keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const extensions: InstanceType<X509Module["Extension"]>[] = [];
  if (request.isCa === true) {
    extensions.push(new x509.BasicConstraintsExtension(true, undefined, true));
    extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true));
  } else {
    extensions.push(new x509.BasicConstraintsExtension(false, undefined, true));
    const usage = kind === "rsa" ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature;
    extensions.push(new x509.KeyUsagesExtension(usage, true));
    extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]));
  }
  const dnsNames = request.dnsNames ?? [];
  if (dnsNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: "dns" as const, value }))));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  const name = `CN=${request.commonName}`;
  const serialNumber = request.serial ?? randomSerial();
  let cert: InstanceType<X509Module["X509Certificate"]>;
  let chain = "";
  if (request.issuer === undefined) {
    cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber, name, notBefore: request.notBefore, notAfter: request.notAfter, keys, signingAlgorithm: alg, extensions });
  } else {
    const issuerCert = new x509.X509Certificate(request.issuer.cert);
    const issuerKind: KeyKind = issuerCert.publicKey.algorithm.name === "ECDSA" ? "ecdsa" : "rsa";
    const issuerAlg = algorithmOf(issuerKind);
    const issuerKey = await webcrypto.subtle.importKey("pkcs8", x509.PemConverter.decodeFirst(request.issuer.key), issuerAlg, false, ["sign"]);
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerCert));
    cert = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: name,
      issuer: issuerCert.subject,
      notBefore: request.notBefore,
      notAfter: request.notAfter,
      publicKey: keys.publicKey,
      signingKey: issuerKey,
      signingAlgorithm: issuerAlg,
      extensions,
    });
    chain = issuerCert.toString("pem") + "\n";
  }
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { cert: `${cert.toString("pem")}\n${chain}`, key: `${x509.PemConverter.encode(pkcs8, "PRIVATE KEY")}\n` };
}

/**
 * The default certificate when no `--default-ssl-certificate` is given: self-signed ECDSA P-256,
 * CN "proxypass-ingress default certificate", valid from an hour before `now` for a year (like
 * ingress-nginx's "Kubernetes Ingress Controller Fake Certificate", no client will trust it).
 */
export function createDefaultCertificate(now: Date = new Date()): Promise<PemPair> {
  return createCertificate({
    commonName: "proxypass-ingress default certificate",
    dnsNames: ["proxypass-ingress.invalid"],
    notBefore: new Date(now.getTime() - 3_600_000),
    notAfter: new Date(now.getTime() + 365 * 86_400_000),
  });
}
