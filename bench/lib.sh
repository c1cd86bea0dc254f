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
#   spec_variant DIR ARGS_JSON [LIMIT] # bundles on a busybox rootfs: runc's
#   podman_bundle DIR                 # config, or the one podman sends

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

# spec_variant DIR ARGS_JSON [MEMORY_LIMIT]: a bundle with runc's config.
spec_variant() {
    scripts/make-rootfs.sh "$1/rootfs"
    (cd "$1" && runc spec)
    python3 - "$1/config.json" "$2" "${3:-}" <<'PY'
import json, sys
path, args, limit = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = args
if limit:
    c["linux"]["resources"]["memory"] = {"limit": int(limit), "swap": int(limit)}
json.dump(c, open(path, "w"))
PY
}

# podman_bundle DIR: the config podman sends for `podman run IMAGE true`
# (bench/podman-config.json, recorded by bench/podman-config.sh): its
# seccomp profile, eleven mounts (five of them binds of files podman
# writes), masked and read-only paths, a pids limit, a deny-all device
# list, a cgroupsPath under libpod_parent and a network namespace podman
# made before (joined by path), on the same busybox rootfs.
podman_bundle() {
    scripts/make-rootfs.sh "$1/rootfs"
    mkdir -p "$1/userdata/shm"
    echo "nameserver 192.0.2.1" >"$1/userdata/resolv.conf"
    printf '127.0.0.1 localhost\n' >"$1/userdata/hosts"
    echo bench >"$1/userdata/hostname"
    : >"$1/userdata/.containerenv"
    touch "$1/netns"
    unshare --net="$1/netns" true
    sed -e "s|@ROOTFS@|$1/rootfs|; s|@USERDATA@|$1/userdata|g; s|@NETNS@|$1/netns|" \
        bench/podman-config.json >"$1/config.json"
}

# remove_podman_bundle DIR: what podman_bundle left outside DIR (its
# network namespace's mount, the cgroup parent its config names).
remove_podman_bundle() {
    umount "$1/netns" 2>/dev/null || true
    rmdir /sys/fs/cgroup/*/libpod_parent/libpod-bench /sys/fs/cgroup/*/libpod_parent 2>/dev/null || true
}

# remove_work: $work's tmpfs unmounted, the directory removed.
remove_work() {
    umount "$work" 2>/dev/null || true
    rm -rf "$work"
}
