#!/usr/bin/env bash
# Stops the broker started by deploy/kafka/start.sh (SIGTERM, then SIGKILL after 30 s).
#   --purge   also delete its storage, so the next start is a fresh cluster
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="${KAFKA_DATA_DIR:-$here/.cache/data}"
pidfile="$data/kafka.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  pid="$(cat "$pidfile")"
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  echo "kafka: stopped"
else
  echo "kafka: not running"
fi
rm -f "$pidfile"
if [ "${1:-}" = "--purge" ]; then rm -rf "$data"; echo "kafka: storage deleted"; fi
