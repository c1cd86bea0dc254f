//! `clone3(2)`: create the container process with its namespaces in one call.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use rustix::io::Errno;
use rustix::process::Pid;

/// `CLONE_INTO_CGROUP` (the libc constant is an `i32` that overflows).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` from `<linux/sched.h>` (version 2, with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Which side of the fork we are on.
pub enum Forked {
    /// In the new process.
    Child,
    /// In the caller: the child's pid (in the caller's pid namespace) and a
    /// pidfd that refers to it for the rest of its life.
    Parent { pid: Pid, pidfd: OwnedFd },
}

/// Fork with `CLONE_PIDFD` plus `flags` (namespace flags, `CLONE_PARENT`),
/// delivering `SIGCHLD` to the parent when the child exits. With `cgroup`, the child starts life
/// inside that cgroup v2 directory (`CLONE_INTO_CGROUP`), so it never runs
/// in the runtime's own cgroup.
///
/// The caller must be single-threaded: the child is a copy of this one
/// thread and may then run ordinary Rust code (allocation included) because
/// no other thread can hold a lock at the moment of the fork.
pub fn clone3(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> Result<Forked, Errno> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        // With CLONE_PARENT the kernel takes the caller's own exit signal
        // and refuses another one.
        exit_signal: if flags & libc::CLONE_PARENT as u64 != 0 {
            0
        } else {
            libc::SIGCHLD as u64
        },
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: `args` is a valid `clone_args` of the size passed; no stack is
    // given, so the child continues on a copy of this stack exactly as with
    // fork(2). The runtime is single-threaded when it calls this (documented
    // contract above), so the child inherits no lock held by another thread.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        )),
        0 => Ok(Forked::Child),
        pid => {
            // SAFETY: the kernel stored a new, owned pidfd in `pidfd` because
            // CLONE_PIDFD was set and the call succeeded.
            let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
            let pid = i32::try_from(pid)
                .ok()
                .and_then(Pid::from_raw)
                .ok_or(Errno::INVAL)?;
            Ok(Forked::Parent { pid, pidfd })
        }
    }
}
