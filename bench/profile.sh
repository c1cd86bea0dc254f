#!/usr/bin/env bash
# bench/profile.sh [RUNS]: where a `crust run` of /bin/true spends its
# time, phase by phase (crust's own `--debug` timings, medians over RUNS
# runs), and next to them the whole run and the namespaces floor
# (`unshare -mpfnuiC --fork /bin/true`) measured by hyperfine in the same
# minute: which phases stand above what the kernel needs (issue 16).
# Appends a table and the sums to bench/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}

. bench/lib.sh
enter_bench_namespace "$0" "$@"
bundle=$work/bundle
spec_variant "$bundle" '["/bin/true"]'
for i in $(seq "$runs"); do
    "$crust" --root "$work/root" --debug run --bundle "$bundle" "p$i" 2>"$work/debug-$i" >/dev/null
done
# The whole run and the floor, in the same minute as the phases.
hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/whole.json" \
    -n run "$crust --root $work/root run --bundle $bundle whole" \
    -n floor "unshare -mpfnuiC --fork /bin/true" >/dev/null
python3 - "$work" "$runs" <<'PY' | tee -a bench/results.md
import glob, json, os, re, statistics, sys
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
      "the (init) phases are inside the container's set-up, and create's inside `created`):\n")
print("| phase | median |")
print("|---|---|")
for name in order:
    print(f"| {name} | {med(phases[name]):.2f} ms |")
whole = {r["command"]: r["median"] * 1000 for r in json.load(open(os.path.join(work, "whole.json")))["results"]}
# run's own marks, from "created" on, cover the whole command after its
# arguments are parsed (create's phases are inside "created").
top = order[order.index("created"):]
inside = sum(med(phases[n]) for n in top)
print(f"\nAbove the floor: `run` {whole['run']:.2f} ms, the floor {whole['floor']:.2f} ms, "
      f"{whole['run'] - whole['floor']:.2f} ms more. crust's phases above add up to {inside:.2f} ms; "
      f"the other {whole['run'] - inside:.2f} ms are crust's own start-up and exit and hyperfine's fork and wait.")
PY
