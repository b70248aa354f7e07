// Config text for every peer. Each one fronts the same pool (127.0.0.2-4, one origin
// port), keeps upstream connections alive, adds X-Forwarded-For and preserves Host,
// logs nothing per request, and listens on 127.0.0.1 only. Paths are all inside the
// run's temp dir, so the system nginx/haproxy/apache configs are never read or touched.
import { join } from "node:path";

export const members = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
export const smallBody = "x".repeat(99) + "\n"; // 100 bytes
export const bigBodyPath = "/1m";

const isRoot = process.getuid?.() === 0;

/** nginx main context: pid, error log, user (as root), events; files under `dir`, named `name`. */
export function nginxCommon(dir, name) {
  return `pid ${join(dir, `${name}.pid`)};
error_log ${join(dir, `${name}-error.log`)} warn;
${isRoot ? "user root root;" : ""}
events { worker_connections 8192; }`;
}

/** nginx http context basics: no access log, temp paths under `dir/<name>-tmp` (create it first), long client keep-alive. */
export function nginxHttpCommon(dir, name) {
  const t = join(dir, `${name}-tmp`);
  return `access_log off;
  client_body_temp_path ${t}/body;
  proxy_temp_path ${t}/proxy;
  fastcgi_temp_path ${t}/fastcgi;
  uwsgi_temp_path ${t}/uwsgi;
  scgi_temp_path ${t}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 120s;`;
}

/** The origin: one nginx on 127.0.0.2-4:port, 100 bytes at `/` and 1 MiB at `/1m`. */
export function originNginx({ dir, port, workers }) {
  return `worker_processes ${workers};
${nginxCommon(dir, "origin")}
http {
  ${nginxHttpCommon(dir, "origin")}
  server {
    ${members.map((m) => `listen ${m}:${port};`).join("\n    ")}
    location = / { default_type text/plain; return 200 "${smallBody.slice(0, 99)}\\n"; }
    location = ${bigBodyPath} { default_type application/octet-stream; alias ${join(dir, "1m.bin")}; }
  }
}
`;
}

export function nginxProxy({ dir, port, originPort }) {
  return `worker_processes 1;
${nginxCommon(dir, "nginx")}
http {
  ${nginxHttpCommon(dir, "nginx")}
  upstream pool {
    ${members.map((m) => `server ${m}:${originPort};`).join("\n    ")}
    keepalive 256;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://pool;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`;
}

export function haproxy({ port, originPort }) {
  return `global
  nbthread 1
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  option forwardfor
  http-reuse always
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s

frontend fe
  bind 127.0.0.1:${port}
  http-request set-header X-Forwarded-Proto http
  default_backend pool

backend pool
  balance roundrobin
  ${members.map((m, i) => `server m${i + 1} ${m}:${originPort}`).join("\n  ")}
`;
}

export function apache({ dir, port, originPort, modules, threads }) {
  const root = join(dir, "apache");
  const mod = (name, file) => `LoadModule ${name}_module ${join(modules, `mod_${file ?? name}.so`)}`;
  return `ServerRoot "${root}"
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile "${join(root, "httpd.pid")}"
ErrorLog "${join(root, "error.log")}"
LogLevel warn
DefaultRuntimeDir "${join(root, "run")}"
Mutex file:${join(root, "run")} default
${isRoot ? "User nobody\nGroup nogroup" : ""}
${mod("mpm_event")}
${mod("authz_core")}
${mod("slotmem_shm")}
${mod("proxy")}
${mod("proxy_http")}
${mod("proxy_balancer")}
${mod("lbmethod_byrequests")}

# One child process with a thread per connection slot: the closest analogue of one
# nginx worker (threads still spread over both cores).
StartServers 1
ServerLimit 1
ThreadLimit ${threads}
ThreadsPerChild ${threads}
MinSpareThreads 1
MaxSpareThreads ${threads}
MaxRequestWorkers ${threads}
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 120

<Proxy "balancer://pool">
  ${members.map((m) => `BalancerMember "http://${m}:${originPort}"`).join("\n  ")}
  ProxySet lbmethod=byrequests
</Proxy>
ProxyPreserveHost On
ProxyPass "/" "balancer://pool/"
`;
}

/** Manifests for `--manifests DIR`: IngressClass, Ingress (any host, `/` Prefix), Service, EndpointSlice. */
export function manifests({ originPort }) {
  const meta = (name, extra = {}) => ({ name, namespace: "bench", creationTimestamp: "2024-01-01T00:00:00Z", ...extra });
  return {
    "ingressclass.json": {
      apiVersion: "networking.k8s.io/v1",
      kind: "IngressClass",
      metadata: { name: "proxypass", annotations: { "ingressclass.kubernetes.io/is-default-class": "true" } },
      spec: { controller: "proxypass.io/ingress-controller" },
    },
    "ingress.json": {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: meta("bench"),
      spec: {
        ingressClassName: "proxypass",
        rules: [{ http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "origin", port: { name: "http" } } } }] } }],
      },
    },
    "service.json": {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta("origin"),
      spec: { type: "ClusterIP", clusterIP: "10.96.0.10", ports: [{ name: "http", port: 80, targetPort: originPort, protocol: "TCP" }] },
    },
    "endpointslice.json": {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: meta("origin-abc12", { labels: { "kubernetes.io/service-name": "origin" } }),
      addressType: "IPv4",
      endpoints: members.map((address, i) => ({ addresses: [address], conditions: { ready: true, serving: true, terminating: false }, targetRef: { kind: "Pod", name: `origin-${i}`, namespace: "bench" } })),
      ports: [{ name: "http", port: originPort, protocol: "TCP" }],
    },
  };
}
