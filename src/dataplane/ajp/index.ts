export { AjpConnectionError, AjpPool, probeCping, type AjpDispatchOptions, type AjpPoolOptions, type AjpSettings } from "./pool.js";
export { AjpProtocolError, DEFAULT_PACKET_SIZE, MAX_PACKET_SIZE, type AjpRequestInfo, type AjpTls } from "./protocol.js";
