//! The host side of `process.terminal`: where the pty master goes. Either
//! to the engine's console socket (`--console-socket`), or, for `run` in the
//! foreground, to crust itself, which then relays between its own terminal
//! and the container's.

use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SocketFlags, SocketType,
};
use rustix::termios::{OptionalActions, Termios};

use crate::error::{Error, Result};

/// Where the pty master of a terminal goes.
#[derive(Debug, Clone)]
pub enum ConsoleTarget {
    /// No terminal.
    None,
    /// The engine's socket (`--console-socket PATH`).
    Socket(PathBuf),
    /// crust itself: a foreground `run`.
    Runtime,
}

/// runc's rules: a detached terminal needs a socket, and a socket needs a
/// detached terminal.
///
/// ```text
/// terminal  target    detached   result
/// any       Socket    no         error
/// true      None      yes        error
/// false     Socket    yes        error
/// ```
pub(crate) fn check(terminal: bool, target: &ConsoleTarget, detached: bool) -> Result<()> {
    match (terminal, target) {
        (_, ConsoleTarget::Socket(_)) if !detached => {
            Err(Error::ConsoleRule("cannot use a console socket if crust will not detach"))
        }
        (true, ConsoleTarget::None) if detached => Err(Error::ConsoleRule(
            "cannot allocate a tty if crust will detach without setting a console socket (--console-socket)",
        )),
        (false, ConsoleTarget::Socket(_)) => Err(Error::ConsoleRule(
            "cannot use a console socket if the container does not allocate a tty (process.terminal)",
        )),
        _ => Ok(()),
    }
}

/// The socket the init sends the master to, and (for `Runtime`) our end
/// of it.
pub(crate) fn open(target: &ConsoleTarget) -> Result<(Option<OwnedFd>, Option<OwnedFd>)> {
    match target {
        ConsoleTarget::None => Ok((None, None)),
        ConsoleTarget::Socket(path) => Ok((Some(connect(path)?), None)),
        ConsoleTarget::Runtime => {
            let (ours, theirs) = rustix::net::socketpair(
                AddressFamily::UNIX,
                SocketType::STREAM,
                SocketFlags::CLOEXEC,
                None,
            )
            .map_err(Error::sys("socketpair for the console"))?;
            Ok((Some(theirs), Some(ours)))
        }
    }
}

fn connect(path: &Path) -> Result<OwnedFd> {
    let stream = std::os::unix::net::UnixStream::connect(path)
        .map_err(Error::io("connect to console socket", path))?;
    Ok(stream.into())
}

/// Receive the pty master the init sent.
pub(crate) fn receive_master(socket: &OwnedFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 4096];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    rustix::net::recvmsg(
        socket,
        &mut [IoSliceMut::new(&mut buf)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .map_err(Error::sys("receive the pty master"))?;
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg {
            if let Some(fd) = fds.next() {
                return Ok(fd);
            }
        }
    }
    Err(Error::InitDied("it sent no pty master".into()))
}

/// crust's own terminal in raw mode for as long as it relays, restored on
/// drop.
pub struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    pub fn enter() -> RawMode {
        let stdin = rustix::stdio::stdin();
        let Ok(saved) = rustix::termios::tcgetattr(stdin) else {
            return RawMode { saved: None };
        };
        let mut raw = saved.clone();
        raw.make_raw();
        let _ = rustix::termios::tcsetattr(stdin, OptionalActions::Now, &raw);
        RawMode { saved: Some(saved) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = rustix::termios::tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, saved);
        }
    }
}

/// Give the container's terminal the size of crust's own.
pub fn copy_window_size(master: &OwnedFd) {
    if let Ok(ws) = rustix::termios::tcgetwinsize(rustix::stdio::stdin()) {
        let _ = rustix::termios::tcsetwinsize(master, ws);
    }
}

/// Copy what is available from `from` to `to`. False at end of input (for
/// a pty master: EIO once the last peer is closed).
pub fn relay(from: impl AsFd, to: impl AsFd) -> bool {
    let mut buf = [0u8; 8192];
    match rustix::io::read(&from, &mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                match rustix::io::write(&to, rest) {
                    Ok(w) => rest = &rest[w..],
                    Err(rustix::io::Errno::INTR) => {}
                    Err(_) => return false,
                }
            }
            true
        }
    }
}
