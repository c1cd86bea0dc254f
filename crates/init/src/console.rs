//! `process.terminal`: a pty made in the container's own devpts, whose
//! master goes to the engine over the console socket (SCM_RIGHTS, with the
//! pty's name as payload, as runc sends it) and whose peer becomes the
//! process's controlling terminal and stdio.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::Process;
use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;
use rustix::termios::Winsize;

use crate::error::InitError;

fn err(op: &str) -> impl FnOnce(rustix::io::Errno) -> InitError + '_ {
    move |e| InitError::Process {
        op: format!("process.terminal: {op}"),
        errno: e.into(),
    }
}

/// Run after the pivot: `/dev/pts/ptmx` is then the container's devpts, and
/// the kernel's TIOCGPTPEER opens the peer from the master itself, so no
/// `/dev/pts/N` path in the image can redirect it (CVE-2025-52565).
pub(crate) fn setup(socket: &OwnedFd, process: &Process) -> Result<(), InitError> {
    let master = rustix::fs::open(
        "/dev/pts/ptmx",
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .map_err(err("open /dev/pts/ptmx"))?;
    if !sys::fs::is_on(&master, sys::fs::FsType::Devpts).map_err(err("fstatfs /dev/pts/ptmx"))? {
        return Err(InitError::Config {
            field: "process.terminal".into(),
            detail: "/dev/pts/ptmx is not on a devpts filesystem".into(),
        });
    }
    rustix::pty::unlockpt(&master).map_err(err("unlockpt"))?;
    let peer = rustix::pty::ioctl_tiocgptpeer(&master, OpenptFlags::RDWR | OpenptFlags::NOCTTY)
        .map_err(err("open the pty peer"))?;
    if let Some(size) = process.console_size() {
        let ws = Winsize {
            ws_row: u16::try_from(size.height()).unwrap_or(u16::MAX),
            ws_col: u16::try_from(size.width()).unwrap_or(u16::MAX),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&master, ws).map_err(err("set consoleSize"))?;
    }
    // The terminal belongs to the process's user, its group left as devpts
    // made it (tty, gid 5 in the default config), as runc leaves it. An id
    // this user namespace does not map cannot own it: left to root then.
    match rustix::fs::fchown(
        &peer,
        Some(rustix::process::Uid::from_raw(process.user().uid())),
        None,
    ) {
        Ok(()) | Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::PERM) => {}
        Err(e) => return Err(err("chown the terminal to process.user.uid")(e)),
    }
    let name = rustix::pty::ptsname(&master, Vec::new()).map_err(err("ptsname"))?;
    bind_dev_console(&peer)?;
    crate::protocol::send_fd(socket, name.as_bytes(), Some(master.as_fd()))
        .map_err(err("send the pty master to the console socket"))?;
    drop(master);
    make_controlling_terminal(peer)
}

/// `/dev/console` shows the container's own pty, as in runc. Skipped when
/// the image has no `/dev` to put it in.
fn bind_dev_console(peer: &OwnedFd) -> Result<(), InitError> {
    let console = Path::new("/dev/console");
    if !console.exists() {
        match rustix::fs::open(
            console,
            OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_bits_truncate(0o600),
        ) {
            Ok(_) => {}
            Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::ROFS) => return Ok(()),
            Err(e) => return Err(err("create /dev/console")(e)),
        }
    }
    let target = rustix::fs::open(
        console,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(err("open /dev/console"))?;
    let tree = rustix::mount::open_tree(
        peer,
        "",
        rustix::mount::OpenTreeFlags::OPEN_TREE_CLONE
            | rustix::mount::OpenTreeFlags::OPEN_TREE_CLOEXEC
            | rustix::mount::OpenTreeFlags::AT_EMPTY_PATH,
    )
    .map_err(err("clone the pty peer for /dev/console"))?;
    rustix::mount::move_mount(
        &tree,
        "",
        &target,
        "",
        rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH
            | rustix::mount::MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(err("bind the pty onto /dev/console"))
}

/// The peer as the controlling terminal of the process's session (made by
/// `become_process`), on stdin, stdout and stderr.
fn make_controlling_terminal(peer: OwnedFd) -> Result<(), InitError> {
    rustix::process::ioctl_tiocsctty(&peer)
        .map_err(err("make the pty the controlling terminal"))?;
    rustix::stdio::dup2_stdin(&peer).map_err(err("dup the pty onto stdin"))?;
    rustix::stdio::dup2_stdout(&peer).map_err(err("dup the pty onto stdout"))?;
    rustix::stdio::dup2_stderr(&peer).map_err(err("dup the pty onto stderr"))
}
