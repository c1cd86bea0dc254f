# Shared by the VM lanes (scripts/cgroup2-vm.sh, scripts/systemd-vm.sh):
# Debian's kernel unpacked once under target/vm, test binaries found by
# name, binaries copied into a root with the libraries they link.

# Unpack the kernel of linux-image-amd64 into $1 (kernel/ and vmlinux),
# once. Booting the uncompressed ELF vmlinux saves seconds of
# decompression under emulation.
vm_kernel() {
    local work=$1
    mkdir -p "$work"
    [ -f "$work/vmlinux" ] && return 0
    local pkg
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    rm -rf "$work/kernel" "$work"/*.deb
    (cd "$work" && apt-get download -q "$pkg" 2>/dev/null >/dev/null)
    dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
    python3 - "$work"/kernel/boot/vmlinuz-* "$work/vmlinux" <<'PY'
import lzma, sys
data = open(sys.argv[1], "rb").read()
start = data.find(b"\xfd7zXZ\x00")
if start < 0:
    sys.exit("no xz stream in " + sys.argv[1])
open(sys.argv[2], "wb").write(lzma.LZMADecompressor().decompress(data[start:]))
PY
}

# The executable of integration test $1 (built if needed).
test_binary() {
    cargo test --test "$1" --no-run --message-format=json 2>/dev/null |
        python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$1"
}

# Copy binary $2 into root $1 at the same path, with its libraries.
install_with_libs() {
    local root=$1 bin=$2 lib
    mkdir -p "$root$(dirname "$bin")"
    objcopy --strip-debug "$bin" "$root$bin"
    for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

# vm_boot NAME INITRD MEMORY APPEND OUT: boot Debian's kernel (under
# target/vm) with INITRD under QEMU (TCG: KVM is not usable here); the
# console goes to OUT.console, the tests' output (second serial port) to
# OUT, which is printed. Returns the status the tests reported
# (`crust-vm-exit=N`), 1 if they never finished.
vm_boot() {
    local name=$1 initrd=$2 memory=$3 append=$4 out=$5 start s
    : > "$out"
    echo "$name: booting under QEMU (TCG)"
    start=$(date +%s)
    timeout 1800 qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m "$memory" \
        -kernel "$repo/target/vm/vmlinux" -initrd "$initrd" \
        -append "console=ttyS0 rdinit=/init panic=-1 quiet $append" \
        -display none -no-reboot \
        -serial "file:$out.console" -serial "file:$out" || true
    cat "$out"
    echo "$name: $(( $(date +%s) - start )) s in the VM"
    s=$(grep -ao 'crust-vm-exit=[0-9]*' "$out" | tail -1 | cut -d= -f2)
    if [ -z "$s" ]; then
        echo "$name: the tests did not finish; console:" >&2
        tail -40 "$out.console" >&2
        return 1
    fi
    return "$s"
}
