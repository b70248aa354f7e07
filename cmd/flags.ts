// Command-line flags, validated with zod. A bad flag is a clear message and exit code 2.
import { availableParallelism } from "node:os";
import { isIP } from "node:net";
import { z } from "zod";
import { parseLogLevels } from "../src/util/index.js";
import { AdminCidrError, parseCidrs } from "../src/admin/index.js";
import { CidrError, parseCidrList } from "../src/util/index.js";

const port = z.coerce.number().int().min(0).max(65535);
const seconds = z.coerce.number().min(0).max(3600);
const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
const name = z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a DNS-1123 name");

const namespacedName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be NAMESPACE/NAME")
  .transform((v) => {
    const [namespace = "", name = ""] = v.split("/");
    return { namespace, name };
  });

const cidrList = z.string().transform((v, ctx) => {
  try {
    return parseCidrs(v);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: err instanceof AdminCidrError ? err.message : "must be comma-separated CIDRs" });
    return z.NEVER;
  }
});

/** `--trusted-proxies`: canonical CIDR texts. */
const trustedList = z.string().transform((v, ctx) => {
  try {
    return parseCidrList(v).map((c) => c.text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: err instanceof CidrError ? err.message : "must be comma-separated CIDRs" });
    return z.NEVER;
  }
});

export const flagsSchema = z.object({
  manifests: z.string().min(1).optional(),
  kubeconfig: z.string().min(1).optional(),
  "watch-namespace": name.optional(),
  configmap: namespacedName.optional(),
  "election-id": name.default("proxypass-ingress-leader"),
  "publish-service": namespacedName.optional(),
  "ingress-class": name.default("proxypass"),
  "controller-name": z.string().regex(/^[a-z0-9.-]+\/[A-Za-z0-9._/-]+$/, "must look like domain/path").default("proxypass.io/ingress-controller"),
  "http-port": port.default(8080),
  "https-port": port.default(8443),
  "default-ssl-certificate": namespacedName.optional(),
  "admin-port": port.default(10254),
  "bind-address": z.string().refine((v) => isIP(v) !== 0, "must be an IP address").default("0.0.0.0"),
  workers: z.coerce.number().int().min(1).max(256).default(availableParallelism()),
  "log-level": z.string().refine((v) => parseLogLevels(v) !== undefined, "must be a pino level or component=level list, e.g. info,proxy=debug").default("info"),
  "access-log": bool.default(true),
  "access-log-format": z.enum(["json", "combined"]).default("json"),
  "max-header-size": z.coerce.number().int().min(1024).max(1_048_576).default(16_384),
  "shutdown-delay": seconds.default(5),
  "shutdown-grace": seconds.default(30),
  "cluster-domain": name.default("cluster.local"),
  "admin-allow-cidrs": cidrList.optional(),
  "trusted-proxies": trustedList.optional(),
  "proxy-protocol": bool.default(false),
  "admin-token-file": z.string().min(1).optional(),
  "runtime-configmap": namespacedName.optional(),
  "state-file": z.string().min(1).optional(),
  "webhook-port": port.default(9443),
  "webhook-cert-file": z.string().min(1).optional(),
  "webhook-key-file": z.string().min(1).optional(),
  zone: z
    .string()
    .max(63, "must be at most 63 characters")
    .regex(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, "must be a label value like eu-west-1a")
    .optional(),
  help: bool.default(false),
});
export type Flags = z.infer<typeof flagsSchema>;

/** Flags that may be given without a value (`--access-log` means `--access-log=true`). */
const booleanFlags = new Set(["access-log", "help"]);

