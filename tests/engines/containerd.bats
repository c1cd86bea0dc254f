#!/usr/bin/env bats
# containerd (started here with its own root, state and socket) running
# tasks with $RUNTIME through the runc v2 shim (`ctr run --runc-binary`),
# from an OCI archive of the busybox image (podman save).

bats_require_minimum_version 1.5.0

load helpers

CTD=$ENGINE_DIR/containerd

ctr_() {
    ctr -a "$CTD/containerd.sock" "$@"
}

setup_file() {
    engines_setup
    mkdir -p "$CTD"
    cat >"$CTD/config.toml" <<CONF
version = 2
root = "$CTD/root"
state = "$CTD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTD/containerd.sock"
CONF
    containerd --config "$CTD/config.toml" >"$CTD/log" 2>&1 &
    echo $! >"$CTD/pid"
    for _ in $(seq 100); do
        [ -S "$CTD/containerd.sock" ] && ctr_ version >/dev/null 2>&1 && break
        sleep 0.1
    done
    podman_ save --format oci-archive -o "$CTD/image.tar" "$IMAGE" >/dev/null
    ctr_ images import "$CTD/image.tar" >/dev/null
}

teardown_file() {
    for t in $(ctr_ task ls -q 2>/dev/null); do ctr_ task kill -s KILL "$t" >/dev/null 2>&1 || true; done
    sleep 0.2
    for c in $(ctr_ containers ls -q 2>/dev/null); do
        ctr_ task delete "$c" >/dev/null 2>&1 || true
        ctr_ containers delete "$c" >/dev/null 2>&1 || true
    done
    kill "$(cat "$CTD/pid")"
    while kill -0 "$(cat "$CTD/pid")" 2>/dev/null; do sleep 0.1; done
    rm -rf "$CTD"
}

@test "containerd: run, output and exit code" {
    run ctr_ run --rm --runc-binary "$RUNTIME" "$IMAGE" t-run sh -c 'echo hi; exit 4'
    [ "$status" -eq 4 ]
    [ "$output" = hi ]
}

@test "containerd: task exec, pause/resume, metrics, kill, delete" {
    ctr_ run -d --runc-binary "$RUNTIME" "$IMAGE" t-life sleep 1000
    run ctr_ task exec --exec-id e1 t-life sh -c 'echo exec-ok; exit 3'
    [ "$status" -eq 3 ]
    [ "$output" = exec-ok ]
    ctr_ task pause t-life
    run ctr_ task ls
    [[ "$output" == *"t-life"*"PAUSED"* ]]
    ctr_ task resume t-life
    run ctr_ task ls
    [[ "$output" == *"t-life"*"RUNNING"* ]]
    run ctr_ task metrics t-life
    [ "$status" -eq 0 ]
    [[ "$output" == *memory* ]]
    pid=$(ctr_ task ls | awk '$1 == "t-life" {print $2}')
    ctr_ task kill -s KILL t-life
    for _ in $(seq 50); do
        ctr_ task ls | grep -q "t-life.*STOPPED" && break
        sleep 0.1
    done
    ctr_ task delete t-life
    ctr_ containers delete t-life
    [ ! -e "/proc/$pid" ]
    run ctr_ task ls -q
    [ -z "$output" ]
}

@test "containerd: a failing create says what failed, in the one line it keeps" {
    run -1 ctr_ run --rm --runc-binary "$RUNTIME" "$IMAGE" t-fail /no/such/binary
    [[ "$output" == *"/no/such/binary"* ]]
}
