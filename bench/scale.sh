#!/usr/bin/env bash
# bench/scale.sh [N] [PARALLEL]: crust with many containers.
#
# - `state`, `kill` and `delete` of one container, with 1 container and
#   with N (default 1000) created: the cost must not grow with N.
# - `list` of N containers.
# - PARALLEL (default 100) containers started at once (`run -d`), by crust
#   and by crun: how many succeed, and the wall time of the whole batch.
# Runs inside `unshare -m` with the unified cgroup mount hidden (crun needs
# it). Appends its tables to bench/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
parallel=${2:-100}

. bench/lib.sh
enter_bench_namespace "$0" "$@"
crun=$(command -v crun)
cleanup() {
    for rt in "$crust" "$crun"; do
        for root in "$work"/root-*; do
            [ -d "$root" ] || continue
            "$rt" --root "$root" list -q 2>/dev/null | xargs -r -n1 -P8 "$rt" --root "$root" delete --force 2>/dev/null || true
        done
    done
    remove_work
}
trap cleanup EXIT
bundle=$work/bundle
scripts/make-rootfs.sh "$bundle/rootfs"
(cd "$bundle" && runc spec)
sed -i 's/"terminal": true/"terminal": false/; s|^\t\t\t"sh"$|\t\t\t"sleep", "100000"|' "$bundle/config.json"

# one_container_ops ROOT LABEL: state, kill and delete of "probe" in ROOT.
one_container_ops() {
    local root=$1 label=$2
    "$crust" --root "$root" run -d --bundle "$bundle" probe
    hyperfine -N --warmup 5 --runs 100 --export-json "$work/ops-$label.json" \
        -n state "$crust --root $root state probe" \
        -n kill "$crust --root $root kill probe SIGWINCH" >/dev/null
    "$crust" --root "$root" delete --force probe
    hyperfine -N --runs 50 --export-json "$work/del-$label.json" \
        --prepare "$crust --root $root run -d --bundle $bundle probe" \
        -n delete "$crust --root $root delete --force probe" >/dev/null
}

mkdir -p "$work/root-one" "$work/root-many"
one_container_ops "$work/root-one" one
echo "scale: creating $n containers" >&2
seq "$n" | xargs -P 4 -I{} "$crust" --root "$work/root-many" run -d --bundle "$bundle" "c{}"
one_container_ops "$work/root-many" many
hyperfine -N --warmup 3 --runs 20 --export-json "$work/list.json" \
    -n list "$crust --root $work/root-many list" >/dev/null
"$crust" --root "$work/root-many" list -q | xargs -n1 -P8 "$crust" --root "$work/root-many" delete --force

# batch RUNTIME LABEL: PARALLEL containers started at once.
batch() {
    local rt=$1 label=$2 root=$work/root-batch-$2
    mkdir -p "$root"
    local start end
    start=$(date +%s%N)
    seq "$parallel" | xargs -P "$parallel" -I{} sh -c "'$rt' --root '$root' run -d --bundle '$bundle' b{} >/dev/null 2>&1 && echo ok" >"$work/batch-$label" || true
    end=$(date +%s%N)
    echo $(( (end - start) / 1000000 )) >"$work/batch-time-$label"
    "$rt" --root "$root" list -q | xargs -r -n1 -P8 "$rt" --root "$root" delete --force
}
batch "$crust" crust
batch "$crun" crun

python3 - "$work" "$n" "$parallel" <<'PY' | tee -a bench/results.md
import json, os, sys
work, n, parallel = sys.argv[1], sys.argv[2], sys.argv[3]
def med(f, name):
    for r in json.load(open(os.path.join(work, f)))["results"]:
        if r["command"] == name:
            return r["median"] * 1000
print(f"\nScale ({n} containers; crust):\n")
print(f"| operation on one container | with 1 created | with {n} created |")
print("|---|---|---|")
for op, f in [("state", "ops"), ("kill", "ops"), ("delete --force", "del")]:
    name = op.split()[0]
    print(f"| {op} | {med(f'{f}-one.json', name):.2f} ms | {med(f'{f}-many.json', name):.2f} ms |")
print(f"| list (all {n}) | | {med('list.json', 'list'):.2f} ms |")
print(f"\n{parallel} containers started at once (`run -d`):\n")
print("| runtime | succeeded | wall time |")
print("|---|---|---|")
for rt in ["crust", "crun"]:
    ok = open(os.path.join(work, f"batch-{rt}")).read().split().count("ok")
    ms = int(open(os.path.join(work, f"batch-time-{rt}")).read())
    print(f"| {rt} | {ok}/{parallel} | {ms} ms |")
# Issue 16's scale target: no command slower with many containers than
# with one (within 20%, this machine's run-to-run noise).
worst = max(med(f"{f}-many.json", op) / med(f"{f}-one.json", op)
            for op, f in [("state", "ops"), ("kill", "ops"), ("delete", "del")])
ok = open(os.path.join(work, "batch-crust")).read().split().count("ok")
print("\n| target | measured | met |")
print("|---|---|---|")
print(f"| with {n} containers, state/kill/delete no slower than with one (≤ 1.2×) | {worst:.2f}x | {'met' if worst <= 1.2 else 'not met'} |")
print(f"| {parallel} containers started at once all succeed | {ok}/{parallel} | {'met' if ok == int(parallel) else 'not met'} |")
PY
