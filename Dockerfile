# syntax=docker/dockerfile:1
# One image for the four services and the CLI; the command picks what runs (the entrypoint is node):
#   docker run docintel                                   # fetch (the default)
#   docker run docintel services/embed/dist/main.js       # embed, store, status alike
#   docker run docintel libs/cli/dist/main.js migrate     # the CLI: migrate, topics create, ...
ARG NODE_IMAGE=node:24-bookworm-slim

# The package manifests alone: the npm ci layers below are rebuilt only when one of them changes,
# not on every source edit (BuildKit keys a COPY --from on the copied files' content).
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir /manifests \
 && cp --parents package.json package-lock.json libs/*/package.json services/*/package.json /manifests/

# Every workspace built with the full dependency tree.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY --from=manifests /manifests/ ./
# --ignore-scripts: no dependency needs an install script to compile TypeScript, and some (the npm
# package `node`, onnxruntime-node) would download binaries this build has no use for.
RUN npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
COPY . .
# Collects what runs: each workspace's dist/ (and libs/db's migrations/), without build info.
RUN npx tsc -b \
 && mkdir /out \
 && for dir in libs/* services/*; do \
      [ -d "$dir/dist" ] || continue; \
      mkdir -p "/out/$dir" && cp -r "$dir/dist" "/out/$dir/"; \
      if [ -d "$dir/migrations" ]; then cp -r "$dir/migrations" "/out/$dir/"; fi; \
    done \
 && find /out -name '*.tsbuildinfo' -delete

# Production dependencies only: no compiler, no test tools, no Node binary from npm.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY --from=manifests /manifests/ ./
# The prebuilt native modules (LanceDB's) come as platform packages and need no install script.
# Then out go ~500 MB that never load: LanceDB's optional local-model embedder (@huggingface/
# transformers with onnxruntime and sharp, imported lazily only by an embedding function docintel
# does not use) and LanceDB's musl builds on this glibc image.
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts --loglevel=error \
 && npm cache clean --force \
 && rm -rf node_modules/@huggingface node_modules/onnxruntime-node node_modules/onnxruntime-web \
      node_modules/onnxruntime-common node_modules/sharp node_modules/@img node_modules/@lancedb/lancedb-linux-*-musl

FROM ${NODE_IMAGE}
WORKDIR /app
# uid/gid 10001: no clash with a host user when a volume is shared; the Helm chart runs as the same.
RUN groupadd --system --gid 10001 docintel \
 && useradd --system --uid 10001 --gid docintel --home-dir /app --shell /usr/sbin/nologin docintel \
 && mkdir -p /data/lancedb \
 && chown docintel:docintel /data/lancedb
COPY --from=prod-deps /app/ ./
COPY --from=build /out/ ./
USER 10001:10001
# The embedded vector store's directory: a volume in docker-compose.kafka.yml and the Helm chart.
ENV LANCEDB_DIR=/data/lancedb
ENTRYPOINT ["node"]
CMD ["services/fetch/dist/main.js"]
