#!/usr/bin/env bash
# Install what pouch needs at run time and in tests, from Debian (idempotent).
set -euo pipefail
pkgs=(runc busybox-static docker-registry skopeo iptables iproute2 iputils-ping curl python3 bsdutils util-linux procps)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# The docker CLI is the reference client in tests; Debian's docker.io ships one if none is here.
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
