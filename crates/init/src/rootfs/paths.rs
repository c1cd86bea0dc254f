//! `linux.maskedPaths`, `linux.readonlyPaths` and `root.readonly`.

use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::FileType;
use rustix::mount::OpenTreeFlags;

use super::detached::move_mount_onto;
use super::detached::{attach, new_filesystem, readonly_attrs, set_attrs, Entry};
use super::Rootfs;
use crate::error::InitError;
use crate::mount_options::MountOptions;

/// Hide each path: a directory under an empty read-only tmpfs, a file
/// under `/dev/null`. A path that does not exist needs no mask.
pub(super) fn mask(rootfs: &Rootfs, paths: &[String]) -> Result<(), InitError> {
    let mut dev_null = None;
    for (i, path) in paths.iter().enumerate() {
        let field = format!("linux.maskedPaths[{i}]");
        let Some(target) = rootfs.resolve_if_exists(&field, Path::new(path))? else {
            continue;
        };
        let entry = Entry {
            field: field.clone(),
            kind: "tmpfs",
            source: "tmpfs",
            destination: Path::new(path),
        };
        let is_dir = rustix::fs::fstat(&target)
            .map_err(|e| entry.error("stat", e))?
            .st_mode
            & libc::S_IFMT
            == libc::S_IFDIR;
        if is_dir {
            let opts = MountOptions {
                attrs: readonly_attrs(),
                ..MountOptions::default()
            };
            let mnt = new_filesystem(&entry, "tmpfs", &opts)?;
            attach(&entry, &mnt, &target, &opts)?;
        } else {
            let null = match &dev_null {
                Some(h) => h,
                None => dev_null.insert(verified_dev_null(rootfs)?),
            };
            let entry = Entry {
                kind: "bind",
                source: "/dev/null",
                ..entry
            };
            let tree = rustix::mount::open_tree(
                null,
                "",
                OpenTreeFlags::OPEN_TREE_CLONE
                    | OpenTreeFlags::OPEN_TREE_CLOEXEC
                    | OpenTreeFlags::AT_EMPTY_PATH,
            )
            .map_err(|e| entry.error("open_tree", e))?;
            move_mount_onto(&tree, target.as_fd(), Path::new(""))
                .map_err(|e| entry.error("move_mount", e))?;
        }
    }
    Ok(())
}

/// The container's `/dev/null`, checked to be the real character device
/// 1:3. An image whose `/dev/null` is a symlink or another file would
/// otherwise turn every mask into a bind of that file (CVE-2025-31133).
fn verified_dev_null(rootfs: &Rootfs) -> Result<std::os::fd::OwnedFd, InitError> {
    let field = "linux.maskedPaths";
    let path = Path::new("/dev/null");
    let handle = rootfs
        .root
        .resolve_nofollow(path)
        .map_err(|e| rootfs.in_root_error(field, "resolve", path, e))?;
    let st = rustix::fs::fstat(&handle).map_err(|e| InitError::in_root(field, "stat", path, e))?;
    let ok = FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice
        && rustix::fs::major(st.st_rdev) == 1
        && rustix::fs::minor(st.st_rdev) == 3;
    if !ok {
        return Err(InitError::Config {
            field: field.into(),
            detail: "/dev/null in the container is not the null device (1:3); refusing to use it to mask paths".into(),
        });
    }
    Ok(handle)
}

/// Bind each path onto itself and make the bind (and everything below it)
/// read-only.
pub(super) fn make_readonly(rootfs: &Rootfs, paths: &[String]) -> Result<(), InitError> {
    for (i, path) in paths.iter().enumerate() {
        let field = format!("linux.readonlyPaths[{i}]");
        let Some(target) = rootfs.resolve_if_exists(&field, Path::new(path))? else {
            continue;
        };
        let entry = Entry {
            field: field.clone(),
            kind: "bind",
            source: path,
            destination: Path::new(path),
        };
        let tree = rustix::mount::open_tree(
            &target,
            "",
            OpenTreeFlags::OPEN_TREE_CLONE
                | OpenTreeFlags::OPEN_TREE_CLOEXEC
                | OpenTreeFlags::AT_EMPTY_PATH
                | OpenTreeFlags::AT_RECURSIVE,
        )
        .map_err(|e| entry.error("open_tree", e))?;
        set_attrs(&tree, &readonly_attrs(), true)
            .map_err(|e| entry.error("mount_setattr ro", e))?;
        move_mount_onto(&tree, target.as_fd(), Path::new(""))
            .map_err(|e| entry.error("move_mount", e))?;
    }
    Ok(())
}

/// `root.readonly`: the rootfs mount itself becomes read-only; mounts on
/// top of it keep their own flags, as with runc's remount of `/`.
pub(super) fn make_root_readonly(rootfs: &Rootfs) -> Result<(), InitError> {
    set_attrs(rootfs.root.as_fd(), &readonly_attrs(), false).map_err(|e| InitError::Rootfs {
        op: "root.readonly: make the rootfs read-only".into(),
        errno: e.into(),
    })
}
