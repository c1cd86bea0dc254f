//! Cgroups for crust containers, on all three layouts a host may have:
//! pure v1, hybrid (v1 controllers plus a cgroup2 mount at
//! `/sys/fs/cgroup/unified`) and pure v2.
//!
//! One resource model serves them all: `linux.resources` is translated
//! into a list of [`settings::Setting`]s (a controller, a file, a value and
//! the config field it came from), in the dialect of whichever hierarchy
//! holds each controller; a [`Cgroup`] then writes them into its
//! directories. Devices are the exception the kernel imposes: v1 takes
//! allow/deny lines, v2 an eBPF program ([`devices`]).
//!
//! Two drivers make the directories: cgroupfs (crust makes them) and
//! [`systemd`] (a transient unit systemd makes, which crust then fills).
#![forbid(unsafe_code)]

mod cgroup;
pub mod devices;
mod error;
mod freezer;
pub mod layout;
mod oom;
pub mod path;
pub mod settings;
pub mod stats;
pub mod systemd;

pub use cgroup::{Cgroup, Node};
pub use error::{Error, Result};
pub use layout::{Layout, Version};
pub use oom::OomWatch;
