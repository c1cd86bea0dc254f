//! `crust start`: release a created container's process into `execve`.

use std::io::Write;

use rustix::event::{PollFd, PollFlags};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, Result};

use crate::state::{State, StateDir, Status};

pub fn start(root: &Path, id: &str) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    dir.lock_exclusive()?;
    let state = dir.load()?;
    match dir.status(&state) {
        Status::Created => {
            release(&dir, crate::hooks::has_poststart(&state))?;
            crate::fault::point("start:released");
            poststart(&state)
        }
        status => Err(Error::WrongState {
            action: "start",
            id: id.into(),
            status: status.to_string(),
        }),
    }
}

/// Once the process runs: the poststart hooks. If one fails the
/// container is stopped (its processes killed; `delete` removes it) and
/// the failure is the error, as runtime.md says.
pub fn poststart(state: &State) -> Result<()> {
    crate::hooks::poststart(state).map_err(|e| {
        crate::kill::stop(state);
        Error::Init(e)
    })
}

/// Release a container this process created: through its pipe when it
/// made one (`run`), else through the exec fifo. The pipe works as the
/// fifo does: the init holds the read end close-on-exec, so the write end
/// polls POLLERR exactly when the init has called `execve` (or died).
pub fn release_created(created: &crate::Created) -> Result<()> {
    let until_execve = crate::hooks::has_poststart(&created.state);
    let Some(gate) = &created.gate else {
        return release(&created.dir, until_execve);
    };
    match rustix::io::write(gate, b"0") {
        Ok(_) => {}
        Err(rustix::io::Errno::PIPE) => {
            return Err(Error::InitDied("it is no longer waiting to start".into()))
        }
        Err(e) => return Err(Error::sys("release the container")(e)),
    }
    if until_execve {
        wait_for_hangup(gate)?;
    }
    Ok(())
}

/// Wait, without a polling loop, until the other end of `fd` is closed.
fn wait_for_hangup(fd: &std::os::fd::OwnedFd) -> Result<()> {
    // No events asked: poll returns on POLLHUP/POLLERR alone, not on
    // anything readable.
    let mut fds = [PollFd::new(fd, PollFlags::empty())];
    let limit = crate::HANDSHAKE_TIMEOUT;
    let timeout = rustix::event::Timespec {
        tv_sec: i64::try_from(limit.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: 0,
    };
    loop {
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Error::sys("wait for the container's execve")(e)),
            Ok(0) => {
                return Err(Error::TimedOut {
                    what: "start: the container's process executing its program",
                    after: limit,
                })
            }
            Ok(_) => return Ok(()),
        }
    }
}

/// Write the byte the init waits for and remove the fifo (its absence is
/// what marks the container as started). With `until_execve`, also wait
/// until the init has called `execve`: only then may poststart hooks run
/// (runtime.md), and a startContainer hook has finished. Without
/// poststart hooks there is nothing to wait for, and `start` returns once
/// the byte is the init's, as runc's does: the `execve` (which first tears
/// down the init's copy of crust, 0.3 ms here) goes on without the caller.
///
/// The wait needs no polling loop: the init holds the fifo open read-write
/// and close-on-exec, so a reader opened here sees POLLHUP exactly when the
/// init's descriptor closes, by `execve` or by its death.
fn release(dir: &StateDir, until_execve: bool) -> Result<()> {
    let path = dir.fifo_path();
    let open = |write: bool| {
        std::fs::OpenOptions::new()
            .read(!write)
            .write(write)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&path)
    };
    // Opened first, so that ENXIO still means "no reader": the init died.
    let mut writer = open(true).map_err(|e| match e.raw_os_error() {
        Some(libc::ENXIO) => Error::InitDied("it is no longer waiting to start".into()),
        _ => Error::io("open exec fifo", &path)(e),
    })?;
    let watcher = until_execve
        .then(|| open(false).map_err(Error::io("open exec fifo", &path)))
        .transpose()?;
    writer
        .write_all(b"0")
        .map_err(Error::io("write exec fifo", &path))?;
    drop(writer);
    std::fs::remove_file(&path).map_err(Error::io("remove exec fifo", &path))?;
    match watcher {
        Some(watcher) => wait_for_hangup(&watcher.into()),
        None => Ok(()),
    }
}
