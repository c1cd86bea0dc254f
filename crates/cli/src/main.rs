//! The `crust` binary (everything is in the library: src/lib.rs).
#![forbid(unsafe_code)]

fn main() {
    crust::main()
}
