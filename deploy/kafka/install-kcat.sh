#!/usr/bin/env bash
# Installs kcat (the Debian package) for the README's Kafka recipes and their test; does nothing
# when kcat is already on the PATH. Needs root (or sudo) and apt-get.
set -euo pipefail
if command -v kcat >/dev/null 2>&1; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-kcat: kcat is missing and installing it needs root: apt-get install kcat" >&2
    exit 1
  fi
  sudo=sudo
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-kcat: no apt-get here; install kcat with your package manager (brew install kcat, ...)" >&2
  exit 1
fi
echo "install-kcat: installing kcat with apt-get"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends kcat >/dev/null
kcat -V | head -n 1
