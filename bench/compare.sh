#!/usr/bin/env bash
# bench/compare.sh [RUNS]: crust, runc and crun side by side in one run.
#
# Measures, with hyperfine in rounds (bench/rounds.py: medians, min/max,
# and each runtime's ratio to crun): `run` of /bin/true, a
# create+start+delete cycle, and `exec` of /bin/true into a running
# container; the peak RSS of one `run` with
# /usr/bin/time; whether a container limited to 4 MiB of memory starts;
# and the stripped binary sizes. Every runtime gets the config `runc spec`
# writes (terminal off, args /bin/true), and for one row the config podman
# sends (podman_bundle), on the same busybox rootfs.
#
# crun 1.8.1 refuses this machine's hybrid cgroup layout, so the whole
# benchmark runs inside `unshare -m` with /sys/fs/cgroup/unified unmounted:
# all three then see plain cgroup v1. Writes bench/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}

. bench/lib.sh
enter_bench_namespace "$0" "$@"
declare -A bin=([crust]=$crust [runc]=$(command -v runc) [crun]=$(command -v crun))
names=(crust runc crun)
cleanup() {
    for n in "${names[@]}"; do
        "${bin[$n]}" --root "$work/root-$n" delete --force bench-exec >/dev/null 2>&1 || true
    done
    remove_podman_bundle "$work/podman"
    remove_work
}
trap cleanup EXIT

bundle=$work/bundle
spec_variant "$bundle" '["/bin/true"]'
sleeper=$work/sleeper
spec_variant "$sleeper" '["sleep", "100000"]'
small=$work/small
spec_variant "$small" '["/bin/true"]' $((4 * 1024 * 1024))
profiled=$work/podman
podman_bundle "$profiled"

run_args=() cycle_args=() exec_args=() seccomp_args=() cold_args=() exec_cold_args=() first_args=()
for n in "${names[@]}"; do
    mkdir -p "$work/root-$n"
    "${bin[$n]}" --root "$work/root-$n" run -d --bundle "$sleeper" bench-exec >/dev/null
    run_args+=(-n "$n" "${bin[$n]} --root $work/root-$n run --bundle $bundle bench-run")
    cycle_args+=(-n "$n" "bench/cycle.sh ${bin[$n]} $work/root-$n $bundle bench-cycle")
    exec_args+=(-n "$n" "${bin[$n]} --root $work/root-$n exec bench-exec /bin/true")
    seccomp_args+=(-n "$n" "${bin[$n]} --root $work/root-$n run --bundle $profiled bench-seccomp")
    cold_args+=(-n "$n" "${bin[$n]} --root $work/root-$n run --bundle $bundle bench-cold")
    exec_cold_args+=(-n "$n" "${bin[$n]} --root $work/root-$n exec bench-exec /bin/true")
    first_args+=(-n "$n" "${bin[$n]} --root $work/first-$n run --bundle $profiled bench-first")
done

# The floor: the namespaces alone, what the kernel needs for a container
# (issue 16), a row of its own in the run table. Every table is measured
# in rounds (bench/rounds.py): the runtimes share every minute of the run.
run_args+=(-n floor "unshare -mpfnuiC --fork /bin/true")
bench/rounds.py "$work/run.json" "$runs" -N --warmup 10 -- "${run_args[@]}"
bench/rounds.py "$work/cycle.json" "$runs" -N --warmup 10 -- "${cycle_args[@]}"
bench/rounds.py "$work/exec.json" "$runs" -N --warmup 10 -- "${exec_args[@]}"
bench/rounds.py "$work/seccomp.json" "$runs" -N --warmup 10 -- "${seccomp_args[@]}"
# Spaced out, as engines start containers and kubelet runs exec probes:
# one every 50 ms, not back to back. Kernel paths that are cheap only
# while warm show here (the first cgroup v1 move after a quiet moment waits
# for an RCU grace period: init::cgroup). Fewer runs: each costs 50 ms.
spaced=$((runs / 2))
bench/rounds.py "$work/cold.json" "$spaced" -N --warmup 3 --prepare "sleep 0.05" -- "${cold_args[@]}"
bench/rounds.py "$work/exec-cold.json" "$spaced" -N --warmup 3 --prepare "sleep 0.05" -- "${exec_cold_args[@]}"
# The first container with a profile: a state root of its own, emptied
# before every run, so crust's compiled-seccomp cache starts empty (crun
# and runc keep none).
bench/rounds.py "$work/first.json" "$spaced" -N --warmup 3 --prepare "rm -rf $work/first-crust" \
    -- "${first_args[@]}"

