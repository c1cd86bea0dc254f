#!/usr/bin/env bats
# podman (rootful, cgroupfs, no network) running containers with $RUNTIME.
# Each test checks the effect inside the container, not just the exit code.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
    engines_setup
}

teardown() {
    podman_ rm -af -t 0 >/dev/null 2>&1 || true
}

@test "run: output and exit code propagate" {
    run podman_ run --rm --network none "$IMAGE" sh -c 'echo hello; exit 3'
    [ "$status" -eq 3 ]
    [ "$output" = hello ]
}

@test "env, workdir, user and hostname" {
    run podman_ run --rm --network none -e FOO=bar -w /tmp -u 1000:1000 --hostname h1 "$IMAGE" \
        sh -c 'echo $FOO $(pwd) $(id -u):$(id -g) $(hostname)'
    [ "$status" -eq 0 ]
    [ "$output" = "bar /tmp 1000:1000 h1" ]
}

@test "read-only rootfs" {
    run podman_ run --rm --network none --read-only "$IMAGE" sh -c 'touch /x'
    [ "$status" -ne 0 ]
    [[ "$output" == *"Read-only file system"* ]]
}

@test "dropped capabilities" {
    run podman_ run --rm --network none --cap-drop all "$IMAGE" grep CapEff /proc/self/status
    [ "$status" -eq 0 ]
    [[ "$output" == *"0000000000000000"* ]]
    run podman_ run --rm --network none --cap-drop all --cap-add NET_ADMIN "$IMAGE" grep CapEff /proc/self/status
    [[ "$output" == *"0000000000001000"* ]]
}

@test "a memory limit: the hog is OOM-killed" {
    run podman_ run --rm --network none --memory 16m --memory-swap 16m "$IMAGE" tail /dev/zero
    [ "$status" -eq 137 ]
}

@test "a pids limit stops a fork loop" {
    run podman_ run --rm --network none --pids-limit 10 "$IMAGE" \
        sh -c 'i=0; while [ $i -lt 40 ]; do sleep 100 & i=$((i+1)); done'
    [ "$status" -ne 0 ]
    [[ "$output" == *"can't fork"* ]]
}

@test "cpu limits reach the cgroup" {
    run podman_ run --rm --network none --cpus 0.5 --cpu-shares 512 "$IMAGE" \
        sh -c 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu.max'
    [ "$status" -eq 0 ]
    [[ "$output" == *50000* ]]
}

@test "the default seccomp profile is loaded and blocks a syscall" {
    # personality(ADDR_NO_RANDOMIZE): allowed by the kernel to anyone, not
    # in podman's profile (only a few personalities are).
    run podman_ run --rm --network none "$IMAGE" sh -c 'grep Seccomp: /proc/self/status; linux64 -R true'
    [ "${lines[0]}" = "Seccomp:	2" ]
    [ "$status" -ne 0 ]
    run podman_ run --rm --network none --security-opt seccomp=unconfined "$IMAGE" sh -c 'grep Seccomp: /proc/self/status; linux64 -R true'
    [ "${lines[0]}" = "Seccomp:	0" ]
    [ "$status" -eq 0 ]
}

