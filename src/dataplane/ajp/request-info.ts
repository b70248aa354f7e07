// What an AJP forward request says about the client, taken from the client connection itself and
// never from request headers: remote address and port, the proxy's local address, the host the
// request was routed by, the listener's port, and for TLS clients (a TLSSocket) the ssl_*
// attributes (cipher, session id, key size, client certificate, protocol).
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import type { AjpRequestInfo, AjpTls } from "./protocol.js";

/** Symmetric key bits of a cipher suite, from its name (httpd's SSL_CIPHER_USEKEYSIZE); null when unknown. */
export function cipherKeyBits(name: string): number | null {
  const n = name.toUpperCase();
  if (n.includes("CHACHA20")) return 256;
  if (n.includes("AES_256") || n.includes("AES256")) return 256;
  if (n.includes("AES_128") || n.includes("AES128")) return 128;
  if (n.includes("3DES") || n.includes("DES-CBC3")) return 168;
  return null;
}

/** The ssl_* facts per TLS connection: read once (the session DER, the peer certificate), not per request. */
const factsByConnection = new WeakMap<object, AjpTls>();

/** The ssl_* facts of a TLS client connection, or null for plain TCP. */
export function tlsFacts(socket: IncomingMessage["socket"]): AjpTls | null {
  const tls = socket as TLSSocket;
  if (tls.encrypted !== true || typeof tls.getCipher !== "function") return null;
  const known = factsByConnection.get(tls);
  if (known !== undefined) return known;
  const facts = readTlsFacts(tls);
  factsByConnection.set(tls, facts);
  return facts;
}

function readTlsFacts(tls: TLSSocket): AjpTls {
  const cipher = tls.getCipher();
  const session = tls.getSession?.();
  const peer = typeof tls.getPeerX509Certificate === "function" ? tls.getPeerX509Certificate() : undefined;
  return {
    cipher: cipher?.name ?? null,
    session: session === undefined ? null : sessionId(session),
    keySize: cipher === undefined || cipher === null ? null : cipherKeyBits(cipher.standardName ?? cipher.name),
    cert: peer === undefined ? null : peer.toString(),
    protocol: tls.getProtocol?.() ?? null,
  };
}

/**
 * The session id of a serialized TLS session (DER SSL_SESSION: SEQUENCE { version, sslVersion,
 * cipher, sessionID OCTET STRING, ... }), hex; null when it cannot be read.
 */
function sessionId(der: Buffer): string | null {
  try {
    let p = 0;
    const len = (): number => {
      let l = der[p++] as number;
      if (l & 0x80) {
        const k = l & 0x7f;
        l = 0;
        for (let i = 0; i < k; i++) l = (l << 8) | (der[p++] as number);
      }
      return l;
    };
    if (der[p++] !== 0x30) return null;
    len();
    for (let field = 0; field < 3; field++) {
      p++; // tag
      p += len();
    }
    if (der[p++] !== 0x04) return null;
    const n = len();
    return n === 0 ? null : der.toString("hex", p, p + n);
  } catch {
    return null;
  }
}

/** The forward request's client facts for one request. `remoteAddr`: the client address the proxy uses (its access log's). */
export function ajpRequestInfo(req: IncomingMessage, remoteAddr: string, serverName: string, serverPort: number, route: string | null): AjpRequestInfo {
  const socket = req.socket;
  // HTTP/2 (compat API): req.socket is a new proxy per stream; the connection's own socket keys the TLS facts.
  const connection = (req as { stream?: { session?: { socket?: IncomingMessage["socket"] } } }).stream?.session?.socket ?? socket;
  return {
    remoteAddr,
    remotePort: socket.remotePort ?? 0,
    localAddr: socket.localAddress ?? "",
    serverName,
    serverPort,
    tls: tlsFacts(connection),
    route,
  };
}
