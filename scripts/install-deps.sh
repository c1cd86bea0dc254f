#!/usr/bin/env bash
# Installs what building, testing and benchmarking crust needs on a fresh
# Debian machine: busybox-static (the rootfs of every test container), the
# runtimes we compare against, libseccomp (linked by crust), podman's
# default seccomp profile (a test loads it), the tools the tests call, and
# QEMU with cpio for the pure cgroup v2 lane (scripts/cgroup2-vm.sh), and
# podman, containerd and bats for the engine suite (tests/engines), and a
# static C toolchain (gcc, libc6-dev) for the seccomp test program, and
# mmdebstrap and kmod for the systemd lane (scripts/systemd-vm.sh), CRIU
# (its RPC and its errors are tested on the host; dumps only in the VM),
# and man-db for the man page tests (crates/docgen, scripts/deb-test.sh).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(busybox-static runc crun hyperfine util-linux uidmap iproute2 time libseccomp-dev pkg-config golang-github-containers-common qemu-system-x86 cpio python3 podman containerd bats gcc libc6-dev procps mmdebstrap kmod criu man-db)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
