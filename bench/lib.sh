# Sourced by the benchmarks: every one runs on equal terms for all
# runtimes. crun 1.8.1 refuses this machine's hybrid cgroup layout, so a
# benchmark re-executes itself inside `unshare -m` with
# /sys/fs/cgroup/unified unmounted: crust, runc and crun then all see plain
# cgroup v1. The first call builds crust and installs what is missing.
#
#   enter_bench_namespace "$0" "$@"   # returns inside the namespace
#   $crust                            # the release binary
#   $work                             # a fresh tmpfs directory, removed on
#                                     # exit (remove_work) unless the script
#                                     # sets its own trap

enter_bench_namespace() {
    local script=$1
    shift
    if [ -z "${CRUST_BENCH_INNER:-}" ]; then
        scripts/install-deps.sh
        cargo build --release --quiet
        exec unshare -m env CRUST_BENCH_INNER=1 "$script" "$@"
    fi
    mount --make-rprivate /
    umount /sys/fs/cgroup/unified 2>/dev/null || true
    crust=$PWD/target/x86_64-unknown-linux-gnu/release/crust
    work=$(mktemp -d /tmp/crust-bench.XXXXXX)
    # Bundles and state roots on a tmpfs, where engines keep runtime state
    # (/run is one on a real host; here it is on ext4, where each state file
    # renamed into place costs crust ~0.2 ms more, measured). The mount
    # goes with this namespace.
    mount -t tmpfs -o mode=0700 crust-bench "$work"
    trap remove_work EXIT
}

# true_bundle DIR: a bundle in DIR with runc's config (terminal off) that
# runs /bin/true on a busybox rootfs.
true_bundle() {
    scripts/make-rootfs.sh "$1/rootfs"
    (cd "$1" && runc spec)
    python3 - "$1/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open(sys.argv[1], "w"))
PY
}

# remove_work: $work's tmpfs unmounted, the directory removed.
remove_work() {
    umount "$work" 2>/dev/null || true
    rm -rf "$work"
}
