// TLS termination, as the builder hands it to the data plane (part of the RouteTable): the
// certificates of `kubernetes.io/tls` Secrets that passed validation, which host names use which,
// the default certificate and the protocol settings. Certificates and keys are PEM text; they are
// never shown by /config (the admin sanitizer redacts them).

export type TlsProtocol = "TLSv1.2" | "TLSv1.3";

/** A validated certificate chain and key from a Secret. */
export interface TlsCertificate {
  /** "namespace/name" of the Secret: the identity hosts refer to. */
  readonly id: string;
  /** PEM chain, leaf first (tls.crt as given). */
  readonly cert: string;
  /** PEM private key (tls.key). */
  readonly key: string;
  /** SHA-256 of the leaf certificate (DER), lower-case hex: shown instead of the PEM. */
  readonly fingerprint: string;
  /** The leaf's validity end, ISO 8601. */
  readonly notAfter: string;
}

/** A host name served over TLS and the certificate it presents. */
export interface TlsHost {
  /** Exact ("a.example.com") or one-label wildcard ("*.example.com"), lower-case. */
  readonly host: string;
  /** `id` of a TlsCertificate in `bundles`; null = the default certificate (Secret missing or invalid). */
  readonly bundle: string | null;
}

/** HSTS header settings (ConfigMap `hsts*` keys). */
export interface HstsSettings {
  readonly enabled: boolean;
  readonly maxAge: number;
  readonly includeSubdomains: boolean;
  readonly preload: boolean;
}

/** ConfigMap keys of the TLS listener. */
export interface TlsSettings {
  /** `ssl-protocols`: sorted, at least one. */
  readonly protocols: ReadonlyArray<TlsProtocol>;
  /** `ssl-ciphers`: OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are OpenSSL's defaults). */
  readonly ciphers: string;
  readonly hsts: HstsSettings;
  /** `ssl-redirect-port`: port of the https URL plain-HTTP requests are redirected to; absent = 443. */
  readonly redirectPort?: number;
}

export interface TlsTable {
  /** The certificates some host (or the default) uses, sorted by id. (Not named "certificates": /config's sanitizer would hide the whole list, fingerprints included.) */
  readonly bundles: ReadonlyArray<TlsCertificate>;
  /** Sorted by host. */
  readonly hosts: ReadonlyArray<TlsHost>;
  /** `--default-ssl-certificate`: id of a TlsCertificate in `bundles`; null = the self-signed one generated at start. */
  readonly defaultCertificate: string | null;
  readonly settings: TlsSettings;
}

/** Modern TLS 1.2 ciphers (Mozilla's "intermediate" list, ECDHE with AEAD only). */
export const defaultSslCiphers =
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

export const defaultTlsSettings: TlsSettings = Object.freeze({
  protocols: Object.freeze(["TLSv1.2", "TLSv1.3"]) as ReadonlyArray<TlsProtocol>,
  ciphers: defaultSslCiphers,
  hsts: Object.freeze({ enabled: true, maxAge: 31_536_000, includeSubdomains: false, preload: false }),
});

/** No TLS hosts: only the default certificate, default settings. */
export const emptyTlsTable: TlsTable = Object.freeze({ bundles: Object.freeze([]), hosts: Object.freeze([]), defaultCertificate: null, settings: defaultTlsSettings });
