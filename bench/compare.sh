#!/usr/bin/env bash
# bench/compare.sh [RUNS]: crust, runc and crun side by side in one run.
#
# Measures `run` of /bin/true and a create+start+delete cycle with
# hyperfine (medians, min/max, and each runtime's ratio to crun), and the
# peak RSS of one `run` with /usr/bin/time. Every runtime gets the config
# `runc spec` writes (terminal off, args /bin/true) and the same busybox
# rootfs.
#
# crun 1.8.1 refuses this machine's hybrid cgroup layout, so the whole
# benchmark runs inside `unshare -m` with /sys/fs/cgroup/unified unmounted:
# all three then see plain cgroup v1. Writes bench/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}

if [ -z "${CRUST_BENCH_INNER:-}" ]; then
    scripts/install-deps.sh
    cargo build --release --quiet
    exec unshare -m env CRUST_BENCH_INNER=1 "$0" "$@"
fi

mount --make-rprivate /
umount /sys/fs/cgroup/unified 2>/dev/null || true

work=$(mktemp -d /tmp/crust-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
bundle=$work/bundle
scripts/make-rootfs.sh "$bundle/rootfs"
(cd "$bundle" && runc spec)
sed -i 's/"terminal": true/"terminal": false/; s|^\t\t\t"sh"$|\t\t\t"/bin/true"|' "$bundle/config.json"

crust=$PWD/target/release/crust
declare -A bin=([crust]=$crust [runc]=$(command -v runc) [crun]=$(command -v crun))
names=(crust runc crun)

run_args=() cycle_args=()
for n in "${names[@]}"; do
    mkdir -p "$work/root-$n"
    run_args+=(-n "$n" "${bin[$n]} --root $work/root-$n run --bundle $bundle bench-run")
    cycle_args+=(-n "$n" "bench/cycle.sh ${bin[$n]} $work/root-$n $bundle bench-cycle")
done

hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/run.json" "${run_args[@]}" >/dev/null
hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/cycle.json" "${cycle_args[@]}" >/dev/null

for n in "${names[@]}"; do
    /usr/bin/time -f %M -o "$work/rss-$n" "${bin[$n]}" --root "$work/root-$n" run --bundle "$bundle" bench-rss >/dev/null
done

python3 - "$work" "$runs" "${names[@]}" <<'PY' | tee bench/results.md
import json, os, subprocess, sys
work, runs, names = sys.argv[1], sys.argv[2], sys.argv[3:]
def load(f):
    return {r["command"]: r for r in json.load(open(os.path.join(work, f)))["results"]}
print(f"Measured {subprocess.run(['date', '-u', '+%Y-%m-%d'], capture_output=True, text=True).stdout.strip()} "
      f"on {os.cpu_count()} cores, {runs} runs each, inside `unshare -m` with the unified cgroup mount hidden.\n")
print("| benchmark | runtime | median | min | max | ratio to crun |")
print("|---|---|---|---|---|---|")
for title, f in [("run /bin/true", "run.json"), ("create+start+delete", "cycle.json")]:
    res = load(f)
    base = res["crun"]["median"]
    for n in names:
        r = res[n]
        print(f"| {title} | {n} | {r['median']*1000:.2f} ms | {r['min']*1000:.2f} ms | {r['max']*1000:.2f} ms | {r['median']/base:.2f}x |")
print("\n| runtime | peak RSS of `run` | binary size |")
print("|---|---|---|")
for n in names:
    rss = int(open(os.path.join(work, f"rss-{n}")).read().split()[-1])
    path = subprocess.run(["sh", "-c", f"command -v {n} || true"], capture_output=True, text=True).stdout.strip()
    if n == "crust":
        path = os.path.join(os.getcwd(), "target/release/crust")
    print(f"| {n} | {rss/1024:.1f} MiB | {os.path.getsize(path)/1024/1024:.1f} MiB |")
PY
