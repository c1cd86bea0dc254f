#!/usr/bin/env bash
# Builds crust, makes a demo bundle from busybox-static in ./demo, and runs
# a container in it that shows where it lives. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --quiet
crust=$PWD/target/x86_64-unknown-linux-gnu/release/crust
rm -rf demo && mkdir -p demo
scripts/make-rootfs.sh demo/rootfs
cd demo
"$crust" spec
# The default config (like runc's) asks for a terminal: a foreground run
# relays it to this terminal, whatever stdin is.
sed -i 's|^\t\t\t"sh"$|\t\t\t"sh", "-c", "echo hello from $(hostname); id; ls /; grep -E \\"^(Cap(Eff\|Bnd)\|NoNewPrivs)\\" /proc/self/status"|' config.json
"$crust" --root /run/crust-demo run demo
