#!/usr/bin/env bash
# Runs every check and test of crust: formatting, clippy, unit tests and
# the integration tests, which run real containers and need root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
