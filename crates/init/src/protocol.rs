//! The parent↔child protocol: one enum of messages over a `SOCK_SEQPACKET`
//! socketpair, one JSON datagram per message.
//!
//! ```text
//!  parent (crust create)                      child (container init)
//!  ─────────────────────                      ──────────────────────
//!  socketpair, exec fifo
//!  clone3(namespace flags) ──────────────────▶ starts; waits on the socket
//!  write uid_map/gid_map, oom_score_adj
//!  send Proceed ─────────────────────────────▶ join namespaces by path
//!                  ┌─ only when namespaces must be made after joining others:
//!                  │◀───────────────────────── unshare(user) → MapIds
//!  write id maps   │ Proceed ─────────────────▶ unshare(the rest)
//!                  │◀───────────────────────── new pid ns: clone3(CLONE_PARENT)
//!  pidfd_open, reap└─ Forked { pid } ◀──────── and exit; the new child goes on
//!                                               rootfs: mounts, devices
//!                  ◀───────────────────────── CreateRuntimeHooks (if any hooks)
//!  prestart, createRuntime hooks
//!  send Proceed ─────────────────────────────▶ createContainer hooks,
//!                                               sysctl, masks, pivot_root,
//!                                               credentials, capabilities
//!                  ◀────────────────────────── send Ready | Failed(error)
//!  write state.json (created), pid file;
//!  exit                                        blocks reading the exec fifo
//!
//!  crust start: write one byte to the fifo ──▶ execve(process.args)
//! ```
//!
//! A message is small (an error is a few hundred bytes), so a datagram
//! never needs reassembly, and a peer that died is seen as end-of-file.

use std::os::fd::{AsFd, OwnedFd};

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use serde::{Deserialize, Serialize};

use crate::error::InitError;

/// Every message that crosses the socketpair.
#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    /// Parent → child: the id mappings and everything the parent does for
    /// the child are in place; set up the container.
    Proceed,
    /// Child → parent: it has unshared a user namespace (after joining
    /// others by path); the parent writes its id maps and answers Proceed.
    MapIds,
    /// Child → parent: it forked the container's init into a new pid
    /// namespace (`CLONE_PARENT`, so the init is the parent's child) and
    /// exits; the init continues the handshake.
    Forked { pid: i32 },
    /// Child → parent: mounts are made, the pivot is next: run the
    /// prestart and createRuntime hooks, then answer Proceed.
    CreateRuntimeHooks,
    /// Child → parent: set up; blocked before `execve` until `start`.
    Ready,
    /// Child → parent: setup failed; the child exits after sending this.
    Failed(InitError),
}

/// Maximum size of one datagram.
const MAX_MESSAGE: usize = 64 * 1024;

/// One end of the socketpair.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// Why a message could not be exchanged.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("socketpair: {0}")]
    Socketpair(rustix::io::Errno),
    #[error("send {what}: {errno}")]
    Send {
        what: &'static str,
        errno: rustix::io::Errno,
    },
    #[error("receive: {0}")]
    Receive(rustix::io::Errno),
    #[error("the peer closed the channel without a message")]
    Closed,
    #[error("malformed message: {0}")]
    Malformed(serde_json::Error),
}

impl Channel {
    /// A connected pair: (parent's end, child's end). Both are close-on-exec.
    pub fn pair() -> Result<(Channel, Channel), ChannelError> {
        let (a, b) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(ChannelError::Socketpair)?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    pub fn send(&self, msg: &Message) -> Result<(), ChannelError> {
        let what = match msg {
            Message::Proceed => "Proceed",
            Message::MapIds => "MapIds",
            Message::Forked { .. } => "Forked",
            Message::CreateRuntimeHooks => "CreateRuntimeHooks",
            Message::Ready => "Ready",
            Message::Failed(_) => "Failed",
        };
        let bytes = serde_json::to_vec(msg).map_err(ChannelError::Malformed)?;
        rustix::net::send(&self.fd, &bytes, SendFlags::NOSIGNAL)
            .map_err(|errno| ChannelError::Send { what, errno })?;
        Ok(())
    }

    pub fn recv(&self) -> Result<Message, ChannelError> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let n = loop {
            match rustix::net::recv(&self.fd, &mut buf, RecvFlags::empty()) {
                Err(rustix::io::Errno::INTR) => continue,
                other => break other.map_err(ChannelError::Receive)?.0,
            }
        };
        if n == 0 {
            return Err(ChannelError::Closed);
        }
        serde_json::from_slice(&buf[..n]).map_err(ChannelError::Malformed)
    }
}

impl AsFd for Channel {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Errno, InitError};

    #[test]
    fn messages_round_trip() {
        let (a, b) = Channel::pair().unwrap();
        a.send(&Message::Proceed).unwrap();
        assert!(matches!(b.recv().unwrap(), Message::Proceed));
        let err = InitError::Hostname {
            errno: Errno(libc::EPERM),
        };
        b.send(&Message::Failed(err)).unwrap();
        match a.recv().unwrap() {
            Message::Failed(e) => assert_eq!(
                e.to_string(),
                "set hostname: Operation not permitted (os error 1)"
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn closed_peer_is_an_error_not_a_hang() {
        let (a, b) = Channel::pair().unwrap();
        drop(b);
        assert!(matches!(a.recv(), Err(ChannelError::Closed)));
    }
}
