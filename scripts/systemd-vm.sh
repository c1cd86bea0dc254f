#!/usr/bin/env bash
# The systemd lane: a Debian bookworm root filesystem (built by mmdebstrap
# from Debian's packages, cached under target/systemd-vm) booted under
# QEMU with Debian's kernel and systemd as PID 1, twice: pure cgroup v2
# (systemd's default) and hybrid (systemd.unified_cgroup_hierarchy=0). In
# each boot a oneshot unit runs crust's cgroup, systemd and lifecycle
# tests with the systemd driver, then podman (cgroup_manager = "systemd") and containerd (the
# shim's systemd cgroup) driving crust; in the v2
# boot, bench/systemd.sh against runc's and crun's systemd drivers; then
# it powers off.
#
# The checkpoint tests (tests/checkpoint.rs: CRIU works on this kernel,
# not on the host's) run in each boot with the systemd driver and again
# with cgroupfs; podman's and containerd's checkpoints are in the engine
# suite.
#
#   scripts/systemd-vm.sh              both boots
#   BOOTS=v2 scripts/systemd-vm.sh     one (v2 or hybrid)
#   VM_TESTS="checkpoint" ...          only these test binaries
#   VM_ENGINES=0 VM_BENCH=0 ...        without the engine suite, the bench
#   KEEP=1 ...                         keep the per-boot initramfs
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$repo/target/systemd-vm
mkdir -p "$work"
. scripts/vm/lib.sh
vm_kernel "$repo/target/vm"
kernel=$repo/target/vm/kernel
kver=$(ls "$kernel/lib/modules")

# The base image, once per machine: packages only, plus the kernel's
# modules the engines (overlay), the blkio weights (bfq) and CRIU (the diag and network modules)
# load. A cpio archive of it; each boot appends a small one with crust.
packages=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,uidmap,kmod,iproute2,podman,catatonit,containerd,criu,iptables,nftables,bats,busybox-static,procps,util-linux,libseccomp2
modules="overlay bfq veth tun inet_diag unix_diag netlink_diag tcp_diag udp_diag raw_diag af_packet_diag xt_mark nf_conntrack_netlink nf_tables"
# The key changes with what goes in (bump the 2 when the recipe changes).
base=$work/base-$(echo "2 $packages $modules $kver" | md5sum | cut -c1-12).cpio
if [ ! -f "$base" ]; then
    echo "systemd-vm: building the bookworm root filesystem (mmdebstrap, once)"
    rm -rf "$work/rootfs" "$work"/base-*.cpio
    mmdebstrap --quiet --variant=apt --include="$packages" \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        bookworm "$work/rootfs" http://deb.debian.org/debian
    depmod -b "$kernel" "$kver"
    # One module per modprobe: further names would be taken as parameters.
    for ko in $(for m in $modules; do modprobe -d "$kernel" -S "$kver" --show-depends "$m"; done |
        awk '$1 == "insmod" {print $2}' | sort -u); do
        rel=${ko#"$kernel"}
        mkdir -p "$work/rootfs$(dirname "$rel")"
        cp "$ko" "$work/rootfs$rel"
    done
    cp "$kernel/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$work/rootfs/lib/modules/$kver/"
    depmod -b "$work/rootfs" "$kver"
    (cd "$work/rootfs" && find . | cpio -o -H newc --quiet) > "$base.tmp"
    mv "$base.tmp" "$base"
    rm -rf "$work/rootfs"
fi

# What each boot adds: crust and the test binaries at the paths they
# were built for, the engine suite, the first-stage init and the unit.
crust=$repo/target/x86_64-unknown-linux-gnu/debug/crust
tests=""
root=$work/overlay
rm -rf "$root"
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
install_with_libs "$root" "$crust"
# The release build, when there is one, for bench/systemd.sh.
release=$repo/target/x86_64-unknown-linux-gnu/release/crust
[ -x "$release" ] && install_with_libs "$root" "$release"
# Each entry: a test binary's name, or NAME:FILTER for some of its tests.
for t in ${VM_TESTS:-cgroups systemd lifecycle checkpoint rootless:the_systemd_driver_uses_the_users_own_manager}; do
    name=${t%%:*}
    bin=$(test_binary "$name")
    [ -x "$bin" ] || { echo "systemd-vm: no test binary $name" >&2; exit 1; }
    install_with_libs "$root" "$bin"
    tests="$tests $bin${t#"$name"}"
done
mkdir -p "$root$repo/tests" "$root$repo/scripts" "$root$repo/crates/cli" "$root$repo/bench"
cp bench/systemd.sh "$root$repo/bench/"
cp -r tests/engines tests/fixtures "$root$repo/tests/"
cp scripts/make-rootfs.sh "$root$repo/scripts/"
# The checkout's part goes aside: systemd empties /tmp at boot, where a
# checkout may be; the unit binds it back at its path.
mkdir -p "$root/crust-checkout$(dirname "$repo")"
mv "$root$repo" "$root/crust-checkout$repo"
cp scripts/vm/init "$root/init"
cp scripts/vm/systemd-tests "$root/crust-vm-tests"
cat > "$root/etc/systemd/system/crust-tests.service" <<UNIT
[Unit]
Description=crust's tests under systemd
After=basic.target dbus.service
Wants=dbus.service

[Service]
Type=oneshot
ExecStart=/crust-vm-tests
UNIT
ln -s ../crust-tests.service "$root/etc/systemd/system/multi-user.target.wants/crust-tests.service"
cat > "$root/vm-env" <<ENV
TESTS="$tests"
TEST_CWD=$repo/crates/cli
TARGET_TMPDIR=$repo/target/tmp
REPO=$repo
CRUST=$crust
CRUST_RELEASE=$release
CGROUPFS_TESTS="$(for t in $tests; do case $t in */checkpoint-*) echo "$t" ;; esac; done)"
VM_ENGINES=${VM_ENGINES:-1}
VM_BENCH=${VM_BENCH:-1}
ENV

status=0
for boot in ${BOOTS:-v2 hybrid}; do
    case $boot in
        v2) extra="" ;;
        hybrid) extra="systemd.unified_cgroup_hierarchy=0" ;;
        *) echo "systemd-vm: unknown boot $boot" >&2; exit 2 ;;
    esac
    echo "$boot" > "$root/vm-boot"
    (cd "$root" && find . | cpio -o -H newc --quiet) > "$work/overlay.cpio"
    cat "$base" "$work/overlay.cpio" > "$work/initramfs.cpio"
    vm_boot "systemd-vm ($boot)" "$work/initramfs.cpio" 6144 \
        "crust_next=/lib/systemd/systemd $extra" "$work/tests-$boot.log" || status=1
done
[ -n "${KEEP:-}" ] || rm -rf "$root" "$work/overlay.cpio" "$work/initramfs.cpio"
exit "$status"
