//! `mounts[]`: each entry made as a detached mount (`fsopen`/`fsmount` for a
//! filesystem, `open_tree` for a bind), configured while detached, then
//! attached with `move_mount` onto a descriptor of its destination resolved
//! inside the rootfs.

use std::os::fd::OwnedFd;
use std::path::Path;

use oci_spec::runtime::Mount;
use rustix::mount::MountAttrFlags;

use super::detached::{
    attach, bind_source, clone_tree, new_filesystem, readonly_attrs, set_attrs, Entry,
};
use super::idmap::Prepared;
use super::Rootfs;
use crate::error::InitError;
use crate::mount_options::{self, Bind, MountOptions};

/// Mount `mounts[]`. A read-only tmpfs (a read-only `/dev`, say) is made
/// writable and returned, to be made read-only once everything that goes
/// below it (nested mounts, device nodes) is in place, as runc does.
pub(super) fn mount_all(
    rootfs: &Rootfs,
    mounts: &[Mount],
    prepared: &[Prepared],
) -> Result<Vec<ReadonlyLater>, InitError> {
    let mut later = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        match prepared.iter().find(|p| p.index == i) {
            Some(p) => attach_prepared(rootfs, i, m, &p.tree)?,
            None => later.extend(mount_one(rootfs, i, m)?),
        }
    }
    Ok(later)
}

/// A mount to make read-only at the end of the rootfs setup.
pub(super) struct ReadonlyLater {
    field: String,
    mnt: OwnedFd,
}

/// Make the deferred read-only mounts read-only.
pub(super) fn make_readonly_now(later: Vec<ReadonlyLater>) -> Result<(), InitError> {
    for l in later {
        set_attrs(&l.mnt, &readonly_attrs(), false).map_err(|e| InitError::Rootfs {
            op: format!("{}: make the tmpfs read-only", l.field),
            errno: e.into(),
        })?;
    }
    Ok(())
}

/// A bind tree the runtime built (an idmapped mount): only attach it.
fn attach_prepared(
    rootfs: &Rootfs,
    index: usize,
    m: &Mount,
    tree: &OwnedFd,
) -> Result<(), InitError> {
    let opts = mount_options::parse(m.options().as_deref().unwrap_or_default());
    let source = m.source().as_ref().and_then(|s| s.to_str()).unwrap_or("");
    let destination = rootfs.inside(m.destination());
    let entry = Entry {
        field: format!("mounts[{index}]"),
        kind: "bind",
        source,
        destination: &destination,
    };
    let target = bind_target(rootfs, &entry, tree)?;
    attach(&entry, tree, &target, &opts)
}

/// Where a bind tree goes: a directory, or a file for a file source.
fn bind_target(rootfs: &Rootfs, entry: &Entry<'_>, tree: &OwnedFd) -> Result<OwnedFd, InitError> {
    let st = rustix::fs::fstat(tree).map_err(|e| entry.error("stat source", e))?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        rootfs.mkdir_all(&entry.field, entry.destination)
    } else {
        rootfs.ensure_file(&entry.field, entry.destination)
    }
}

