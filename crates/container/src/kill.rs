//! `crust kill`: signal a container's init, or with `--all` every process
//! in its pid namespace.

use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::process::{Pid, PidfdFlags};

use crate::error::{Error, Result};
use crate::procinfo;
use crate::state::{State, StateDir};

/// Signal the init (and with `all`, or SIGKILL to a container sharing its
/// pid namespace, every process of the container). As in runc, those
/// succeed once the init has exited too, signalling whatever is left in
/// the container's cgroup: engines call `kill --all ID 9` after every
/// exit, and processes outlive an init that shares its pid namespace.
/// Signal 0 only checks that the init is alive.
pub fn kill(root: &Path, id: &str, signal: i32, all: bool) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let state = dir.load()?;
    let init = dir
        .status(&state)
        .has_process()
        .then(|| open_init(&state))
        .flatten();
    // As runc (1.2+): SIGKILL to a container sharing its pid namespace
    // goes to every process in it, since killing the init does not take
    // the others along there.
    let everyone = all || (signal == libc::SIGKILL && !state.own_pid_namespace());
    if everyone && signal != 0 {
        signal_namespace(&state, signal);
    }
    let Some(init) = init else {
        return if everyone && signal != 0 {
            Ok(())
        } else {
            Err(Error::NotRunning { id: id.into() })
        };
    };
    match sys::signal::pidfd_send(&init, signal) {
        Ok(()) => Ok(()),
        // With --all, the init may exit of what the others' deaths did
        // (a shell waiting for them) before its own signal: it is gone,
        // which is what was asked.
        Err(rustix::io::Errno::SRCH) if everyone => Ok(()),
        Err(rustix::io::Errno::SRCH) => Err(Error::NotRunning { id: id.into() }),
        Err(e) => Err(Error::sys(format!(
            "send signal {signal} to container {id:?}"
        ))(e)),
    }
}

/// Stop the container: SIGKILL to every process in it, the init last.
pub(crate) fn stop(state: &State) {
    signal_namespace(state, libc::SIGKILL);
    if let Some(init) = open_init(state) {
        let _ = sys::signal::pidfd_send(&init, libc::SIGKILL);
    }
}

/// A pidfd for the container's init, checked (after opening, so the pid
/// cannot be recycled under it) to be the same process that was created.
pub(crate) fn open_init(state: &State) -> Option<OwnedFd> {
    let pid = state.pid?;
    let fd = rustix::process::pidfd_open(Pid::from_raw(pid)?, PidfdFlags::empty()).ok()?;
    procinfo::is_alive(pid, state.init_start_time).then_some(fd)
}

/// Every process of the container but its init: with a cgroup, while it
/// is frozen, so that nothing forks past the signal.
fn signal_namespace(state: &State, signal: i32) {
    match &state.cgroup {
        Some(cgroup) => cgroup.while_frozen(|pids| signal_each(state, pids, signal)),
        None => signal_each(state, &state.pids(), signal),
    }
}

fn signal_each(state: &State, pids: &[i32], signal: i32) {
    let init = state.pid.unwrap_or(0);
    for &pid in pids.iter().filter(|p| **p != init) {
        let Some(fd) = Pid::from_raw(pid)
            .and_then(|p| rustix::process::pidfd_open(p, PidfdFlags::empty()).ok())
        else {
            continue;
        };
        // The process may have exited meanwhile; that is not an error.
        let _ = sys::signal::pidfd_send(&fd, signal);
    }
}
