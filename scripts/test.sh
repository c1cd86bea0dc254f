#!/usr/bin/env bash
# Runs every check and test of crust: formatting, clippy, unit tests and
# the integration tests, which run real containers and need root; the
# cgroup tests run on all three cgroup layouts; then a short fuzzing run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
leaks=$(mktemp)
scripts/check-leaks.sh snapshot "$leaks"
cargo test --workspace
# The whole suite again with a deny-by-default seccomp profile of a 2019
# kernel's calls and without noNewPrivileges (tests/fixtures/seccomp-strict.json):
# nothing crust does may depend on a call such a profile refuses.
CRUST_TEST_SECCOMP=strict cargo test --workspace --quiet
# The cgroup tests again on the two layouts this host is not: pure v1 (the
# unified mount hidden in a mount namespace of their own) and pure v2 (a
# kernel booted under QEMU).
if mountpoint -q /sys/fs/cgroup/unified; then
    unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec cargo test --quiet --test cgroups'
fi
scripts/check-leaks.sh check "$leaks"
# podman and containerd driving crust end to end, then the same suite with
# runc, to show the tests are not tuned to crust.
bats tests/engines
RUNTIME=$(command -v runc) ENGINE_DIR=/tmp/crust-engines-runc bats tests/engines
scripts/cgroup2-vm.sh
cargo build --release --quiet
# The functions the linker places first (crates/cli/text-order.txt) are
# still the build's own.
scripts/text-order.sh --check target
# A new user's path: cargo install, the Debian package (man pages,
# completions, crust check, the demo container with /usr/bin/crust), purge.
scripts/deb-test.sh
# The systemd cgroup driver under a real systemd (pure v2 and hybrid):
# crust's cgroup, systemd and lifecycle tests, podman and
# containerd; and the release build against runc's and crun's drivers.
scripts/systemd-vm.sh
# 200 run cycles: mounts, cgroups and memory come back where they were
# (scripts/soak.sh 2000 for the full soak).
scripts/soak.sh 200
# The parsers under libFuzzer, briefly (scripts/fuzz.sh 3600 for a long run).
scripts/fuzz.sh 20
