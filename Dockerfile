# Darkroom's headless server, for a single server or a cluster node (docs/deploy.md).
# Not built by the project's CI (its machines run no container engine); `docker build .` builds it.

FROM node:24-bookworm-slim AS build
WORKDIR /src
# The desktop app is not part of the image: skip Electron's ~100 MB binary.
ENV ELECTRON_SKIP_BINARY_DOWNLOAD=1
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
# Perl runs ExifTool (camera RAW metadata and previews); tini forwards SIGTERM so a node
# finishes or hands back its jobs before it stops.
RUN apt-get update \
 && apt-get install -y --no-install-recommends perl tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin

# Non-root: the image's own `node` user owns the data folder and nothing else.
RUN mkdir /data && chown node:node /data
USER node
# MALLOC_*: the allocator settings the engine runs with (workers/engine-env.ts says why).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=1048576 \
    DARKROOM_HOST=0.0.0.0 \
    DARKROOM_PORT=7410 \
    DARKROOM_DATA_DIR=/data
VOLUME /data
EXPOSE 7410

# /readyz answers 503 while the database or the bucket cannot be reached: the orchestrator and
# the load balancer stop sending this node requests until it is back.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.DARKROOM_PORT || 7410) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--max-semi-space-size=2", "--initial-old-space-size=64", "bin/darkroom.js", "serve"]
