//! The child moves itself into the container's v1 cgroups, through
//! `tasks` files the runtime opened before the fork.
//!
//! Why the child and not the parent: a write of another process's pid to
//! `cgroup.procs` takes the kernel's global thread-group lock for writing,
//! and the first such write after a quiet moment waits out an RCU grace
//! period (5 to 20 ms on this project's test machine, longer than the whole
//! rest of a `run`). A single-threaded process writing "0" (itself) to
//! `tasks` moves its only thread, which needs no such lock (the kernel's
//! `cgroup_procs_write_start`: no pid and no thread group). crust's
//! children are single-threaded, so that moves the whole process.
//!
//! The permission check uses the credentials of whoever opened the file
//! (the runtime), so it passes the same way whether or not the child is
//! already in a new user namespace. The descriptors are closed as soon as
//! they are written.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use crate::error::InitError;

/// A v1 cgroup's `tasks` file, open for writing.
#[derive(Debug)]
pub struct Tasks {
    /// For the error message.
    pub path: PathBuf,
    pub file: OwnedFd,
}

/// Move this (single-threaded) process into every cgroup of `tasks`, then
/// close them. Must come before anything that forks or makes a cgroup
/// namespace: both take the cgroups the process is in at that moment.
pub(crate) fn enter(tasks: Vec<Tasks>) -> Result<(), InitError> {
    for t in tasks {
        rustix::io::write(&t.file, b"0").map_err(|e| InitError::Process {
            op: format!("move into the container's cgroup (write 0 to {:?})", t.path),
            errno: e.into(),
        })?;
    }
    Ok(())
}