export const usage = `usage: proxypass-ingress [--manifests PATH | --kubeconfig PATH] [flags]

  --manifests PATH            file or directory of Kubernetes manifests (watched); without it the
                              controller watches the Kubernetes API
  --kubeconfig PATH           kubeconfig (default: in-cluster service account, then $KUBECONFIG,
                              then ~/.kube/config)
  --watch-namespace NS        watch only this namespace (default: all)
  --configmap NS/NAME         global settings ConfigMap (watched): cluster-wide annotation defaults
  --election-id NAME          Lease used for leader election (proxypass-ingress-leader)
  --publish-service NS/NAME   Service whose address goes into Ingress status (default: the
                              addresses of the nodes running the controller pod)
  --ingress-class NAME        IngressClass served (proxypass)
  --controller-name NAME      spec.controller of owned IngressClasses (proxypass.io/ingress-controller)
  --http-port N               plain listener: HTTP/1.1, and HTTP/2 with prior knowledge (h2c) (8080)
  --https-port N              TLS listener: HTTP/2 and HTTP/1.1 by ALPN, certificates by SNI (8443)
  --default-ssl-certificate NS/NAME
                              kubernetes.io/tls Secret served for unknown or absent SNI (default:
                              a self-signed certificate made at start)
  --admin-port N              admin listener: /healthz, /readyz, /metrics, /balancer-manager,
                              /server-status, /config (10254)
  --admin-allow-cidrs CIDRS   clients allowed to use /balancer-manager, /server-status and /config
                              (default: loopback only, 127.0.0.0/8 and ::1; the list replaces that default)
  --admin-token-file PATH     file holding a bearer token that also grants those pages
  --runtime-configmap NS/NAME Kubernetes mode: ConfigMap holding balancer-manager edits, shared by
                              every replica (default: proxypass-ingress-runtime in POD_NAMESPACE)
  --state-file PATH           file mode: JSON file holding balancer-manager edits across restarts
                              (default: in memory only)
  --webhook-port N            validating admission webhook for Ingresses of our class, HTTPS,
                              served only with the two files below (9443)
  --webhook-cert-file PATH    webhook certificate (PEM, re-read when it changes)
  --webhook-key-file PATH     webhook private key (PEM)
  --bind-address IP           address of all listeners (0.0.0.0)
  --workers N                 data-plane worker threads (number of CPUs)
  --log-level LEVEL           pino level, or per component: info,proxy=debug
  --access-log BOOL           one line per request (true)
  --access-log-format FORMAT  json (pino, default) or combined (httpd's combined + %D + balancer worker)
  --max-header-size BYTES     larger request headers get 431 (16384)
  --trusted-proxies CIDRS     peers (load balancers) whose X-Forwarded-For names the client: the
                              right-most entry not in these CIDRs is the client address (default:
                              none, the peer is the client)
  --proxy-protocol BOOL       every connection on both listeners starts with a PROXY v1/v2 header
                              (cloud load balancers); its source is the client's peer (false)
  --shutdown-delay S          on SIGTERM, keep serving while unready this long (5)
  --shutdown-grace S          then let in-flight requests finish for at most this long (30)
  --cluster-domain NAME       cluster DNS domain for Service host names (cluster.local)
  --zone NAME                 topology zone for EndpointSlice hints: members hinted for other zones
                              are used only when none of this zone is usable (default: the node's
                              topology.kubernetes.io/zone label, with NODE_NAME set)
`;

export class FlagError extends Error {
  readonly code = "PPI_ERR_FLAG";
}

/** Parses argv (without node and script) into validated flags; throws FlagError with a readable message. */
export function parseFlags(argv: ReadonlyArray<string>): Flags {
  const raw: Record<string, string> = {};
  const known = new Set(Object.keys(flagsSchema.shape));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (!arg.startsWith("--")) throw new FlagError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf("=");
    const key = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (!known.has(key)) throw new FlagError(`unknown flag --${key}`);
    if (key in raw) throw new FlagError(`flag --${key} given twice`);
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (booleanFlags.has(key)) {
      const next = argv[i + 1];
      value = next !== undefined && /^(true|false|1|0)$/.test(next) ? (i++, next) : "true";
    } else {
      value = argv[++i];
      if (value === undefined) throw new FlagError(`flag --${key} needs a value`);
    }
    raw[key] = value;
  }
  const parsed = flagsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const flag = issue?.path.join(".") ?? "?";
    throw new FlagError(`invalid --${flag} "${raw[flag] ?? ""}": ${issue?.message ?? "invalid"}`);
  }
  if ((parsed.data["webhook-cert-file"] === undefined) !== (parsed.data["webhook-key-file"] === undefined)) {
    throw new FlagError("--webhook-cert-file and --webhook-key-file must be given together");
  }
  return parsed.data;
}
