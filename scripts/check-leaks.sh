#!/usr/bin/env bash
# check-leaks.sh snapshot FILE | check FILE: what the test suite must leave
# as it found it. `snapshot` records the host's mount count and cgroup
# directories; `check` compares, and fails on any new cgroup directory,
# mount, or crust process (an init or exec child still waiting).
set -euo pipefail
cgroups() { find /sys/fs/cgroup -mindepth 1 -maxdepth 4 -type d 2>/dev/null | sort; }
case $1 in
snapshot)
    { wc -l </proc/self/mountinfo; cgroups; } >"$2"
    ;;
check)
    now=$(mktemp)
    { wc -l </proc/self/mountinfo; cgroups; } >"$now"
    bad=0
    if [ "$(head -1 "$2")" != "$(head -1 "$now")" ]; then
        echo "leak: mounts $(head -1 "$2") -> $(head -1 "$now")" >&2
        bad=1
    fi
    new=$(comm -13 <(tail -n +2 "$2") <(tail -n +2 "$now"))
    if [ -n "$new" ]; then
        echo "leak: cgroups left behind:" >&2
        echo "$new" >&2
        bad=1
    fi
    procs=$(ps -eo pid=,comm= | awk '$2 ~ /^crust:\[/' || true)
    if [ -n "$procs" ]; then
        echo "leak: crust processes left: $procs" >&2
        bad=1
    fi
    rm -f "$now"
    [ "$bad" = 0 ] && echo "check-leaks: no mount, cgroup or crust process left behind"
    exit "$bad"
    ;;
esac
