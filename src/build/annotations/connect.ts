// CONNECT tunnels (httpd's mod_proxy_connect with AllowCONNECT, issue #11): `allow-connect` lists
// the ports a client may name in `CONNECT host:port` where host is one of this Ingress's own hosts;
// the tunnel goes to a member of the Ingress's backend for "/". Absent: CONNECT stays refused.
import { z } from "zod";
import { parseWithSchema, type AnnotationDoc, type AnnotationFamily, type AnnotationParse, type Annotations } from "./family.js";
import { trimBlanks } from "./failover.js";

export interface ConnectValue {
  /** Ports a CONNECT may name, sorted and unique; null = CONNECT not allowed. */
  readonly ports: ReadonlyArray<number> | null;
}

export const allowConnectKey = "proxypass.io/allow-connect";
export const connectKeys: ReadonlyArray<string> = [allowConnectKey];

const portsSchema = z.string().transform((value, ctx): ReadonlyArray<number> => {
  const ports = new Set<number>();
  for (const raw of value.split(",")) {
    const item = trimBlanks(raw); // spaces and tabs only: String.trim would accept VT, FF, CR...
    if (!/^[0-9]{1,5}$/.test(item) || Number(item) < 1 || Number(item) > 65535) {
      ctx.addIssue({ code: "custom", message: "must be a comma-separated list of ports (1-65535), e.g. \"443\" or \"443,8443\"" });
      return z.NEVER;
    }
    ports.add(Number(item));
  }
  return Object.freeze([...ports].sort((a, b) => a - b));
});

export const connectSchema = z.object({ [allowConnectKey]: portsSchema.optional() }).transform((v): ConnectValue => ({ ports: v[allowConnectKey] ?? null }));

export const defaultConnect: ConnectValue = Object.freeze({ ports: null });

export const connectDocs: ReadonlyArray<AnnotationDoc> = [
  {
    key: allowConnectKey,
    values: "comma ports, e.g. `443`",
    default: "none (CONNECT refused)",
    description:
      "lets `CONNECT host:port` through when host is one of this Ingress's hosts and port is listed (AllowCONNECT); the tunnel goes to a member of the Ingress's backend for `/` as raw TCP; see CONNECT tunnels",
  },
];

export function parseConnect(annotations: Annotations): AnnotationParse<ConnectValue> {
  return parseWithSchema(connectSchema, annotations, connectKeys, defaultConnect);
}

export const connectFamily: AnnotationFamily<ConnectValue> = {
  name: "connect",
  implemented: true,
  keys: connectKeys,
  docs: connectDocs,
  parse: parseConnect,
};
