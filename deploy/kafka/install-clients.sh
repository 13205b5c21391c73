#!/usr/bin/env bash
# Installs the Debian packages that the README's tested recipes use, each only when it is missing,
# and does nothing when all of them are there:
#   kcat                     the Kafka recipes and the shell producer example
#   postgresql-client        psql, for the shell producer example
#   python3-confluent-kafka  the Python producer example (Debian's package, for /usr/bin/python3)
#   python3-psycopg2         the same example's database access
# The Python modules are looked for in $PYTHON when it is set (another interpreter, as the recipe
# allows), else in /usr/bin/python3. Needs root (or sudo) and apt-get.
set -euo pipefail
python="${PYTHON:-/usr/bin/python3}"

# The packages of the list above whose command or module is not there, separated by spaces.
missing_packages() {
  local missing=""
  command -v kcat >/dev/null 2>&1 || missing="$missing kcat"
  command -v psql >/dev/null 2>&1 || missing="$missing postgresql-client"
  "$python" -c 'import confluent_kafka' >/dev/null 2>&1 || missing="$missing python3-confluent-kafka"
  "$python" -c 'import psycopg2' >/dev/null 2>&1 || missing="$missing python3-psycopg2"
  echo "${missing# }"
}

missing="$(missing_packages)"
if [ -z "$missing" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-clients: missing $missing, and there is no apt-get here: install kcat and psql with your" \
    "package manager (brew install kcat libpq, ...), and confluent-kafka and psycopg2 into a python" \
    "(pip install confluent-kafka psycopg2-binary) that PYTHON then names" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-clients: missing $missing, and installing them needs root: apt-get install $missing" >&2
    exit 1
  fi
  sudo=sudo
fi
echo "install-clients: installing $missing with apt-get"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086 # one word per package
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
still="$(missing_packages)"
if [ -n "$still" ]; then
  # e.g. PYTHON names an interpreter that Debian's python3-* packages are not for
  echo "install-clients: still missing after apt-get: $still (python: $python)" >&2
  exit 1
fi
