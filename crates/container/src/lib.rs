//! The host side of crust: the container lifecycle of runtime.md, one
//! module per operation, over a state directory per container.
#![forbid(unsafe_code)]

mod cgroup;
pub mod check;
mod checkpoint;
pub mod config;
pub mod console;
mod cr;
pub(crate) mod create;
mod delete;
pub mod error;
pub mod events;
pub mod exec;
mod fault;
pub mod features;
mod hooks;
mod hostproc;
pub mod id;
mod idmaps;
mod info;
mod invalid;
mod kill;
pub mod lenient;
mod namespaces;
mod netdevices;
mod pause;
mod pidfd_socket;
mod procinfo;
pub mod ps;
mod restore;
mod run;
mod seccomp_agent;
mod seccomp_cache;
mod shared_mounts;
pub mod signal;
mod spawn;
pub mod spec;
mod start;
pub mod state;
mod timing;
mod unsupported;
mod update;
mod userns;

#[cfg(test)]
mod test_util;

pub use checkpoint::checkpoint;
pub use cr::{parse_cgroups_mode, parse_empty_ns, CriuOptions};
pub use create::{create, CreateOptions, Created};
pub use delete::delete;
pub use error::{Error, Result};
pub use info::{list, state, ContainerState};
pub use kill::kill;
pub use pause::{pause, resume};
pub use restore::{restore, RestoreOptions, Restored};
pub use run::wait_forwarding_signals;
pub use start::{poststart, release_created, start};
pub use timing::Phases;
pub use update::update;

/// The linked libseccomp's version (`--version` says it, as runc's does).
pub use init::seccomp::library_version as libseccomp_version;

/// The longest crust waits for the container's process at any step of
/// the handshake (a message from the child, or its `execve` after start):
/// a child that hangs fails the command instead of hanging it. Hooks that
/// run in the container (createContainer, startContainer) without a
/// timeout of their own must finish within it.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The runtime spec version crust implements.
pub const SPEC_VERSION: &str = "1.3.0";

/// The default `config.json` that `crust spec` writes: runc's, with crust's
/// name and spec version.
pub const DEFAULT_CONFIG: &str = include_str!("default_config.json");
