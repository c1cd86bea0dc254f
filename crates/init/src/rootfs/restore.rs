//! The rootfs for a CRIU restore. CRIU rebuilds the container's mounts
//! from its images on top of a root it is given, and needs each mount
//! point to exist there: in the rootfs, or in the source of a bind mount
//! for a mount nested in it (runc#2748). The caller runs this in a mount
//! namespace of its own (the CRIU child's), so nothing here reaches the
//! host; paths are resolved inside the rootfs as at create.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use rustix::fs::{Mode, OFlags, CWD};
use rustix::mount::{MountPropagationFlags, OpenTreeFlags, UnmountFlags};

use super::detached::{bind_source, move_mount_onto, Entry};
use super::{inroot, Rootfs};
use crate::error::InitError;

/// Make every mount point of `mounts[]` (cgroup mounts and those on a
/// tmpfs, which CRIU restores whole, aside), then bind the rootfs onto
/// `criu_root`: the root CRIU restores onto must be a mount point of its
/// own.
pub fn prepare_for_restore(
    spec: &Spec,
    bundle: &Path,
    rootfs_path: &Path,
    criu_root: &Path,
) -> Result<(), InitError> {
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )
    .map_err(|e| super::rootfs_error("make / a slave for the restore", e))?;
    let handle = rustix::fs::open(
        rootfs_path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| super::rootfs_error(&format!("open the rootfs {rootfs_path:?}"), e))?;
    let rootfs = Rootfs {
        root: inroot::Root::new(handle),
        host_path: rootfs_path.to_path_buf(),
        in_userns: false,
        cgroupns: false,
        bundle: bundle.to_path_buf(),
        mount_label: None,
    };
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    let tmpfs: Vec<PathBuf> = mounts
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| rootfs.inside(m.destination()))
        .collect();
    let mut bound = Vec::new();
    let made = (|| {
        for (i, m) in mounts.iter().enumerate() {
            let destination = rootfs.inside(m.destination());
            let on_tmpfs = tmpfs
                .iter()
                .any(|t| destination != *t && destination.starts_with(t));
            if m.typ().as_deref() == Some("cgroup") || on_tmpfs {
                continue;
            }
            let field = format!("mounts[{i}]");
            if !is_bind(m) {
                rootfs.mkdir_all(&field, &destination)?;
                continue;
            }
            let source = m.source().as_ref().and_then(|s| s.to_str()).unwrap_or("");
            let entry = Entry {
                field: field.clone(),
                kind: "bind",
                source,
                destination: &destination,
            };
            // Bound for now, so that the mount points of later mounts
            // nested in it are made in its source, as create made them.
            let tree = rustix::mount::open_tree(
                CWD,
                bind_source(&rootfs.bundle, source),
                OpenTreeFlags::OPEN_TREE_CLONE
                    | OpenTreeFlags::OPEN_TREE_CLOEXEC
                    | OpenTreeFlags::AT_RECURSIVE,
            )
            .map_err(|e| entry.error("open_tree", e))?;
            let st = rustix::fs::fstat(&tree).map_err(|e| entry.error("stat source", e))?;
            let target = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                rootfs.mkdir_all(&field, &destination)?
            } else {
                rootfs.ensure_file(&field, &destination)?
            };
            move_mount_onto(&tree, target.as_fd(), Path::new(""))
                .map_err(|e| entry.error("move_mount", e))?;
            bound.push(tree);
        }
        Ok::<(), InitError>(())
    })();
    // On error the namespace, helper binds and all, goes with the child.
    made?;
    // The binds go again before CRIU looks: it mounts them itself.
    for tree in bound.iter().rev() {
        let path = format!("/proc/self/fd/{}", tree.as_raw_fd());
        rustix::mount::unmount(path.as_str(), UnmountFlags::DETACH)
            .map_err(|e| super::rootfs_error("unmount a mount point's helper bind", e))?;
    }
    let tree = rustix::mount::open_tree(
        CWD,
        rootfs_path,
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_RECURSIVE,
    )
    .map_err(|e| super::rootfs_error(&format!("open_tree the rootfs {rootfs_path:?}"), e))?;
    move_mount_onto(&tree, CWD, criu_root)
        .map_err(|e| super::rootfs_error(&format!("bind the rootfs onto {criu_root:?}"), e))
}

/// Whether a `mounts[]` entry is a bind mount (by its type or options).
pub fn is_bind(m: &oci_spec::runtime::Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|o| o == "bind" || o == "rbind")
}

/// `destination` as it is inside the root `root_dir` (a rootfs, or a
/// process's `/proc/PID/root`): symlinks on the way resolved inside it,
/// as the kernel reports the mount there. A path that does not resolve
/// is returned as given.
pub fn resolved_destination(root_dir: &Path, destination: &Path) -> PathBuf {
    let resolved = (|| {
        let handle = rustix::fs::open(
            root_dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let root_real = std::fs::read_link(format!("/proc/self/fd/{}", handle.as_raw_fd())).ok()?;
        let root = inroot::Root::new(handle);
        let fd: OwnedFd = root.resolve(destination).ok()?;
        let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
        let inside = real.strip_prefix(&root_real).ok()?;
        Some(Path::new("/").join(inside))
    })();
    resolved.unwrap_or_else(|| destination.to_path_buf())
}
