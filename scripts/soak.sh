#!/usr/bin/env bash
# soak.sh [N]: N `crust run` cycles of /bin/true (default 2000), then
# checks the host's mount count, cgroup directory count and available
# memory came back to where they started. CI runs a short one.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
crust=$PWD/target/x86_64-unknown-linux-gnu/release/crust
[ -x "$crust" ] || cargo build --release --quiet
work=$(mktemp -d /tmp/crust-soak.XXXXXX)
trap 'rm -rf "$work"' EXIT
scripts/make-rootfs.sh "$work/bundle/rootfs"
(cd "$work/bundle" && "$crust" spec)
sed -i 's/"terminal": true/"terminal": false/; s|^\t\t\t"sh"$|\t\t\t"/bin/true"|' "$work/bundle/config.json"
measure() {
    echo "$(wc -l </proc/self/mountinfo) $(find /sys/fs/cgroup -mindepth 1 -maxdepth 4 -type d | wc -l) $(awk '/MemAvailable/{print $2}' /proc/meminfo)"
}
read -r mounts0 cgroups0 mem0 <<<"$(measure)"
start=$(date +%s)
for i in $(seq "$n"); do
    "$crust" --root "$work/root" run --bundle "$work/bundle" "soak-$i"
done
read -r mounts1 cgroups1 mem1 <<<"$(measure)"
echo "soak: $n runs in $(( $(date +%s) - start )) s; mounts $mounts0 -> $mounts1, cgroup dirs $cgroups0 -> $cgroups1, MemAvailable $mem0 -> $mem1 kB"
left=$(ls "$work/root" 2>/dev/null | wc -l)
[ "$mounts0" = "$mounts1" ] && [ "$cgroups0" = "$cgroups1" ] && [ "$left" = 0 ] || { echo "soak: something leaked" >&2; exit 1; }
# Memory: the page cache moves, and the kernel frees a dead container's
# network namespace later, from a workqueue: up to 10 s for it to come
# back; more than 64 MiB still gone then is a leak.
for _ in $(seq 10); do
    [ $(( mem0 - mem1 )) -lt 65536 ] && break
    sleep 1
    mem1=$(awk '/MemAvailable/{print $2}' /proc/meminfo)
done
[ $(( mem0 - mem1 )) -lt 65536 ] || { echo "soak: $(( (mem0 - mem1) / 1024 )) MiB of memory gone" >&2; exit 1; }
