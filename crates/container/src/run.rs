//! A foreground `crust run`: wait for the container's init, forwarding
//! every signal crust receives to it, relaying its terminal when crust
//! holds it, and return its exit code the way a shell reports one (128 +
//! signal when killed).

use std::os::fd::{AsFd, OwnedFd};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{WaitId, WaitIdOptions};

use crate::console;
use crate::error::{Error, Result};

/// Wait for the init behind `pidfd` (a child of this process). `signals`
/// is a signalfd for the signals this process has blocked; `terminal` the
/// pty master when crust relays the container's terminal.
pub fn wait_forwarding_signals(
    pidfd: &OwnedFd,
    signals: &OwnedFd,
    terminal: Option<&OwnedFd>,
) -> Result<i32> {
    let _raw = terminal.map(|master| {
        console::copy_window_size(master);
        console::RawMode::enter()
    });
    let stdin = rustix::stdio::stdin();
    let mut stdin_open = terminal.is_some();
    let mut master_open = terminal.is_some();
    loop {
        let mut fds = vec![
            PollFd::new(signals, PollFlags::IN),
            PollFd::new(pidfd, PollFlags::IN),
        ];
        if let Some(master) = terminal.filter(|_| master_open) {
            fds.push(PollFd::new(master, PollFlags::IN));
        }
        if stdin_open {
            fds.push(PollFd::new(&stdin, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, None) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::sys("poll for signals and the container's exit")(e)),
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        if ready[0] {
            forward_signal(pidfd, signals, terminal)?;
        }
        let mut next = 2;
        if let Some(master) = terminal.filter(|_| master_open) {
            if ready[next] {
                master_open = console::relay(master, rustix::stdio::stdout());
            }
            next += 1;
        }
        if stdin_open && ready[next] {
            stdin_open = console::relay(
                stdin,
                terminal.expect("stdin is relayed only with a terminal"),
            );
        }
        if ready[1] {
            if let Some(master) = terminal.filter(|_| master_open) {
                drain(master);
            }
            return reap(pidfd);
        }
    }
}

fn forward_signal(pidfd: &OwnedFd, signals: &OwnedFd, terminal: Option<&OwnedFd>) -> Result<()> {
    let sig = sys::signal::read_signal(signals).map_err(Error::sys("read signalfd"))?;
    match (sig, terminal) {
        (libc::SIGCHLD, _) => {}
        // The terminal changed size: the container's follows.
        (libc::SIGWINCH, Some(master)) => console::copy_window_size(master),
        _ => {
            log::debug!("forwarding signal {sig} to the container");
            let _ = sys::signal::pidfd_send(pidfd, sig);
        }
    }
    Ok(())
}

/// Output the container wrote just before it exited.
fn drain(master: &OwnedFd) {
    loop {
        let mut fds = [PollFd::new(master, PollFlags::IN)];
        let ready = matches!(rustix::event::poll(&mut fds, Some(&rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 })), Ok(n) if n > 0);
        if !ready || !console::relay(master, rustix::stdio::stdout()) {
            return;
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