fn mount_one(rootfs: &Rootfs, index: usize, m: &Mount) -> Result<Option<ReadonlyLater>, InitError> {
    let opts = mount_options::parse(m.options().as_deref().unwrap_or_default());
    let kind = m.typ().as_deref().unwrap_or("");
    let source = m.source().as_ref().and_then(|s| s.to_str()).unwrap_or("");
    let destination = rootfs.inside(m.destination());
    let entry = Entry {
        field: format!("mounts[{index}]"),
        kind,
        source,
        destination: &destination,
    };
    if opts.remount {
        return remount(rootfs, &entry, &opts).map(|()| None);
    }
    if kind == "bind" || opts.bind.is_some() {
        return bind(rootfs, &entry, &opts).map(|()| None);
    }
    if kind == "cgroup" {
        return super::cgroupfs::mount(rootfs, &entry, &opts).map(|()| None);
    }
    let mut opts = opts;
    let readonly_later =
        kind == "tmpfs" && opts.attrs.set.contains(MountAttrFlags::MOUNT_ATTR_RDONLY);
    if readonly_later {
        opts.attrs.set.remove(MountAttrFlags::MOUNT_ATTR_RDONLY);
    }
    if let Some(label) = rootfs
        .mount_label
        .as_deref()
        .filter(|_| kind != "proc" && kind != "sysfs")
    {
        // linux.mountLabel: the SELinux context of the files of a new
        // filesystem (not procfs or sysfs, whose labels the kernel sets).
        opts.data
            .push(("context".into(), Some(format!("\"{label}\""))));
    }
    if kind == "proc" || kind == "sysfs" {
        ordinary_directory(rootfs, &entry)?;
    }
    if kind == "tmpfs" && !opts.data.iter().any(|(k, _)| k == "mode") {
        // As runc: a tmpfs on a directory the image has takes its mode
        // (the kernel's default, 1777, is for one crust makes).
        if let Some(dir) = rootfs.resolve_if_exists(&entry.field, entry.destination)? {
            let st = rustix::fs::fstat(&dir).map_err(|e| entry.error("stat", e))?;
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                opts.data
                    .push(("mode".into(), Some(format!("{:o}", st.st_mode & 0o7777))));
            }
        }
    }
    let mnt = match new_filesystem(&entry, kind, &opts) {
        // In a user namespace that does not own the network namespace
        // (one joined by path), the kernel refuses a new sysfs: bind the
        // host's instead, as runc does.
        Err(InitError::Mount { errno, .. })
            if kind == "sysfs" && rootfs.in_userns && errno.0 == libc::EPERM =>
        {
            let tree = clone_tree(&entry, Path::new("/sys"), &{
                let mut o = opts.clone();
                o.bind = Some(Bind::Recursive);
                o
            })?;
            let target = rootfs.mkdir_all(&entry.field, entry.destination)?;
            attach(&entry, &tree, &target, &opts)?;
            return Ok(None);
        }
        other => other?,
    };
    let target = rootfs.mkdir_all(&entry.field, entry.destination)?;
    if opts.tmpcopyup && kind == "tmpfs" {
        super::copyup::copy_dir(&target, &mnt)
            .map_err(|e| entry.error("tmpcopyup: copy the image's files into the tmpfs", e))?;
    }
    attach(&entry, &mnt, &target, &opts)?;
    Ok(readonly_later.then(|| ReadonlyLater {
        field: entry.field.clone(),
        mnt,
    }))
}

/// procfs and sysfs go on an ordinary directory, as runc requires: an
/// image whose /proc is a symlink (even to itself) would otherwise have
/// them mounted wherever the link leads, where masks and checks that name
/// /proc do not look.
fn ordinary_directory(rootfs: &Rootfs, entry: &Entry<'_>) -> Result<(), InitError> {
    let (parent, name) = rootfs.parent_of(&entry.field, entry.destination)?;
    match rustix::fs::statat(&parent, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
        Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(entry.error("lstat", e)),
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => Ok(()),
        Ok(_) => Err(InitError::Config {
            field: format!("{}.destination", entry.field),
            detail: format!(
                "{:?} in the rootfs is not an ordinary directory (a symlink?): filesystem {:?} must be mounted on one",
                entry.destination, entry.kind
            ),
        }),
    }
}

/// `bind`/`rbind`: clone the source tree, set its attributes while it is
/// still detached, then attach it. Filesystem data (`mode=755`, ...)
/// means nothing to a bind mount and is ignored, as mount(2) and runc
/// ignore it.
fn bind(rootfs: &Rootfs, entry: &Entry<'_>, opts: &MountOptions) -> Result<(), InitError> {
    let tree = clone_tree(entry, &bind_source(&rootfs.bundle, entry.source), opts)?;
    let target = bind_target(rootfs, entry, &tree)?;
    attach(entry, &tree, &target, opts)
}

/// `remount`: change the attributes of the mount already at the destination.
fn remount(rootfs: &Rootfs, entry: &Entry<'_>, opts: &MountOptions) -> Result<(), InitError> {
    let target = rootfs.resolve(&entry.field, entry.destination)?;
    set_attrs(&target, &opts.attrs, false).map_err(|e| entry.error("mount_setattr", e))?;
    set_attrs(&target, &opts.recursive_attrs, true)
        .map_err(|e| entry.error("mount_setattr (recursive)", e))
}
