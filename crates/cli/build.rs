//! Records the git commit crust is built from, for `crust --version`, and
//! has the linker place the functions crust's commands execute together
//! (`text-order.txt`, written by scripts/text-order.sh).
fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CRUST_COMMIT={commit}");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs");
    order_text();
}

/// Release builds for x86-64 glibc link with rustc's own lld (its default
/// linker there since Rust 1.90), which takes a symbol ordering file. Not
/// where the linker is chosen by configuration: another linker may not
/// know the option.
fn order_text() {
    println!("cargo:rerun-if-changed=text-order.txt");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let custom_linker = !env("RUSTC_LINKER").is_empty()
        || env("CARGO_ENCODED_RUSTFLAGS")
            .split('\x1f')
            .any(|flag| flag.contains("linker"));
    if env("PROFILE") != "release" || env("TARGET") != "x86_64-unknown-linux-gnu" || custom_linker {
        return;
    }
    // The link map, where scripts/text-order.sh finds the functions of the
    // very build it lists them for (a build with its symbols kept has other
    // names: their hashes depend on the profile). A few milliseconds of
    // the link.
    println!(
        "cargo:rustc-link-arg-bins=-Wl,-Map={}/crust.map",
        env("OUT_DIR")
    );
    println!("cargo:rustc-link-arg-bins=-Wl,--no-demangle");
    let list = std::path::Path::new(&env("CARGO_MANIFEST_DIR")).join("text-order.txt");
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        list.display()
    );
    // A name the list has and the build does not (the code changed since
    // the list was made) is skipped; scripts/text-order.sh reports how
    // many of the list's names a build still has.
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}
