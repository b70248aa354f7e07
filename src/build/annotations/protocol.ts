// Upstream protocol annotations (issues #6, #11).
import { notImplementedFamily, plannedDoc } from "./family.js";

export const protocolFamily = notImplementedFamily("protocol", "issues #6/#11", [
  plannedDoc("backend-protocol", "HTTP, HTTPS, H2C, GRPC, GRPCS, AJP", "HTTP", "protocol to the members (http:// https:// h2c:// ajp://)"),
  plannedDoc("websocket-idle-timeout", "seconds", "3600", "idle timeout of upgraded connections (wstunnel)"),
  plannedDoc("backend-tls-verify", '"true" / "false"', "true", "verify member certificates (SSLProxyVerify)"),
  plannedDoc("backend-ca-secret", "Secret name", "none", "Secret with ca.crt for member certificates (SSLProxyCACertificateFile)"),
  plannedDoc("ajp-secret", "Secret name", "none", "Secret with key `secret` (AJP secret=)"),
  plannedDoc("ajp-packet-size", "bytes", "8192", "AJP packet size (ProxyIOBufferSize)"),
  plannedDoc("allow-connect", "comma ports", "none", "CONNECT to this Ingress's own hosts only (AllowCONNECT)"),
]);
