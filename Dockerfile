# syntax=docker/dockerfile:1
# proxypass-ingress container image.
#   docker build -t proxypass-ingress:dev --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
# Build: the official Node 24 image compiles TypeScript. Runtime: distroless Node 24 — no shell,
# no package manager, no build tools; only node, the compiled dist/ and the production
# node_modules. Runs as UID/GID 65532 with a read-only root filesystem (the chart mounts an
# emptyDir on /tmp, the only path it may write). No HEALTHCHECK: Kubernetes ignores it; the
# chart's probes use /healthz and /readyz on the admin port. test/image/ checks these rules.
# Tags are pinned to a Node release; CI may pin digests on top (`@sha256:…`).
ARG NODE_VERSION=24.21.0

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# The image already has Node 24: --ignore-scripts skips the `node` devDependency's download.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY cmd ./cmd
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM node:${NODE_VERSION}-bookworm-slim AS prod-deps
WORKDIR /src
COPY package.json package-lock.json ./
# Production dependencies only, from the lock file; none has an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM gcr.io/distroless/nodejs24-debian12:nonroot AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="proxypass-ingress" \
      org.opencontainers.image.description="Kubernetes ingress controller with Apache httpd mod_proxy semantics, reconfigured without reloads" \
      org.opencontainers.image.source="https://github.com/proxypass/proxypass-ingress" \
      org.opencontainers.image.url="https://github.com/proxypass/proxypass-ingress" \
      org.opencontainers.image.documentation="https://github.com/proxypass/proxypass-ingress#readme" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.vendor="proxypass-ingress authors" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="gcr.io/distroless/nodejs24-debian12:nonroot"
WORKDIR /app
ENV NODE_ENV=production
# V8 would size each thread's heap from the node's memory and keep freed pages resident; these caps
# keep RSS flat (docs/control-plane-benchmark.md). They apply to the data-plane worker threads too.
ENV NODE_OPTIONS="--max-semi-space-size=8 --max-old-space-size=1024"
COPY --from=prod-deps --chown=0:0 /src/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist ./dist
COPY --chown=0:0 package.json ./
USER 65532:65532
EXPOSE 8080 8443 10254
# Exec form: node is PID 1 and receives SIGTERM itself (the controller handles it: shutdown-delay,
# then shutdown-grace). Workers are threads, so there are no child processes to reap.
ENTRYPOINT ["/nodejs/bin/node", "dist/cmd/proxypass-ingress.js"]
