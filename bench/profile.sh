#!/usr/bin/env bash
# bench/profile.sh [RUNS]: where a `crust run` of /bin/true spends its
# time, phase by phase (crust's own `--debug` timings, medians over RUNS
# runs); compare.sh's table has the whole run and the namespaces floor
# (`unshare -mpfnuiC --fork /bin/true`) measured by hyperfine. The
# starting point of issue 16's work: which phases stand above what the
# kernel needs. Appends a table to bench/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}

. bench/lib.sh
enter_bench_namespace "$0" "$@"
bundle=$work/bundle
true_bundle "$bundle"
for i in $(seq "$runs"); do
    "$crust" --root "$work/root" --debug run --bundle "$bundle" "p$i" 2>"$work/debug-$i" >/dev/null
done
python3 - "$work" "$runs" <<'PY' | tee -a bench/results.md
import glob, os, re, statistics, sys
work, runs = sys.argv[1], sys.argv[2]
phases = {}
order = []
for f in glob.glob(os.path.join(work, "debug-*")):
    for line in open(f):
        m = re.search(r'(create|exec|run) phase (.*): (\d+)µs', line)
        if m:
            name = m.group(2)
            if name not in phases:
                phases[name] = []
                order.append(name)
            phases[name].append(int(m.group(3)))
med = lambda xs: statistics.median(xs) / 1000
print(f"\n`crust run /bin/true`, phase by phase (`--debug`, medians of {runs} runs; "
      "the (init) phases are inside the container's set-up):\n")
print("| phase | median |")
print("|---|---|")
for name in order:
    print(f"| {name} | {med(phases[name]):.2f} ms |")
PY
