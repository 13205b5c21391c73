#!/usr/bin/env bash
# Makes a fresh clone runnable: installs the npm workspaces (with the Node 24 binary from the npm
# package `node`) when package-lock.json changed since the last install, then builds every workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "bootstrap: installing npm packages (npm ci)"
  # npm 11.19 can drop the entries of optional platform packages (jest's @unrs/resolver-binding-*)
  # from the lock file and then refuse its own lock in `npm ci`; `npm install` resolves them.
  if ! npm ci --no-audit --no-fund --loglevel=error; then
    echo "bootstrap: npm ci refused the lock file; installing with npm install instead"
    npm install --no-audit --no-fund --loglevel=error
  fi
fi
echo "bootstrap: building workspaces (tsc -b)"
node_modules/.bin/tsc -b
chmod +x libs/cli/dist/main.js
