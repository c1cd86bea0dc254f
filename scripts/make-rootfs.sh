#!/usr/bin/env bash
# make-rootfs.sh DIR: a minimal rootfs from Debian's busybox-static: the
# static binary, one symlink per applet, and /etc/passwd and /etc/group.
set -euo pipefail
dir=${1:?usage: make-rootfs.sh DIR}
busybox=$(command -v busybox)
mkdir -p "$dir"/{bin,etc,proc,sys,dev,tmp,root}
cp "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
