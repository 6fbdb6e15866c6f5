#!/usr/bin/env bash
# Set up everything and run the main job: build pouch, start a local registry and pouchd,
# push a busybox image, and run a container that prints hello and its own IP address.
# usage: scripts/quickstart.sh        (idempotent)
#        scripts/quickstart.sh stop   (stop pouchd and the registry it started)
set -euo pipefail
cd "$(dirname "$0")/.."
sock=/var/run/pouchd.sock
image=127.0.0.1:5000/busybox:latest
if [ "${1:-}" = stop ]; then
  if [ -f /run/pouchd.pid ]; then
    pid=$(cat /run/pouchd.pid)
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  scripts/test-registry.sh stop
  echo "stopped"; exit 0
fi
scripts/deps.sh
cargo build --release --locked --bins
install -m 0755 target/release/pouchd target/release/pouch-shim target/release/pouch /usr/local/bin/
scripts/test-registry.sh start
scripts/test-image.sh "$image"
if ! curl -sf --unix-socket "$sock" http://pouch/_ping >/dev/null 2>&1; then
  setsid /usr/local/bin/pouchd >/var/log/pouchd.log 2>&1 </dev/null &
  for _ in $(seq 100); do curl -sf --unix-socket "$sock" http://pouch/_ping >/dev/null 2>&1 && break; sleep 0.1; done
  curl -sf --unix-socket "$sock" http://pouch/_ping >/dev/null || { echo "pouchd did not start; see /var/log/pouchd.log" >&2; exit 1; }
fi
echo "pouchd is running on unix://$sock (logs: /var/log/pouchd.log)"
pouch run --rm "$image" sh -c 'echo hello; ip -4 addr'
