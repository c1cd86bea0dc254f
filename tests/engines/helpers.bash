# Shared by the engine suites: a private podman / containerd setup driving
# $RUNTIME (crust by default; RUNTIME=$(command -v runc) runs the same suite
# against runc), with an image built from busybox-static. Nothing is
# pulled; nothing outside $ENGINE_DIR is written but cgroups, removed after.

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
RUNTIME=${RUNTIME:-$REPO/target/x86_64-unknown-linux-gnu/debug/crust}
ENGINE_DIR=${ENGINE_DIR:-/tmp/crust-engines}
IMAGE=localhost/crust-busybox:test
# cgroupfs, or systemd (scripts/systemd-vm.sh runs the suite under systemd).
CGROUP_MANAGER=${ENGINE_CGROUP_MANAGER:-cgroupfs}
# How many times slower than this host the machine is: the few bounds on
# an engine's reaction times are multiplied by it (scripts/vm/systemd-tests
# sets it for QEMU without KVM, where each `ctr` call takes ~0.3 s).
ENGINE_SLOWDOWN=${ENGINE_SLOWDOWN:-1}

# From $ENGINE_DIR: conmon marks an OOM kill with a file named `oom` in
# the directory it was started in, which was the repository's root.
podman_() {
    (cd "$ENGINE_DIR" && CONTAINERS_CONF=$ENGINE_DIR/containers.conf podman \
        --root "$ENGINE_DIR/storage" --runroot "$ENGINE_DIR/run" \
        --runtime "$RUNTIME" --cgroup-manager=$CGROUP_MANAGER --events-backend=file "$@")
}

# Runs once per file: a containers.conf with ulimits the VM allows (podman's
# default 1048576 needs CAP_SYS_RESOURCE, which this machine lacks), and the
# image imported from a busybox rootfs.
engines_setup() {
    mkdir -p "$ENGINE_DIR"
    cat >"$ENGINE_DIR/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
cgroup_manager = "$CGROUP_MANAGER"
events_logger = "file"
CONF
    if ! podman_ image exists "$IMAGE"; then
        local rootfs=$ENGINE_DIR/rootfs
        rm -rf "$rootfs"
        "$REPO/scripts/make-rootfs.sh" "$rootfs" >/dev/null
        tar -C "$rootfs" -c . | podman_ import - "$IMAGE" >/dev/null
    fi
}

# The cgroup directories of a container (podman's cgroupfs parent, or
# its systemd scope, machine.slice/libpod-ID.scope).
cgroup_dirs_of() {
    find /sys/fs/cgroup -maxdepth 4 -type d -name "*$1*" 2>/dev/null
}

# Checkpoint tests need a CRIU that works on this kernel (the systemd VM
# lane's; the host's 6.18 is too new for CRIU 3.17). The lane sets
# ENGINE_REQUIRE_CRIU=1: there a failing `criu check` fails the test.
requires_criu() {
    if ! criu check >/dev/null 2>&1; then
        if [ -n "${ENGINE_REQUIRE_CRIU:-}" ]; then
            echo "criu check fails, and this lane requires CRIU" >&2
            return 1
        fi
        skip "CRIU cannot checkpoint on this kernel (the systemd VM lane runs this)"
    fi
}
