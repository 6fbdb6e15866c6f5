#!/usr/bin/env bash
# Run the whole test suite: dependencies, a local registry with the busybox fixture image,
# then every crate's unit and integration tests (real runc, overlayfs, netns, registry).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/test-registry.sh start
export POUCH_TEST_REGISTRY=${POUCH_TEST_REGISTRY:-127.0.0.1:5000}
scripts/test-image.sh "$POUCH_TEST_REGISTRY/busybox:latest" >/dev/null
# Style gates first: they are quick and say exactly what to fix.
if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --all -- --check
else
  echo "warning: rustfmt is not installed; skipping the format check" >&2
fi
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --workspace --all-targets --locked -- -D warnings
else
  echo "warning: clippy is not installed; skipping the lint" >&2
fi
cargo build --workspace --locked --bins
cargo test --workspace --locked "$@"
