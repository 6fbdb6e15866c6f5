#!/usr/bin/env python3
"""Write a one-layer OCI image layout from a rootfs tarball (no daemon needed).
usage: mkimage.py ROOTFS.tar OUTDIR [CMD...]   then: skopeo copy oci:OUTDIR:latest docker://..."""
import gzip, hashlib, json, os, shutil, sys


def put_blob(out, data, media_type):
    digest = hashlib.sha256(data).hexdigest()
    d = os.path.join(out, "blobs", "sha256")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, digest), "wb") as f:
        f.write(data)
    return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}


def main():
    rootfs_tar, out, cmd = sys.argv[1], sys.argv[2], sys.argv[3:] or ["sh"]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    raw = open(rootfs_tar, "rb").read()
    layer = put_blob(out, gzip.compress(raw, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip")
    config = {
        "created": "2026-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": cmd},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "pouch scripts/mkimage.py"}],
    }
    cfg = put_blob(out, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": cfg, "layers": [layer]}
    m = put_blob(out, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    m["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [m]}, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')


main()
