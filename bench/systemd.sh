#!/usr/bin/env bash
# bench/systemd.sh [RUNS]: `run /bin/true` with the systemd cgroup driver,
# crust, runc and crun side by side in one run. Needs systemd as PID 1:
# scripts/systemd-vm.sh runs it in its pure-v2 boot (software emulation:
# compare the ratios, not the milliseconds, with bench/compare.sh's).
# Each runtime gets `runc spec`'s config without a cgroupsPath, so each
# makes its default unit (system.slice, `<runtime>-<id>.scope`).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
crust=${CRUST:-$PWD/target/x86_64-unknown-linux-gnu/release/crust}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scripts/make-rootfs.sh "$work/rootfs" >/dev/null
(cd "$work" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"\/bin\/true"/' config.json)

declare -A median
for rt in "$crust" "$(command -v runc)" "$(command -v crun)"; do
    name=$(basename "$rt")
    times=()
    for i in $(seq "$runs"); do
        start=$(date +%s%N)
        "$rt" --systemd-cgroup --root "$work/root-$name" run --bundle "$work" "b$i" >/dev/null
        times+=($(( ($(date +%s%N) - start) / 1000 )))
    done
    median[$name]=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$((runs / 2 + 1))p")
    echo "systemd driver, run /bin/true, $name: median $((median[$name] / 1000)).$(( (median[$name] % 1000) / 100 )) ms over $runs runs"
done
for name in crust runc; do
    awk -v a="${median[$name]}" -v b="${median[crun]}" -v n="$name" \
        'BEGIN { printf "systemd driver: %s / crun = %.2f\n", n, a / b }'
done
awk -v a="${median[crust]}" -v b="${median[runc]}" 'BEGIN { printf "systemd driver: crust / runc = %.2f\n", a / b }'
