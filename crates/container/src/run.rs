//! A foreground `crust run`: wait for the container's init, forwarding
//! every signal crust receives to it, and return its exit code the way a
//! shell reports one (128 + signal when killed).

use std::os::fd::{AsFd, OwnedFd};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{WaitId, WaitIdOptions};

use crate::error::{Error, Result};

/// Wait for the init behind `pidfd` (a child of this process). `signals`
/// is a signalfd for the signals this process has blocked.
pub fn wait_forwarding_signals(pidfd: &OwnedFd, signals: &OwnedFd) -> Result<i32> {
    loop {
        let mut fds = [
            PollFd::new(signals, PollFlags::IN),
            PollFd::new(pidfd, PollFlags::IN),
        ];
        match rustix::event::poll(&mut fds, None) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::sys("poll for signals and the container's exit")(e)),
        }
        if fds[0].revents().contains(PollFlags::IN) {
            let sig = sys::signal::read_signal(signals).map_err(Error::sys("read signalfd"))?;
            if sig != libc::SIGCHLD {
                log::debug!("forwarding signal {sig} to the container");
                let _ = sys::signal::pidfd_send(pidfd, sig);
            }
        }
        if fds[1].revents().contains(PollFlags::IN) {
            return reap(pidfd);
        }
    }
}

fn reap(pidfd: &OwnedFd) -> Result<i32> {
    let status = rustix::process::waitid(WaitId::PidFd(pidfd.as_fd()), WaitIdOptions::EXITED)
        .map_err(Error::sys("wait for the container"))?;
    let status = status.ok_or_else(|| Error::InitDied("no exit status".into()))?;
    if let Some(code) = status.exit_status() {
        return Ok(code);
    }
    Ok(128 + status.terminating_signal().unwrap_or(0))
}
