//! Thin, documented wrappers over the Linux syscalls that `rustix` does not
//! cover. This is the only crate of crust allowed to contain `unsafe`; every
//! block carries a `// SAFETY:` line saying why it is sound.
//!
//! Everything here assumes what the runtime guarantees: the process is
//! single-threaded whenever it forks (see `docs/architecture.md`).

pub mod bpf;
pub mod clone;
pub mod exec;
pub mod fd;
pub mod fs;
pub mod keyring;
pub mod mount;
pub mod ns;
pub mod sched;
pub mod seccomp;
pub mod signal;