@test "exec, with and without a terminal" {
    podman_ run -d --name ex --network none "$IMAGE" sleep 1000
    run podman_ exec ex cat /etc/hostname
    [ "$status" -eq 0 ]
    run podman_ exec -t ex tty
    [ "$status" -eq 0 ]
    [[ "$output" == /dev/pts/* ]]
    run podman_ exec ex sh -c 'exit 5'
    [ "$status" -eq 5 ]
}

@test "stop: SIGTERM, then SIGKILL after the timeout" {
    # PID 1 ignores SIGTERM unless it handles it: sleep does not.
    podman_ run -d --name st --network none "$IMAGE" sleep 1000
    start=$(date +%s)
    podman_ stop -t 2 st
    [ $(( $(date +%s) - start )) -ge 2 ]
    run podman_ inspect st --format '{{.State.ExitCode}}'
    [ "$output" = 137 ]
}

@test "kill delivers a signal the process traps" {
    podman_ run -d --name tr --network none "$IMAGE" sh -c "trap 'exit 7' USR1; while :; do sleep 0.1; done"
    sleep 0.5
    podman_ kill -s USR1 tr
    run podman_ wait tr
    [ "$output" = 7 ]
}

@test "pause and unpause" {
    podman_ run -d --name pa --network none "$IMAGE" sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n; done'
    sleep 0.3
    podman_ pause pa
    run podman_ inspect pa --format '{{.State.Status}}'
    [ "$output" = paused ]
    podman_ unpause pa
    run podman_ inspect pa --format '{{.State.Status}}'
    [ "$output" = running ]
}

@test "top and stats" {
    podman_ run -d --name tp --network none --memory 64m "$IMAGE" sleep 1000
    run podman_ top tp
    [ "$status" -eq 0 ]
    [[ "$output" == *"sleep 1000"* ]]
    run podman_ stats --no-stream --format '{{.MemUsage}}' tp
    [ "$status" -eq 0 ]
    # "516kB / 67.11MB": the limit is the cgroup's
    [[ "$output" == *"/ 67.11MB"* ]]
}

@test "rm -f leaves no cgroup, state or process" {
    id=$(podman_ run -d --network none "$IMAGE" sleep 1000)
    pid=$(podman_ inspect "$id" --format '{{.State.Pid}}')
    [ -n "$(cgroup_dirs_of "$id")" ]
    # podman gives the runtime no --root: its default state root.
    "$RUNTIME" state "$id" >/dev/null
    if [ "$CGROUP_MANAGER" = systemd ]; then
        [ "$(systemctl show "libpod-$id.scope" -p ActiveState --value)" = active ]
        [ "$(systemctl show "libpod-$id.scope" -p Delegate --value)" = yes ]
    fi
    podman_ rm -f -t 0 "$id"
    [ -z "$(cgroup_dirs_of "$id")" ]
    if [ "$CGROUP_MANAGER" = systemd ]; then
        run systemctl status "libpod-$id.scope"
        [ "$status" -eq 4 ]
    fi
    [ ! -e "/proc/$pid" ]
    run "$RUNTIME" state "$id"
    [ "$status" -ne 0 ]
}

@test "--init runs the init process as PID 1" {
    run podman_ run --rm --network none --init "$IMAGE" cat /proc/1/cmdline
    [ "$status" -eq 0 ]
    [[ "$output" == *init* ]]
}

@test "interactive terminal" {
    run podman_ run --rm -t --network none "$IMAGE" tty
    [ "$status" -eq 0 ]
    [[ "$output" == /dev/pts/* ]]
}

@test "--device, --tmpfs and a read-only bind volume" {
    mkdir -p "$ENGINE_DIR/vol"
    echo payload >"$ENGINE_DIR/vol/f"
    run podman_ run --rm --network none --device /dev/zero:/dev/myzero --tmpfs /scratch \
        -v "$ENGINE_DIR/vol:/vol:ro" "$IMAGE" \
        sh -c 'head -c3 /dev/myzero | wc -c; grep " /scratch " /proc/mounts | cut -d" " -f3; cat /vol/f; touch /vol/g'
    [ "$status" -ne 0 ]
    [ "${lines[0]}" = 3 ]
    [ "${lines[1]}" = tmpfs ]
    [ "${lines[2]}" = payload ]
    [[ "$output" == *"Read-only file system"* ]]
}

@test "--sysctl, --ulimit and no-new-privileges" {
    # Any --ulimit replaces the configured defaults with podman's own,
    # which this VM cannot grant: nproc is given too.
    run podman_ run --rm --network none --sysctl net.ipv4.ip_forward=1 --ulimit nofile=100:100 --ulimit nproc=4096:4096 \
        --security-opt no-new-privileges "$IMAGE" \
        sh -c 'cat /proc/sys/net/ipv4/ip_forward; ulimit -n; grep NoNewPrivs /proc/self/status'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 1 ]
    [ "${lines[1]}" = 100 ]
    [[ "${lines[2]}" == *1 ]]
}

@test "a failing create says what failed, in one line" {
    run -127 podman_ run --rm --network none "$IMAGE" /no/such/binary
    [[ "$output" == *"/no/such/binary"* ]]
}

@test "container checkpoint and restore: the process goes on from its memory" {
    requires_criu
    # The count lives in the shell's memory; the file only shows it.
    id=$(podman_ run -d --network none "$IMAGE" sh -c 'i=0; while true; do i=$((i+1)); echo $i >/tmp/n; sleep 0.1; done')
    sleep 2
    podman_ container checkpoint "$id"
    [ "$(podman_ inspect "$id" --format '{{.State.Status}}')" = exited ]
    before=$(podman_ mount "$id" >/dev/null; cat "$(podman_ mount "$id")/tmp/n")
    podman_ umount "$id" >/dev/null
    [ "$before" -ge 10 ]
    podman_ container restore "$id"
    [ "$(podman_ inspect "$id" --format '{{.State.Status}}')" = running ]
    sleep 1
    after=$(podman_ exec "$id" cat /tmp/n)
    # A fresh start would count from 1 again.
    [ "$after" -gt "$before" ]
    "$RUNTIME" state "$id" | grep -q '"status": "running"'
    podman_ rm -f -t 0 "$id"
    [ -z "$(cgroup_dirs_of "$id")" ]
}
