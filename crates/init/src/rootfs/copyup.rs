//! `tmpcopyup`: fill a new, still detached tmpfs with a copy of the
//! directory it will cover (what runc does for podman's `--tmpfs` and
//! `--read-only` mounts). Everything is reached through descriptors below
//! the destination, which was resolved inside the rootfs: a symlink in the
//! image is copied as a symlink, never followed.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// Copy the contents of directory `from` (an O_PATH descriptor is fine)
/// into directory `to`, with modes and owners.
pub(super) fn copy_dir(from: impl AsFd, to: impl AsFd) -> Result<(), Errno> {
    let dir = rustix::fs::openat(
        from,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    copy_entries(&dir, to.as_fd())
}

fn copy_entries(from: &OwnedFd, to: std::os::fd::BorrowedFd<'_>) -> Result<(), Errno> {
    let names: Vec<std::ffi::CString> = rustix::fs::Dir::read_from(from)?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in names {
        let st = rustix::fs::statat(from, name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW)?;
        let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
        let (uid, gid) = (
            rustix::process::Uid::from_raw(st.st_uid),
            rustix::process::Gid::from_raw(st.st_gid),
        );
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                rustix::fs::mkdirat(to, name.as_c_str(), mode)?;
                let sub_from = open_dir(from, &name)?;
                let sub_to = open_dir(to, &name)?;
                copy_entries(&sub_from, sub_to.as_fd())?;
                rustix::fs::fchown(&sub_to, Some(uid), Some(gid))?;
                rustix::fs::fchmod(&sub_to, mode)?;
            }
            FileType::RegularFile => {
                let src = rustix::fs::openat(
                    from,
                    name.as_c_str(),
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                let dst = rustix::fs::openat(
                    to,
                    name.as_c_str(),
                    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
                    mode,
                )?;
                let (mut src, mut dst) = (std::fs::File::from(src), std::fs::File::from(dst));
                std::io::copy(&mut src, &mut dst)
                    .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
                rustix::fs::fchown(&dst, Some(uid), Some(gid))?;
                rustix::fs::fchmod(&dst, mode)?;
            }
            kind @ (FileType::Symlink
            | FileType::Fifo
            | FileType::CharacterDevice
            | FileType::BlockDevice) => {
                if kind == FileType::Symlink {
                    let target = rustix::fs::readlinkat(from, name.as_c_str(), Vec::new())?;
                    rustix::fs::symlinkat(target.as_c_str(), to, name.as_c_str())?;
                } else {
                    rustix::fs::mknodat(to, name.as_c_str(), kind, mode, st.st_rdev)?;
                }
                let nofollow = AtFlags::SYMLINK_NOFOLLOW;
                rustix::fs::chownat(to, name.as_c_str(), Some(uid), Some(gid), nofollow)?;
            }
            // Sockets belong to a process that is not there any more.
            _ => {}
        }
    }
    Ok(())
}

fn open_dir(at: impl AsFd, name: &std::ffi::CStr) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        at,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}
