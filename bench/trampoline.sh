#!/usr/bin/env bash
# bench/trampoline.sh [RUNS]: what the CVE-2019-5736 defence costs.
#
# crust executes the container's program through a sealed memfd
# trampoline (docs/security.md) unless the config's seccomp filter refuses
# execveat. Two configs that differ only there, each with a one-rule
# filter (so both compile and load the same amount of seccomp), give
# `run` of /bin/true with and without the trampoline. Appends a table to
# bench/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}

. bench/lib.sh
enter_bench_namespace "$0" "$@"
for variant in with without; do
    bundle=$work/$variant
    scripts/make-rootfs.sh "$bundle/rootfs"
    (cd "$bundle" && "$crust" spec)
    case $variant in
        with) blocked=acct ;;      # a rule that changes nothing here
        without) blocked=execveat ;;
    esac
    python3 - "$bundle/config.json" "$blocked" <<'PY'
import json, sys
path, blocked = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": [blocked], "action": "SCMP_ACT_ERRNO"}]}
json.dump(c, open(path, "w"))
PY
    mkdir -p "$work/root-$variant"
done
hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/t.json" \
    -n "with the trampoline" "$crust --root $work/root-with run --bundle $work/with t" \
    -n "without" "$crust --root $work/root-without run --bundle $work/without t" >/dev/null
python3 - "$work/t.json" "$runs" <<'PY' | tee -a bench/results.md
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
w, wo = res["with the trampoline"], res["without"]
print(f"\nCost of the CVE-2019-5736 trampoline ({sys.argv[2]} runs of `crust run` /bin/true, same seccomp work in both):\n")
print("| crust run | median | min | max |")
print("|---|---|---|---|")
for name, r in [("with the trampoline", w), ("without", wo)]:
    print(f"| {name} | {r['median']*1000:.2f} ms | {r['min']*1000:.2f} ms | {r['max']*1000:.2f} ms |")
print(f"\nDifference of the medians: {(w['median']-wo['median'])*1e6:.0f} µs ({(w['median']/wo['median']-1)*100:+.1f}%).")
PY
