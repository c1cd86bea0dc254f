#!/usr/bin/env bash
# scripts/deb-test.sh: what a new user does on a fresh Debian machine,
# shown end to end (issue 17): `cargo install --path crates/cli` works;
# the package from scripts/make-deb.sh installs, `man crust` and
# `man crust-exec` show their pages, `crust ex<TAB>` completes, `crust
# check` runs, the demo container runs with the installed /usr/bin/crust;
# then the package is purged and none of its files is left. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "deb-test: $*" >&2; exit 1; }
work=$(mktemp -d /tmp/crust-deb.XXXXXX)
# A failed run leaves no package installed either.
trap 'dpkg -P crust >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# cargo install, into a root of its own (its build cached under target/).
CARGO_TARGET_DIR=target/install cargo install --quiet --locked --path crates/cli --root "$work/cargo"
"$work/cargo/bin/crust" --version | grep -q '^crust version ' || fail "cargo install: no working crust"

deb=$(scripts/make-deb.sh)
dpkg -P crust >/dev/null 2>&1 || true
mapfile -t files < <(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' | grep -v '/$')
dpkg -i "$deb" >/dev/null
dpkg -s crust | grep -q '^Status: install ok installed' || fail "not installed"
/usr/bin/crust --version | grep -q "^crust version $(dpkg-query -W -f '${Version}' crust)" || fail "wrong version"

# The manual: the installed pages, found by man, rendered.
for page in crust crust-exec crust-check; do
    [ "$(man -w "$page")" = "/usr/share/man/man8/$page.8.gz" ] || fail "man -w $page: $(man -w "$page" 2>&1)"
done
MANWIDTH=80 MANPAGER=cat man crust-exec | grep -q 'crust-exec - Run a new process inside a container' || fail "man crust-exec"
MANWIDTH=80 MANPAGER=cat man crust | grep -q 'crust-check(8)' || fail "man crust: no SEE ALSO"

# crust ex<TAB>, as bash-completion loads it.
got=$(bash -c 'source /usr/share/bash-completion/completions/crust
    COMP_WORDS=(crust ex); COMP_CWORD=1; COMP_LINE="crust ex"; COMP_POINT=8
    _crust crust ex crust; printf "%s\n" "${COMPREPLY[@]}"')
[ "$got" = exec ] || fail "crust ex<TAB> gave: $got"
[ -s /usr/share/zsh/vendor-completions/_crust ] && [ -s /usr/share/fish/vendor_completions.d/crust.fish ] ||
    fail "zsh/fish completions missing"

# What this host supports, from the installed binary.
/usr/bin/crust check >"$work/check" || fail "crust check: $(tail -1 "$work/check")"
grep -q ' 0 failures$' "$work/check" || fail "crust check: $(tail -1 "$work/check")"

# The demo container (README), with the installed binary.
scripts/make-rootfs.sh "$work/bundle/rootfs"
(cd "$work/bundle" && /usr/bin/crust spec)
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", "echo hello from $(hostname)"]
json.dump(c, open(sys.argv[1], "w"))
PY
out=$(/usr/bin/crust --root "$work/root" run --bundle "$work/bundle" deb-demo 2>/dev/null)
[ "$out" = "hello from crust" ] || fail "demo container said: $out"
[ -z "$(ls -A "$work/root")" ] || fail "the demo left state behind"

# Purge: no file of the package is left, nor the package.
dpkg -P crust >/dev/null
! dpkg -s crust >/dev/null 2>&1 || fail "still installed after purge"
for f in "${files[@]}"; do
    [ ! -e "$f" ] || fail "$f left after purge"
done
for d in /usr/share/doc/crust /usr/share/doc/crust/docs; do
    [ ! -e "$d" ] || fail "$d left after purge"
done
echo "deb-test: $(basename "$deb"): cargo install, install, man, completion, check, demo, purge: ok"
