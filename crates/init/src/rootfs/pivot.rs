//! Making the rootfs the process's root.

use std::os::fd::BorrowedFd;

use rustix::mount::{MountPropagationFlags, UnmountFlags};

use super::rootfs_error;
use crate::error::InitError;

/// `pivot_root(".", ".")` inside the new root, then detach the old root
/// stacked on top of it. No directory for the old root is needed, so none
/// is left behind in the image.
pub(super) fn pivot_root(new_root: BorrowedFd<'_>) -> Result<(), InitError> {
    rustix::process::fchdir(new_root).map_err(|e| rootfs_error("chdir into the rootfs", e))?;
    rustix::process::pivot_root(".", ".").map_err(|e| rootfs_error("pivot_root", e))?;
    // The old root may still share propagation with the host through a
    // bind; make it a slave first so its unmount never reaches the host.
    rustix::mount::mount_change(
        ".",
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )
    .map_err(|e| rootfs_error("make the old root a slave", e))?;
    rustix::mount::unmount(".", UnmountFlags::DETACH)
        .map_err(|e| rootfs_error("detach the old root", e))?;
    rustix::process::chdir("/").map_err(|e| rootfs_error("chdir /", e))
}

/// `--no-pivot`: move the rootfs mount over `/` and chroot into it. The old
/// root stays reachable to a process that can escape a chroot; that is the
/// documented price of the flag (needed only on ramdisk roots).
pub(super) fn move_root(new_root: BorrowedFd<'_>) -> Result<(), InitError> {
    rustix::process::fchdir(new_root).map_err(|e| rootfs_error("chdir into the rootfs", e))?;
    rustix::mount::mount_move(".", "/").map_err(|e| rootfs_error("move the rootfs onto /", e))?;
    rustix::process::chroot(".").map_err(|e| rootfs_error("chroot", e))?;
    rustix::process::chdir("/").map_err(|e| rootfs_error("chdir /", e))
}
