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

/// `unshare(CLONE_NEWTIME)`: the caller's future children start in a new
/// time namespace, whose offsets may be written until the first one exists.
pub fn unshare_time_for_children() -> Result<(), Errno> {
    // SAFETY: rustix marks unshare unsafe because CLONE_FILES/CLONE_FS can
    // invalidate assumptions about shared descriptor tables; CLONE_NEWTIME
    // changes neither descriptors nor memory, only the namespace of children.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWTIME) }
}
