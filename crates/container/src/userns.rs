//! User namespaces with given mappings, made for idmapped mounts: a child
//! is cloned into a new user namespace, its maps are written, the namespace
//! is opened through `/proc/PID/ns/user`, and the child is let go.

use std::os::fd::OwnedFd;

use init::idmap::Mappings;
use rustix::fs::{Mode, OFlags};
use rustix::process::{WaitId, WaitIdOptions};
use sys::clone::Forked;

use crate::error::{Error, Result};

/// A descriptor of a new user namespace mapped as `maps` says.
pub(crate) fn with_mappings(maps: &Mappings<'_>) -> Result<OwnedFd> {
    let (hold, release) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(Error::sys("pipe"))?;
    let (pid, pidfd) = match sys::clone::clone3(libc::CLONE_NEWUSER as u64, None)
        .map_err(Error::sys("clone3 a user namespace"))?
    {
        Forked::Child => {
            // Wait until the parent has opened the namespace (end-of-file
            // when it closes its end), then go.
            drop(release);
            let mut byte = [0u8; 1];
            let _ = rustix::io::read(&hold, &mut byte);
            sys::exec::exit_now(0)
        }
        Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    drop(hold);
    let pid = pid.as_raw_nonzero().to_string();
    let opened = crate::idmaps::write(&pid, maps.uid, maps.gid).and_then(|()| {
        let path = format!("/proc/{pid}/ns/user");
        rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(Error::sys(format!("open {path}")))
    });
    drop(release);
    let _ = rustix::process::waitid(
        WaitId::PidFd(std::os::fd::AsFd::as_fd(&pidfd)),
        WaitIdOptions::EXITED,
    );
    opened
}