for n in "${names[@]}"; do
    /usr/bin/time -f %M -o "$work/rss-$n" "${bin[$n]}" --root "$work/root-$n" run --bundle "$bundle" bench-rss >/dev/null
    # What the peak is made of, seen while the runtime waits for a
    # container: its own anonymous memory, and file pages (its binary and
    # libraries, shared with every other process mapping them).
    "${bin[$n]}" --root "$work/root-$n" run --bundle "$sleeper" bench-smaps >/dev/null 2>&1 &
    pid=
    for _ in $(seq 50); do
        pid=$(pgrep -f "^${bin[$n]} --root $work/root-$n run --bundle $sleeper bench-smaps" | head -1) && break
        sleep 0.1
    done
    sleep 0.5
    awk '/^Anonymous:/{a=$2} /^Rss:/{r=$2} END{print a, r-a}' "/proc/$pid/smaps_rollup" >"$work/smaps-$n" 2>/dev/null ||
        echo "0 0" >"$work/smaps-$n"
    "${bin[$n]}" --root "$work/root-$n" kill bench-smaps KILL >/dev/null 2>&1 || true
    wait || true
    "${bin[$n]}" --root "$work/root-$n" delete --force bench-smaps >/dev/null 2>&1 || true
    if "${bin[$n]}" --root "$work/root-$n" run --bundle "$small" bench-small >"$work/small-$n.log" 2>&1; then
        echo yes >"$work/small-$n"
    else
        echo "no ($(tail -1 "$work/small-$n.log" | cut -c1-80))" >"$work/small-$n"
        "${bin[$n]}" --root "$work/root-$n" delete --force bench-small >/dev/null 2>&1 || true
    fi
    # Stripped, as a distribution ships it.
    strip -o "$work/stripped-$n" "${bin[$n]}"
done

python3 - "$work" "$runs" "${names[@]}" <<'PY' | tee bench/results.md
import json, os, subprocess, sys
work, runs, names = sys.argv[1], sys.argv[2], sys.argv[3:]
def load(f):
    return {r["command"]: r for r in json.load(open(os.path.join(work, f)))["results"]}
print(f"Measured {subprocess.run(['date', '-u', '+%Y-%m-%d'], capture_output=True, text=True).stdout.strip()} "
      f"on {os.cpu_count()} cores, {runs} runs each in three rounds (bench/rounds.py), inside `unshare -m` "
      "with the unified cgroup mount hidden.\n")
print("| benchmark | runtime | median | min | max | ratio to crun |")
print("|---|---|---|---|---|---|")
for title, f in [("run /bin/true", "run.json"), ("create+start+delete", "cycle.json"),
                 ("exec /bin/true", "exec.json"),
                 ("run /bin/true with the config podman sends", "seccomp.json"),
                 ("run /bin/true, one every 50 ms", "cold.json"),
                 ("exec /bin/true, one every 50 ms", "exec-cold.json"),
                 ("the same, first container (crust's seccomp cache empty)", "first.json")]:
    res = load(f)
    base = res["crun"]["median"]
    for n in names + (["floor"] if "floor" in res else []):
        r = res[n]
        print(f"| {title} | {n} | {r['median']*1000:.2f} ms | {r['min']*1000:.2f} ms | {r['max']*1000:.2f} ms | {r['median']/base:.2f}x |")
print("\n| runtime | peak RSS of `run` | of which anonymous / file pages (waiting) | starts with a 4 MiB memory limit | binary size (stripped) |")
print("|---|---|---|---|---|")
for n in names:
    rss = int(open(os.path.join(work, f"rss-{n}")).read().split()[-1])
    anon, files = open(os.path.join(work, f"smaps-{n}")).read().split()
    small = open(os.path.join(work, f"small-{n}")).read().strip()
    size = os.path.getsize(os.path.join(work, f"stripped-{n}"))
    print(f"| {n} | {rss/1024:.1f} MiB | {int(anon)/1024:.1f} / {int(files)/1024:.1f} MiB | {small} | {size/1024/1024:.1f} MiB |")

# Issue 16's targets, each with its measured value.
med = lambda f, n: load(f)[n]["median"]
rss = lambda n: int(open(os.path.join(work, f"rss-{n}")).read().split()[-1])
size = os.path.getsize(os.path.join(work, "stripped-crust")) / 1024 / 1024
targets = [
    ("run /bin/true ≤ 0.60× crun", med("run.json", "crust") / med("run.json", "crun"), 0.60, "x"),
    ("run /bin/true, one every 50 ms, ≤ 0.60× crun", med("cold.json", "crust") / med("cold.json", "crun"), 0.60, "x"),
    ("run /bin/true ≤ 1.6× the namespaces floor", med("run.json", "crust") / med("run.json", "floor"), 1.6, "x"),
    ("exec /bin/true ≤ 0.5× crun", med("exec.json", "crust") / med("exec.json", "crun"), 0.5, "x"),
    ("exec /bin/true, one every 50 ms, ≤ 0.5× crun", med("exec-cold.json", "crust") / med("exec-cold.json", "crun"), 0.5, "x"),
    ("create+start+delete ≤ 0.5× crun", med("cycle.json", "crust") / med("cycle.json", "crun"), 0.5, "x"),
    ("peak RSS of run ≤ 0.8× crun", rss("crust") / rss("crun"), 0.8, "x"),
    ("stripped binary ≤ 2 MiB", size, 2.0, " MiB"),
    ("run with the config podman sends (its seccomp profile, 11 mounts, masked paths) ≤ 0.4× crun", med("seccomp.json", "crust") / med("seccomp.json", "crun"), 0.4, "x"),
    ("the same, first container (crust's seccomp cache empty) ≤ 0.4× crun", med("first.json", "crust") / med("first.json", "crun"), 0.4, "x"),
]
print("\n| target | measured | met |")
print("|---|---|---|")
for name, value, limit, unit in targets:
    print(f"| {name} | {value:.2f}{unit} | {'met' if value <= limit else 'not met'} |")
PY
