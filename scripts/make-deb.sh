#!/usr/bin/env bash
# scripts/make-deb.sh: builds crust's Debian package from this tree into
# target/deb/crust_VERSION_ARCH.deb and prints its path.
#
# dpkg-deb from a script rather than cargo-deb: dpkg-deb is on every
# Debian machine (cargo-deb would be one more tool to build from
# crates.io in CI), and the package needs a step of its own between the
# build and the archive: the man pages and completions come from
# crust-docgen, which renders crust's own command line (crates/docgen).
#
# What it installs: /usr/bin/crust (static, stripped), one man page per
# command in section 8 (crust(8), crust-exec(8), …), bash, zsh and fish
# completions where those shells look, and README, docs/ and the
# copyright file under /usr/share/doc/crust. scripts/deb-test.sh installs
# it, uses it and removes it.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
# Reproducible: every timestamp is the last commit's.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
cargo build --release --quiet -p crust -p crust-docgen
bin=target/x86_64-unknown-linux-gnu/release
out=target/deb
stage=$out/crust_${version}_${arch}
rm -rf "$stage" "$out/gen"
mkdir -p "$stage/DEBIAN" "$out/gen"

install -D -m 0755 "$bin/crust" "$stage/usr/bin/crust"
"$bin/crust-docgen" "$out/gen"
mkdir -p "$stage/usr/share/man/man8"
for page in "$out"/gen/man8/*.8; do
    gzip -9nc "$page" >"$stage/usr/share/man/man8/$(basename "$page").gz"
done
install -D -m 0644 "$out/gen/completions/bash/crust" "$stage/usr/share/bash-completion/completions/crust"
install -D -m 0644 "$out/gen/completions/zsh/_crust" "$stage/usr/share/zsh/vendor-completions/_crust"
install -D -m 0644 "$out/gen/completions/fish/crust.fish" "$stage/usr/share/fish/vendor_completions.d/crust.fish"

doc=$stage/usr/share/doc/crust
install -D -m 0644 README.md "$doc/README.md"
mkdir -p "$doc/docs"
for f in docs/*.md; do
    gzip -9nc "$f" >"$doc/docs/$(basename "$f").gz"
done
cat >"$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: crust
Source: the crust source tree this package was built from (commit $(git rev-parse HEAD 2>/dev/null || echo unknown))

Files: *
Copyright: the crust developers
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
chmod 0644 "$doc/copyright"
date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
printf 'crust (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- crust developers <crust@localhost>  %s\n' \
    "$version" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$date" | gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: crust
Version: $version
Architecture: $arch
Maintainer: crust developers <crust@localhost>
Installed-Size: $size
Section: admin
Priority: optional
Recommends: uidmap
Suggests: criu
Description: OCI container runtime, command-line compatible with runc
 crust creates, starts, execs into, pauses, updates, checkpoints and
 deletes containers as the OCI Runtime Specification describes, with
 runc's command line, flags and state output: engines that run runc
 (containerd, CRI-O, podman, Docker) run crust.
 .
 "crust check" tells what this host supports and what a bundle needs.
CONTROL
(cd "$stage" && find usr -type f -print0 | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb=$out/crust_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
