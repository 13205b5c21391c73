#!/usr/bin/env bash
# `npm run lock`: brings package-lock.json in step with every package.json, the one way the project
# updates its lock file (after editing a package.json, instead of a bare `npm install`).
#
# npm 11 writes an optional platform package whose manifest it could not read whole (a registry or
# proxy that answered with partial metadata, or a fetch that failed) as an entry with no version,
# `{ "dev": true, "optional": true }`; such an entry is then never resolved again, and `npm ci`
# refuses the whole lock file with "Invalid Version:" on every machine that has not the package in
# its cache. So entries without a version are dropped and npm resolves them afresh, then the lock is
# checked (scripts/check-lockfile.mts, also part of `npm run lint`).
set -euo pipefail
cd "$(dirname "$0")/.."
drop_versionless() {
  node -e '
    const fs = require("fs");
    const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
    const dropped = Object.keys(lock.packages).filter((key) => key && !lock.packages[key].link && !lock.packages[key].version);
    for (const key of dropped) delete lock.packages[key];
    if (dropped.length > 0) {
      fs.writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n");
      console.log(`lock: dropped ${dropped.length} entries without a version: ${dropped.join(", ")}`);
    }
    process.exitCode = dropped.length > 0 ? 3 : 0;
  '
}
for attempt in 1 2 3; do
  npm install --package-lock-only --ignore-scripts --no-audit --no-fund --loglevel=error
  if drop_versionless; then break; fi
  if [ "$attempt" = 3 ]; then
    echo "lock: npm still writes entries without a version after 3 tries; is the registry answering with whole manifests?" >&2
    exit 1
  fi
done
if [ -x node_modules/.bin/node ]; then
  node_modules/.bin/node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON scripts/check-lockfile.mts
else
  echo "lock: run npm ci (or npm start) next; npm run lint then checks the lock file with Node 24"
fi
