//! `seccomp(SECCOMP_SET_MODE_FILTER)`: install a classic-BPF filter with
//! the flags the config asks for, whatever the linked libseccomp knows.

use std::os::fd::{FromRawFd, OwnedFd};

use rustix::io::Errno;

pub const FLAG_LOG: u32 = 1 << 1;
pub const FLAG_SPEC_ALLOW: u32 = 1 << 2;
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;

/// Install `program` (an array of `struct sock_filter`, 8 bytes each) on
/// the calling thread. With `FLAG_NEW_LISTENER` the kernel returns the
/// user-notification descriptor.
pub fn set_mode_filter(program: &[u8], flags: u32) -> Result<Option<OwnedFd>, Errno> {
    if !program.len().is_multiple_of(8) {
        return Err(Errno::INVAL);
    }
    let len = u16::try_from(program.len() / 8).map_err(|_| Errno::TOOBIG)?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `len` complete `sock_filter` records in
    // `program`, which outlives the call; the kernel copies the filter and
    // keeps no reference to our memory.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        return Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ));
    }
    if flags & FLAG_NEW_LISTENER == 0 {
        return Ok(None);
    }
    let fd = libc::c_int::try_from(ret).map_err(|_| Errno::BADF)?;
    // SAFETY: with NEW_LISTENER the kernel returned a new descriptor that
    // nothing else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}
