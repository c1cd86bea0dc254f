#!/usr/bin/env bash
# scripts/text-order.sh: writes crates/cli/text-order.txt, the functions
# crust's linker places first (lld's --symbol-ordering-file, passed by
# crates/cli/build.rs to release builds).
#
# The commands an engine runs for every container execute a small part of
# crust's 2.3 MiB of code, but as the compiler lays it out that part is
# spread over the whole text segment, and the kernel maps 64 KiB around
# every page fault: `run` mapped nearly all of the binary. Placed together,
# the executed functions take fewer faults and far fewer mapped pages
# (bench/results.md, "Start-up").
#
# How the list is made: a release build with its symbols kept, a uprobe on
# each of its functions (tracefs), the commands below on runc's config and
# on podman's, with plain cgroup v1 and then hybrid, and every function
# whose probe was hit, in the order the compiler had placed them. Root
# only. Rerun it when the hot paths change; build.rs's list goes stale
# gracefully (a name the build no longer has is skipped, and its code is
# laid out as before).
#
#   scripts/text-order.sh              # writes the list anew
#   scripts/text-order.sh --check DIR  # how many of its names the release
#                                      # build in target directory DIR has
#                                      # (from its link map); fails below 90%
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/crates/cli/text-order.txt

# link_map DIR: the map of the latest release build in target directory DIR.
link_map() {
    ls -t "$1"/x86_64-unknown-linux-gnu/release/build/crust-*/out/crust.map | head -1
}
# present MAP: "N M": N of the list's M names are functions of the map's build.
present() {
    python3 - "$1" "$out" <<'PY'
import sys
sys.path.insert(0, "scripts")
link_map = __import__("link-map")
built = {name for _, name in link_map.functions(sys.argv[1])}
listed = [l.strip() for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")]
print(sum(n in built for n in listed), len(listed))
PY
}
if [ "${1:-}" = --check ]; then
    read -r found listed < <(present "$(link_map "$2")")
    echo "text-order: the build has $found of the $listed functions crates/cli/text-order.txt lists"
    if [ $((found * 10)) -lt $((listed * 9)) ]; then
        echo "text-order: the list is stale: rerun scripts/text-order.sh (as root)" >&2
        exit 1
    fi
    exit 0
fi

. bench/lib.sh
enter_bench_namespace "$0" "$@"
# The release build itself, with the linker's map of where each function
# went (a build with symbols kept would have other names: their hashes
# depend on the profile).
CARGO_TARGET_DIR=$PWD/target/text-order cargo build --release --quiet --bin crust
bin=$work/crust
cp target/text-order/x86_64-unknown-linux-gnu/release/crust "$bin"
cp "$(link_map target/text-order)" "$work/crust.map"

tracing=/sys/kernel/tracing
[ -e $tracing/uprobe_events ] || mount -t tracefs nodev $tracing
group=crust_text_order
remove_probes() {
    echo 0 >"$tracing/events/$group/enable" 2>/dev/null || true
    grep "^p:$group/" $tracing/uprobe_events | sed 's/^p:\([^ ]*\) .*/-:\1/' >"$work/remove" || true
    while read -r line; do echo "$line"; done <"$work/remove" >>$tracing/uprobe_events
}
cleanup() {
    remove_probes
    echo "${was_on:-1}" >$tracing/tracing_on
    "$bin" --root "$work/root" delete --force order-sleeper >/dev/null 2>&1 || true
    remove_podman_bundle "$work/podman"
    remove_work
}
trap cleanup EXIT

# One probe per function: its name(s) and the file offset of its first
# instruction that uses no SSE/AVX register (on this kernel, a probe on
# such an instruction can return with the register clobbered: seen as an
# endless loop in hashbrown's `pmovmskb`), found before the function's
# first jump, call or return; a function that has none gets no probe.
[ -e "$out" ] && echo "text-order: before: $(present "$work/crust.map" | sed 's/ / of /') listed names in this build"
python3 - "$bin" "$work/crust.map" "$work/probes" <<'PY'
import re, subprocess, sys
binary, link_map, out = sys.argv[1:]
loads = []
for line in subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    f = line.split()
    if f and f[0] == "LOAD":
        loads.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))  # offset, vaddr, filesz
sys.path.insert(0, "scripts")
names = {}
for addr, name in __import__("link-map").functions(link_map):
    names.setdefault(addr, []).append(name)
# Instructions in address order, from the disassembly of the code.
insns = []
dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-j", ".text", binary],
                     capture_output=True, text=True, check=True).stdout
