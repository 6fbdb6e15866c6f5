#!/usr/bin/env bash
# A local Docker registry (Debian's docker-registry) on 127.0.0.1, for the quickstart and tests.
# usage: scripts/test-registry.sh start|stop   (POUCH_REGISTRY_ADDR, default 127.0.0.1:5000)
set -euo pipefail
addr=${POUCH_REGISTRY_ADDR:-127.0.0.1:5000}
dir=/var/lib/pouch-registry
pidfile=/run/pouch-registry.pid
up() { curl -sf "http://$addr/v2/" >/dev/null 2>&1; }
case "${1:-start}" in
start)
  if up; then echo "registry already answering on $addr"; exit 0; fi
  mkdir -p "$dir/data"
  cat > "$dir/config.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $addr
YML
  setsid docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
  echo $! > "$pidfile"
  for _ in $(seq 100); do up && break; sleep 0.1; done
  up || { echo "registry did not come up on $addr; see $dir/registry.log" >&2; exit 1; }
  echo "registry on $addr";;
stop)
  [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile";;
*) echo "usage: $0 start|stop" >&2; exit 2;;
esac
