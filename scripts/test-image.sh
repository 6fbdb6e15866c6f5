#!/usr/bin/env bash
# Build a busybox image from the host's Debian busybox-static (users root, app 1000,
# nobody 65534) and push it to a registry with skopeo.
# usage: scripts/test-image.sh REGISTRY/REPO:TAG     e.g. 127.0.0.1:5000/busybox:latest
set -euo pipefail
ref=${1:?usage: test-image.sh REGISTRY/REPO:TAG}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
r=$work/rootfs
mkdir -p "$r"/{bin,etc,tmp,root,proc,sys,dev,home/app}; chmod 1777 "$r/tmp"
cp "$(readlink -f /bin/busybox)" "$r/bin/busybox"
for a in $("$r/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
printf 'root:x:0:\napp:x:1000:\nnogroup:x:65534:\n' > "$r/etc/group"
echo 'hosts: files dns' > "$r/etc/nsswitch.conf"
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$r" -cf "$work/rootfs.tar" .
python3 "$here/mkimage.py" "$work/rootfs.tar" "$work/oci" sh
skopeo copy -q --dest-tls-verify=false "oci:$work/oci:latest" "docker://$ref"
echo "pushed $ref"
