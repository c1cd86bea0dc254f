//! The host side of crust: the container lifecycle of runtime.md, one
//! module per operation, over a state directory per container.
#![forbid(unsafe_code)]

mod cgroup;
pub mod config;
pub mod console;
pub(crate) mod create;
mod delete;
pub mod error;
pub mod events;
pub mod exec;
pub mod features;
mod hooks;
mod hostproc;
pub mod id;
mod idmaps;
mod info;
mod kill;
mod namespaces;
mod netdevices;
mod pause;
mod procinfo;
pub mod ps;
mod run;
mod seccomp_agent;
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

pub use create::{create, CreateOptions, Created};
pub use delete::delete;
pub use error::{Error, Result};
pub use info::{list, state, state_of, ContainerState};
pub use kill::kill;
pub use pause::{pause, resume};
pub use run::wait_forwarding_signals;
pub use start::{poststart, release, release_created, start};
pub use update::update;

/// The runtime spec version crust implements.
pub const SPEC_VERSION: &str = "1.3.0";

/// The default `config.json` that `crust spec` writes: runc's, with crust's
/// name and spec version.
pub const DEFAULT_CONFIG: &str = include_str!("default_config.json");
