#!/usr/bin/env bash
# bench/all.sh [RUNS]: every benchmark, in order, into bench/results.md:
# crust, runc and crun side by side (compare.sh), start-up and page
# faults (startup.sh), the cost of the CVE-2019-5736 trampoline
# (trampoline.sh), scale (scale.sh: 1,000 containers, 100 started at
# once), and where a run's time goes (profile.sh: crust's phases next to
# the namespaces floor). About five minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
bench/compare.sh "$runs"
bench/startup.sh "$runs"
bench/trampoline.sh "$runs"
bench/scale.sh 1000 100
bench/profile.sh 100
