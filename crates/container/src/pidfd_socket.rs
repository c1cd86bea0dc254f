//! `--pidfd-socket` (runc 1.2+): a pidfd of the container's init (create,
//! run) or of the exec'd process, sent over the Unix socket at the given
//! path with SCM_RIGHTS, as the console socket gets the pty master. An
//! engine that holds it can wait for and signal that very process, whose
//! pid can never be recycled under it.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use crate::error::{Error, Result};

pub(crate) fn send(path: &Path, pidfd: &OwnedFd) -> Result<()> {
    let socket = std::os::unix::net::UnixStream::connect(path)
        .map_err(Error::io("--pidfd-socket: connect to", path))?;
    init::protocol::send_fd(&socket, b"pidfd", Some(pidfd.as_fd())).map_err(Error::sys(format!(
        "--pidfd-socket: send the pidfd to {path:?}"
    )))
}
