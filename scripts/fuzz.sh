#!/usr/bin/env bash
# Fuzzes crust's parsers with cargo fuzz (libFuzzer + AddressSanitizer):
# config.json loading and validation, mount options, and the parent<->child
# protocol messages. Each target runs SECONDS seconds (default 20, what CI
# uses); for a long run: scripts/fuzz.sh 3600.
#
# The toolchain here is stable; RUSTC_BOOTSTRAP lets cargo fuzz pass the
# sanitizer flags it needs. A crash leaves its input in
# fuzz/artifacts/<target>/: turn it into a unit test next to the code it
# broke, then fix the code.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
command -v cargo-fuzz >/dev/null || cargo install --quiet --locked cargo-fuzz
cd fuzz
for target in config mount_options message; do
    echo "fuzz: $target for ${seconds}s"
    log=$(mktemp)
    if ! RUSTC_BOOTSTRAP=1 cargo fuzz run --release "$target" -- \
        -max_total_time="$seconds" >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "fuzz: $target failed; a crashing input is in fuzz/artifacts/$target" >&2
        exit 1
    fi
    grep -E '^Done' "$log" || true
    rm -f "$log"
done
