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
//!                  ◀───────────────────────── SeccompListener + fd (notify)
//!  forward it to the seccomp agent
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

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
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
    /// Child → parent, with a descriptor attached: the seccomp user
    /// notification fd, for the agent at `linux.seccomp.listenerPath`.
    SeccompListener,
    /// Child → parent: set up; blocked before `execve` until `start`.
    /// With `--debug`, how long each setup phase took (µs).
    Ready { phases: Vec<(String, u64)> },
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
    #[error("no message within {0:?}")]
    TimedOut(std::time::Duration),
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
        self.send_with_fd(msg, None)
    }

    /// Send `msg` with `fd` attached (SCM_RIGHTS).
    pub fn send_with_fd(
        &self,
        msg: &Message,
        fd: Option<BorrowedFd<'_>>,
    ) -> Result<(), ChannelError> {
        let what = match msg {
            Message::Proceed => "Proceed",
            Message::MapIds => "MapIds",
            Message::Forked { .. } => "Forked",
            Message::CreateRuntimeHooks => "CreateRuntimeHooks",
            Message::SeccompListener => "SeccompListener",
            Message::Ready { .. } => "Ready",
            Message::Failed(_) => "Failed",
        };
        let bytes = serde_json::to_vec(msg).map_err(ChannelError::Malformed)?;
        send_fd(&self.fd, &bytes, fd).map_err(|errno| ChannelError::Send { what, errno })?;
        Ok(())
    }

    pub fn recv(&self) -> Result<Message, ChannelError> {
        self.recv_with_fd().map(|(msg, _)| msg)
    }

    /// Like `recv_with_fd`, but waiting at most `limit` for the message.
    pub fn recv_with_fd_within(
        &self,
        limit: std::time::Duration,
    ) -> Result<(Message, Option<OwnedFd>), ChannelError> {
        let timeout = rustix::event::Timespec {
            tv_sec: i64::try_from(limit.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(limit.subsec_nanos()),
        };
        let mut fds = [rustix::event::PollFd::new(
            &self.fd,
            rustix::event::PollFlags::IN,
        )];
        loop {
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(ChannelError::Receive(e)),
                Ok(0) => return Err(ChannelError::TimedOut(limit)),
                Ok(_) => return self.recv_with_fd(),
            }
        }
    }

    /// The next message and the descriptor attached to it, if any.
    pub fn recv_with_fd(&self) -> Result<(Message, Option<OwnedFd>), ChannelError> {
        // Peek at the datagram's length first: a buffer of exactly that size
        // costs less than zeroing the largest possible one, above all in a
        // freshly forked child, where each page written is a copy.
        let len = loop {
            match rustix::net::recv(
                &self.fd,
                &mut [0u8; 0][..],
                RecvFlags::PEEK | RecvFlags::TRUNC,
            ) {
                Err(rustix::io::Errno::INTR) => continue,
                other => break other.map_err(ChannelError::Receive)?.1,
            }
        };
        if len == 0 {
            return Err(ChannelError::Closed);
        }
        let mut buf = vec![0u8; len.min(MAX_MESSAGE)];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let n = loop {
            match rustix::net::recvmsg(
                &self.fd,
                &mut [IoSliceMut::new(&mut buf)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            ) {
                Err(rustix::io::Errno::INTR) => continue,
                other => break other.map_err(ChannelError::Receive)?.bytes,
            }
        };
        if n == 0 {
            return Err(ChannelError::Closed);
        }
        let mut fd = None;
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(mut fds) = msg {
                fd = fds.next();
            }
        }
        let msg = serde_json::from_slice(&buf[..n]).map_err(ChannelError::Malformed)?;
        Ok((msg, fd))
    }
}

/// Send `payload` over a unix socket with `fd` attached (SCM_RIGHTS): the
/// channel's messages, the pty master to a console socket, the seccomp
/// notification fd to its agent.
pub fn send_fd(
    socket: impl AsFd,
    payload: &[u8],
    fd: Option<BorrowedFd<'_>>,
) -> Result<(), rustix::io::Errno> {
    let fds: Vec<BorrowedFd<'_>> = fd.into_iter().collect();
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() {
        control.push(SendAncillaryMessage::ScmRights(&fds));
    }
    rustix::net::sendmsg(
        socket,
        &[IoSlice::new(payload)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    Ok(())
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
