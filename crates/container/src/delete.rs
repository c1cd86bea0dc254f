//! `crust delete`: remove a stopped container, or with `--force` kill it
//! first. A created container is killed without `--force`, as runc does.

use std::path::Path;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::error::{Error, Result};
use crate::kill::open_init;
use crate::state::{StateDir, Status};

/// How long a killed init may take to die before delete gives up.
const DEATH_TIMEOUT: Duration = Duration::from_secs(10);

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let dir = match StateDir::open(root, id) {
        // runc: deleting a missing container with --force succeeds (and
        // finishes what an interrupted delete of it left).
        Err(Error::NotFound(_)) if force => {
            StateDir::sweep_tombstones(root, id);
            return Ok(());
        }
        other => other?,
    };
    dir.lock_exclusive()?;
    let state = match dir.load() {
        Ok(s) => s,
        // A directory with no readable state is what an interrupted create
        // leaves; --force clears it.
        Err(Error::CorruptState { .. } | Error::Symlink { .. }) if force => return dir.remove(),
        Err(e) => return Err(e),
    };
    match dir.status(&state) {
        Status::Stopped => {}
        Status::Created => kill_and_wait(&state, id)?,
        Status::Running | Status::Paused | Status::Creating if force => {
            if let Some(cgroup) = &state.cgroup {
                // A frozen init cannot die: thaw it first.
                if state.is_paused() {
                    cgroup.thaw()?;
                }
            }
            kill_and_wait(&state, id)?
        }
        status => {
            return Err(Error::WrongState {
                action: "delete",
                id: id.into(),
                status: format!("{status} (use --force)"),
            })
        }
    }
    crate::fault::point("delete:killed");
    if let Some(cgroup) = &state.cgroup {
        // Whatever the init left behind (without a pid namespace of its
        // own, its children outlive it) dies with the cgroup.
        cgroup.destroy()?;
    }
    crate::fault::point("delete:cgroup");
    if crate::shared_mounts::applies(&state.config) {
        // As create resolved it (destinations may name it in front).
        let rootfs = crate::config::rootfs_path(&state.config, &state.bundle);
        let rootfs = std::fs::canonicalize(&rootfs).unwrap_or(rootfs);
        crate::shared_mounts::unmount_all(&state.config, &rootfs);
    }
    crate::hooks::poststop(&state);
    dir.remove()
}

fn kill_and_wait(state: &crate::state::State, id: &str) -> Result<()> {
    let Some(init) = open_init(state) else {
        return Ok(());
    };
    match sys::signal::pidfd_send(&init, libc::SIGKILL) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => {}
        Err(e) => return Err(Error::sys(format!("kill container {id:?}"))(e)),
    }
    // A pidfd polls readable once the process has exited, whoever reaps it.
    let mut fds = [PollFd::new(&init, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: DEATH_TIMEOUT.as_secs() as i64,
        tv_nsec: 0,
    };
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(0) => Err(Error::DidNotDie {
            id: id.into(),
            after: DEATH_TIMEOUT,
        }),
        Ok(_) => Ok(()),
        Err(e) => Err(Error::sys(format!("wait for container {id:?} to die"))(e)),
    }
}