for m in re.finditer(r"^ *([0-9a-f]+):\t(.*)$", dis, re.M):
    insns.append((int(m.group(1), 16), m.group(2)))
index = {addr: i for i, (addr, _) in enumerate(insns)}
transfer = re.compile(r"^(j|call|ret|loop|syscall|ud2|hlt|int3)")
with open(out, "w") as probes:
    for n, addr in enumerate(sorted(names)):
        seg = next(((o, v) for o, v, s in loads if v <= addr < v + s), None)
        if seg is None or addr not in index:
            continue
        for at, text in insns[index[addr]:index[addr] + 16]:
            if at != addr and at in names:
                break
            if "%xmm" not in text and "%ymm" not in text and "%zmm" not in text:
                probes.write(f"f{n} 0x{at - seg[1] + seg[0]:x} {' '.join(names[addr])}\n")
                break
            if transfer.match(text):
                break
PY
while read -r event offset _; do
    echo "p:$group/$event $bin:$offset"
done <"$work/probes" >>$tracing/uprobe_events
# The hit counts are all that is read: nothing goes to the trace buffer.
was_on=$(cat $tracing/tracing_on)
echo 0 >$tracing/tracing_on
echo 1 >"$tracing/events/$group/enable"
# A probe costs a trap at every hit, and some functions run millions of
# times (a name lookup, a copy): each probe is switched off once it has
# been hit, so that it traps a few times, not millions.
python3 - "$tracing" "$group" "$work/hit" "$work/workload-done" <<'PY' &
import os, sys, time
tracing, group, out, done = sys.argv[1:]
hit = set()
while True:
    finished = os.path.exists(done)
    for line in open(f"{tracing}/uprobe_profile"):
        f = line.split()
        if len(f) == 3 and f[1] not in hit and int(f[2]) > 0:
            hit.add(f[1])
            with open(f"{tracing}/events/{group}/{f[1]}/enable", "w") as e:
                e.write("0")
    if finished:
        break
    time.sleep(0.02)
open(out, "w").write("".join(e + "\n" for e in sorted(hit)))
PY
poller=$!

# What engines run, per container and per exec probe.
workload() {
    local root=$work/root b=$work/bundle s=$work/sleeper p=$work/podman
    mkdir -p "$root"
    "$bin" --version >/dev/null
    "$bin" features >/dev/null
    "$bin" --root "$root" run --bundle "$b" order-run
    "$bin" --root "$root" create --bundle "$b" order-cycle
    "$bin" --root "$root" start order-cycle
    "$bin" --root "$root" delete --force order-cycle
    "$bin" --root "$root" run -d --bundle "$s" order-sleeper >/dev/null
    "$bin" --root "$root" exec order-sleeper /bin/true
    "$bin" --root "$root" state order-sleeper >/dev/null
    "$bin" --root "$root" list >/dev/null
    "$bin" --root "$root" ps order-sleeper >/dev/null
    "$bin" --root "$root" pause order-sleeper
    "$bin" --root "$root" resume order-sleeper
    "$bin" --root "$root" events --stats order-sleeper >/dev/null
    "$bin" --root "$root" update --pids-limit 100 order-sleeper
    "$bin" --root "$root" kill order-sleeper KILL
    while [ "$("$bin" --root "$root" state order-sleeper | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" != stopped ]; do
        sleep 0.01
    done
    "$bin" --root "$root" delete order-sleeper
    for id in order-podman-1 order-podman-2; do # compiled, then cached
        "$bin" --root "$root" run --bundle "$p" "$id"
    done
}
spec_variant "$work/bundle" '["/bin/true"]'
spec_variant "$work/sleeper" '["sleep", "100000"]'
podman_bundle "$work/podman"
workload
mount -t cgroup2 none /sys/fs/cgroup/unified
workload
touch "$work/workload-done"
wait $poller

# Every name at a hit address, in address order (the probes' order).
python3 - "$work/probes" "$work/hit" "$out" <<'PY'
import sys
probes, hits, out = sys.argv[1:]
hit = set(open(hits).read().split())
names, total = [], 0
for line in open(probes):
    event, _, *symbols = line.split()
    total += 1
    if event in hit:
        names.extend(symbols)
with open(out, "w") as f:
    f.write("# Written by scripts/text-order.sh: the functions crust's commands execute,\n"
            "# which the linker places together (crates/cli/build.rs).\n")
    f.write("".join(n + "\n" for n in names))
print(f"text-order: {len(hit)} of {total} functions executed; {out} lists {len(names)} names")
PY
