#!/usr/bin/env bash
# Run the whole test suite: dependencies, a local registry with the busybox fixture image,
# then every crate's unit and integration tests (real runc, overlayfs, netns, registry).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/test-registry.sh start
export POUCH_TEST_REGISTRY=${POUCH_TEST_REGISTRY:-127.0.0.1:5000}
scripts/test-image.sh "$POUCH_TEST_REGISTRY/busybox:latest" >/dev/null
cargo build --workspace --locked --bins
cargo test --workspace --locked "$@"
