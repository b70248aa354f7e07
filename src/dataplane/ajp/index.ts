export { AjpConnectionError, AjpPool, probeAjpRequest, probeCping, type AjpDispatchOptions, type AjpPoolOptions, type AjpSettings } from "./pool.js";
export { ajpRequestInfo, cipherKeyBits, tlsFacts } from "./request-info.js";
export { AjpProtocolError, DEFAULT_PACKET_SIZE, MAX_PACKET_SIZE, type AjpRequestInfo, type AjpTls } from "./protocol.js";
