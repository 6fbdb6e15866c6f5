#!/usr/bin/env bash
# Start latency of `docker run --rm --network none|bridge IMG true`: pouchd against a
# reference dockerd (Debian docker.io), side by side in one run. Both daemons are private
# (own roots, sockets, bridges; dockerd with --iptables=false so the host firewall is left
# alone), the same docker CLI drives both, runs alternate A/B, and the script prints medians
# and the ratio pouchd/dockerd (lower is better). Everything it starts is stopped at exit.
# usage: scripts/bench.sh [RUNS]     (default 15; as root)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
image=127.0.0.1:5000/busybox:latest
b=/tmp/pbench
p_sock=$b/p.sock r_sock=$b/r.sock
p_bridge=pbench0 r_bridge=pbref0
p_bip=10.231.77.1/24 r_bip=10.231.78.1/24

for net in "${p_bip%.*}" "${r_bip%.*}"; do
  if ip -4 route show table all | grep -q "^${net}\."; then
    echo "bench subnet ${net}.0/24 is already routed here; edit p_bip/r_bip" >&2; exit 1
  fi
done

scripts/deps.sh
command -v dockerd >/dev/null || {
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io >/dev/null
}
cargo build --release --locked --bins
scripts/test-registry.sh start >/dev/null
scripts/test-image.sh "$image" >/dev/null

cleanup() {
  set +e
  for s in "$p_sock" "$r_sock"; do
    [ -S "$s" ] && docker -H "unix://$s" ps -aq | xargs -r docker -H "unix://$s" rm -f >/dev/null 2>&1
  done
  for pidf in $b/p.pid $b/r.pid; do
    [ -f "$pidf" ] || continue
    pid=$(cat "$pidf"); kill "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  ip link del "$r_bridge" 2>/dev/null
  # pouchd removes its own bridge and rules on a clean stop with nothing running.
}
trap cleanup EXIT
mkdir -p $b
ready() { curl -sf --unix-socket "$1" http://x/_ping >/dev/null 2>&1; }

setsid target/release/pouchd -H "unix://$p_sock" --data-root $b/p-root --exec-root $b/px \
  --pidfile $b/p.pid --bridge-name $p_bridge --bip $p_bip --live-restore=false \
  >$b/pouchd.log 2>&1 </dev/null &
ip link show $r_bridge >/dev/null 2>&1 || {
  ip link add $r_bridge type bridge; ip addr add $r_bip dev $r_bridge; ip link set $r_bridge up
}
setsid dockerd -H "unix://$r_sock" --data-root $b/r-root --exec-root $b/rx --pidfile $b/r.pid \
  --bridge $r_bridge --iptables=false --insecure-registry 127.0.0.0/8 \
  >$b/dockerd.log 2>&1 </dev/null &
for _ in $(seq 200); do ready $p_sock && ready $r_sock && break; sleep 0.1; done
ready $p_sock || { echo "pouchd did not start: $b/pouchd.log" >&2; exit 1; }
ready $r_sock || { echo "dockerd did not start: $b/dockerd.log" >&2; exit 1; }

docker -H "unix://$p_sock" pull -q "$image" >/dev/null
docker -H "unix://$r_sock" pull -q "$image" >/dev/null

echo "$(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $runs runs each, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$runs" "$p_sock" "$r_sock" "$image" <<'PY'
import statistics, subprocess, sys, time
runs, p, r, image = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

def timed(cmd):
    t0 = time.perf_counter()
    res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ms = (time.perf_counter() - t0) * 1000
    if res.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}: {res.stderr.decode().strip()}")
    return ms

cases = [("docker version (CLI floor)", ["version"])]
cases += [(f"run --rm --network {n} true", ["run", "--rm", "--network", n, image, "true"])
          for n in ("none", "bridge")]
print(f"{'case':32} {'pouchd':>10} {'dockerd':>10} {'ratio':>7}")
for name, args in cases:
    a, b = [], []
    for sock in (p, r):  # warm-up
        timed(["docker", "-H", f"unix://{sock}"] + args)
    for _ in range(runs):
        a.append(timed(["docker", "-H", f"unix://{p}"] + args))
        b.append(timed(["docker", "-H", f"unix://{r}"] + args))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"{name:32} {ma:8.1f}ms {mb:8.1f}ms {ma / mb:7.2f}")
PY
