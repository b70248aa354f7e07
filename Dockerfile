# syntax=docker/dockerfile:1
# First version for the foundation; the install issue (#8) hardens it (distroless runtime,
# OCI labels, read-only root filesystem checks) and adds the Helm chart around it.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# The image already has Node 24: skip the `node` devDependency's binary download.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY cmd ./cmd
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# V8 would size each thread's heap from the node's memory and keep freed pages resident; these caps
# keep RSS flat (docs/control-plane-benchmark.md). They apply to the data-plane worker threads too.
ENV NODE_OPTIONS="--max-semi-space-size=8 --max-old-space-size=1024"
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
USER 65532:65532
EXPOSE 8080 8443 10254
ENTRYPOINT ["node", "dist/cmd/proxypass-ingress.js"]
