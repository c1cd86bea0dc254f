#!/usr/bin/env bash
# Runs crust's cgroup integration tests on a pure cgroup v2 host: Debian's
# kernel booted under QEMU (software emulation: KVM is not usable here)
# with cgroup_no_v1=all, from an initramfs holding busybox, crust, the test
# binary and the libraries they link. Test output comes back on a second
# serial port; the script exits with the tests' status.
#
#   scripts/cgroup2-vm.sh            build, boot, test
#   KEEP=1 scripts/cgroup2-vm.sh     keep target/vm/ for a look afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$repo/target/vm
mkdir -p "$work"

. scripts/vm/lib.sh
vm_kernel "$work"

# The test binary and crust, at the same paths as here: both have them
# compiled in (CARGO_BIN_EXE_crust, CARGO_TARGET_TMPDIR).
test_bin=$(test_binary cgroups)
crust=$repo/target/x86_64-unknown-linux-gnu/debug/crust
[ -x "$test_bin" ] && [ -x "$crust" ] || { echo "cgroup2-vm: no test binary" >&2; exit 1; }

root=$work/initramfs
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,root}
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
install_with_libs "$root" "$crust"
install_with_libs "$root" "$test_bin"
cp scripts/vm/init scripts/vm/stage2 "$root/"
cat > "$root/vm-env" <<ENV
TEST_BIN=$test_bin
TEST_CWD=$repo/crates/cli
TARGET_TMPDIR=$repo/target/tmp
ENV
(cd "$root" && find . | cpio -o -H newc --quiet) > "$work/initramfs.cpio"

status=0
vm_boot cgroup2-vm "$work/initramfs.cpio" 3072 cgroup_no_v1=all "$work/tests.log" || status=$?
[ -n "${KEEP:-}" ] || rm -rf "$root" "$work/initramfs.cpio"
exit "$status"
