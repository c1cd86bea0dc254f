//! Namespace file descriptors.

use std::os::fd::{AsFd, AsRawFd};

use rustix::io::Errno;

/// `NS_GET_NSTYPE` from `<linux/nsfs.h>`: `_IO(0xb7, 0x3)`.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// The `CLONE_NEW*` type of the namespace `fd` refers to; `EINVAL`/`ENOTTY`
/// when it is not a namespace file at all.
pub fn namespace_type(fd: impl AsFd) -> Result<i32, Errno> {
    // SAFETY: NS_GET_NSTYPE takes no argument and only returns an int; on a
    // descriptor that is not an nsfs file it fails without side effects.
    let ret = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), NS_GET_NSTYPE) };
    if ret < 0 {
        return Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ));
    }
    Ok(ret)
}

/// `unshare(2)` with namespace flags only (`CLONE_NEW*`): the caller moves
/// into new namespaces (for pid and time, its future children do).
pub fn unshare_namespaces(flags: u64) -> Result<(), Errno> {
    const NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
        | libc::CLONE_NEWCGROUP
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUSER
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWTIME) as u64;
    if flags & !NAMESPACE_FLAGS != 0 {
        return Err(Errno::INVAL);
    }
    let flags = u32::try_from(flags).map_err(|_| Errno::INVAL)?;
    // SAFETY: only namespace flags are passed (checked above); rustix marks
    // unshare unsafe for CLONE_FILES/CLONE_FS, which change what
    // descriptors and paths mean, and neither can be set here.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::from_bits_retain(flags)) }
}
