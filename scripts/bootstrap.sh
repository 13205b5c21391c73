#!/usr/bin/env bash
# Makes a fresh clone runnable: installs the npm workspaces (with the Node 24 binary from the npm
# package `node`) when package-lock.json changed since the last install, then builds every workspace.
#   --tests   also installs what `npm test` needs beyond that: the clients the README's tested
#             recipes use (kcat, psql, Python's confluent-kafka and psycopg2; Debian packages, through
#             deploy/kafka/install-clients.sh, which does nothing when they are there). The broker is
#             fetched and started by jest's global setup.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "bootstrap: installing npm packages (npm ci)"
  # No fallback to `npm install`: a lock file that npm ci refuses is a defect to mend (npm run lock),
  # not something to paper over on one machine while every other one fails.
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "bootstrap: building workspaces (tsc -b)"
node_modules/.bin/tsc -b
if [ "${1:-}" = "--tests" ]; then
  bash deploy/kafka/install-clients.sh
fi

