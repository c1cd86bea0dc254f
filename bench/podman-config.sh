#!/usr/bin/env bash
# bench/podman-config.sh: records the config.json podman hands its runtime
# for `podman run IMAGE true` (rootful, cgroupfs, this machine's cgroup v1
# layout) into bench/podman-config.json, which compare.sh replays as "the
# config an engine sends". podman runs crust through a wrapper that copies
# the bundle's config.json on `create`; the engine suites' set-up
# (tests/engines/helpers.bash) provides podman's storage and the image.
# The container-specific paths are replaced by placeholders compare.sh
# fills in: @ROOTFS@ (root.path), @USERDATA@ (resolv.conf, hosts,
# hostname, .containerenv and shm), @NETNS@ (the network namespace
# podman makes before it calls the runtime).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat >"$out/runtime" <<SH
#!/bin/sh
prev=
for a in "\$@"; do
    if [ "\$prev" = --bundle ]; then cp "\$a/config.json" "$out/config.json"; fi
    prev=\$a
done
exec $PWD/target/x86_64-unknown-linux-gnu/debug/crust "\$@"
SH
chmod +x "$out/runtime"
BATS_TEST_DIRNAME=$PWD/tests/engines RUNTIME=$out/runtime bash -c \
    '. tests/engines/helpers.bash; engines_setup; podman_ run --rm "$IMAGE" true'
python3 - "$out/config.json" bench/podman-config.json <<'PY'
import json, os, re, sys
c = json.load(open(sys.argv[1]))
c["root"]["path"] = "@ROOTFS@"
for m in c["mounts"]:
    if m.get("type") == "bind":
        m["source"] = "@USERDATA@/" + os.path.basename(m["source"])
for ns in c["linux"]["namespaces"]:
    if "path" in ns:
        ns["path"] = "@NETNS@"
c["hostname"] = "bench"
c["process"]["env"] = [e if not e.startswith("HOSTNAME=") else "HOSTNAME=bench" for e in c["process"]["env"]]
c["linux"]["cgroupsPath"] = re.sub(r"libpod-[0-9a-f]+", "libpod-bench", c["linux"]["cgroupsPath"])
c["annotations"] = {k: v for k, v in c["annotations"].items() if not k.endswith(".Created")}
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
echo "bench/podman-config.json written"
