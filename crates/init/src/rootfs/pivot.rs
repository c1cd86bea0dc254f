//! Making the rootfs the process's root.

use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use rustix::mount::{MountPropagationFlags, UnmountFlags};

use super::rootfs_error;
use crate::error::InitError;

/// `pivot_root(".", ".")` inside the new root, then detach the old root
/// stacked on top of it. No directory for the old root is needed, so none
/// is left behind in the image.
pub(super) fn pivot_root(new_root: BorrowedFd<'_>) -> Result<(), InitError> {
    let old_root = rustix::fs::open(
        "/",
        rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| rootfs_error("open the old root", e))?;
    rustix::process::fchdir(new_root).map_err(|e| rootfs_error("chdir into the rootfs", e))?;
    rustix::process::pivot_root(".", ".").map_err(|e| rootfs_error("pivot_root", e))?;
    // "." is still the new root's directory (the old root is stacked on
    // it): step onto the old root itself, or what follows would change
    // the container's mounts and leave the old root's alone.
    rustix::process::fchdir(&old_root).map_err(|e| rootfs_error("chdir into the old root", e))?;
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

/// A container sharing the runtime's mount namespace: `chroot` into the
/// rootfs (there is no namespace of its own to pivot).
pub(super) fn chroot(new_root: BorrowedFd<'_>) -> Result<(), InitError> {
    rustix::process::fchdir(new_root).map_err(|e| rootfs_error("chdir into the rootfs", e))?;
    rustix::process::chroot(".").map_err(|e| rootfs_error("chroot", e))?;
    rustix::process::chdir("/").map_err(|e| rootfs_error("chdir /", e))
}

/// `--no-pivot`: move the rootfs mount over `/` and chroot into it. The old
/// root stays reachable to a process that can escape a chroot; that is the
/// documented price of the flag (needed only on ramdisk roots).
///
/// What is left of the host's tree in the namespace must not include a
/// procfs or sysfs: with a fully visible one anywhere in its mount
/// namespace, a process that makes a user namespace may mount a fresh,
/// unmasked proc or sys (the kernel's "mount too revealing" rule looks
/// for one). So every procfs and sysfs outside the rootfs is detached
/// first (or, where that fails, covered by an empty read-only tmpfs), as
/// runc does.
pub(super) fn move_root(new_root: BorrowedFd<'_>, rootfs: &Path) -> Result<(), InitError> {
    hide_host_proc_and_sys(rootfs)?;
    rustix::process::fchdir(new_root).map_err(|e| rootfs_error("chdir into the rootfs", e))?;
    rustix::mount::mount_move(".", "/").map_err(|e| rootfs_error("move the rootfs onto /", e))?;
    rustix::process::chroot(".").map_err(|e| rootfs_error("chroot", e))?;
    rustix::process::chdir("/").map_err(|e| rootfs_error("chdir /", e))
}

/// The mount points of every procfs and sysfs in this mount namespace
/// outside `rootfs`, deepest first.
fn host_proc_and_sys(rootfs: &Path) -> Result<Vec<PathBuf>, InitError> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| {
        rootfs_error(
            "read /proc/self/mountinfo",
            rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO),
        )
    })?;
    let mut found: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let sep = fields.iter().position(|f| *f == "-")?;
            let fstype = fields.get(sep + 1)?;
            let point = PathBuf::from(unescape(fields.get(4)?));
            (matches!(*fstype, "proc" | "sysfs") && !point.starts_with(rootfs)).then_some(point)
        })
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    Ok(found)
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(char::from(c));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn hide_host_proc_and_sys(rootfs: &Path) -> Result<(), InitError> {
    for point in host_proc_and_sys(rootfs)? {
        if rustix::mount::unmount(&point, UnmountFlags::DETACH).is_ok() {
            continue;
        }
        rustix::mount::mount(
            "tmpfs",
            &point,
            "tmpfs",
            rustix::mount::MountFlags::RDONLY,
            None,
        )
        .map_err(|e| rootfs_error(&format!("--no-pivot: hide the host's {point:?}"), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_paths_are_unescaped() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/odd\\x"), "/odd\\x");
    }
}
