#!/usr/bin/env bash
# bench/startup.sh [RUNS]: what a runtime's binary costs before it does
# any work, and whether crust's larger (static) binary costs start time.
#
# `perf stat` (RUNS repetitions each) of `--version` for crust, runc and
# crun next to /bin/true (the C library's own start-up on this machine),
# then of one `run` of /bin/true: task clock and page faults (a binary's
# size reaches start time only through the pages a run touches; the page
# cache keeps the file itself). Appends a table to bench/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}

. bench/lib.sh
enter_bench_namespace "$0" "$@"
spec_variant "$work/bundle" '["/bin/true"]'
declare -A bin=([crust]=$crust [runc]=$(command -v runc) [crun]=$(command -v crun) [true]=/bin/true)
stat_of() { # NAME ARGS...: "task-clock-ms page-faults"
    local name=$1
    shift
    perf stat -x, -r "$runs" -e task-clock,page-faults "$@" 2>&1 >/dev/null |
        awk -F, -v n="$name" '$3=="task-clock"{t=$1} $3=="page-faults"{p=$1} END{printf "%s %.2f %d\n", n, t, p}'
}
{
    for n in crust runc crun true; do
        if [ "$n" = true ]; then stat_of "$n" /bin/true; else stat_of "$n" "${bin[$n]}" --version; fi
    done
    for n in crust runc crun; do
        mkdir -p "$work/root-$n"
        stat_of "$n-run" "${bin[$n]}" --root "$work/root-$n" run --bundle "$work/bundle" startup
    done
} >"$work/stats"
python3 - "$work/stats" "$runs" "$crust" <<'PY' | tee -a bench/results.md
import os, subprocess, sys
rows = {l.split()[0]: l.split()[1:] for l in open(sys.argv[1])}
runs, crust = sys.argv[2], sys.argv[3]
print(f"\nStart-up (`perf stat`, {runs} runs each; task clock of every process of the command, page faults):\n")
print("| command | task clock | page faults |")
print("|---|---|---|")
for name, label in [("true", "/bin/true (the C library's start-up alone)"), ("crust", "crust --version"),
                    ("crun", "crun --version"), ("runc", "runc --version"),
                    ("crust-run", "crust run /bin/true"), ("crun-run", "crun run /bin/true"),
                    ("runc-run", "runc run /bin/true")]:
    t, p = rows[name]
    print(f"| {label} | {float(t):.2f} ms | {p} |")
relocs = subprocess.run(["readelf", "-r", crust], capture_output=True, text=True).stdout.count("R_X86_64")
print(f"\ncrust is a static PIE: {os.path.getsize(crust)/1024/1024:.1f} MiB, {relocs} relocations applied at start-up.")
PY
