#!/usr/bin/env bash
# Copies the runtime dependencies of a pom into a folder, with Maven from Maven Central (the local
# repository ~/.m2 caches them). Maven 3.8 prints colour resets even with -B -q -Dstyle.color=never;
# they are dropped here, so the output is plain text.
#   deploy/maven-fetch.sh <pom.xml> <output folder>
set -euo pipefail
if [ "$#" -ne 2 ]; then
  echo "usage: deploy/maven-fetch.sh <pom.xml> <output folder>" >&2
  exit 2
fi
mvn -q -B -Dstyle.color=never -f "$1" dependency:copy-dependencies -DoutputDirectory="$2" -DincludeScope=runtime 2>&1 |
  sed -u 's/\x1b\[[0-9;]*m//g'
