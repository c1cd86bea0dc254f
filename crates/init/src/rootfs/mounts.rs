//! `mounts[]`: each entry made as a detached mount (`fsopen`/`fsmount` for a
//! filesystem, `open_tree` for a bind), configured while detached, then
//! attached with `move_mount` onto a descriptor of its destination resolved
//! inside the rootfs.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;
use rustix::fs::CWD;
use rustix::io::Errno as RawErrno;
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, OpenTreeFlags};
use sys::mount::MountAttr;

use super::idmap::Prepared;
use super::{move_mount_onto, Rootfs};
use crate::error::InitError;
use crate::mount_options::{self, Attrs, Bind, MountOptions};

/// Names one `mounts[]` entry in errors.
pub(super) struct Entry<'a> {
    pub field: String,
    pub kind: &'a str,
    pub source: &'a str,
    pub destination: &'a Path,
}

impl Entry<'_> {
    pub fn error(&self, op: impl Into<String>, errno: RawErrno) -> InitError {
        self.error_with_hint(op, errno, None)
    }

    pub fn error_with_hint(
        &self,
        op: impl Into<String>,
        errno: RawErrno,
        hint: Option<String>,
    ) -> InitError {
        InitError::Mount {
            field: self.field.clone(),
            kind: self.kind.to_string(),
            source_path: self.source.to_string(),
            destination: self.destination.to_path_buf(),
            op: op.into(),
            errno: errno.into(),
            hint,
        }
    }
}

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
    let entry = Entry {
        field: format!("mounts[{index}]"),
        kind: "bind",
        source,
        destination: m.destination(),
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
    let entry = Entry {
        field: format!("mounts[{index}]"),
        kind,
        source,
        destination: m.destination(),
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
    let mnt = match new_filesystem(&entry, kind, &opts) {
        // In a user namespace that does not own the network namespace
        // (one joined by path), the kernel refuses a new sysfs: bind the
        // host's instead, as runc does.
        Err(InitError::Mount { errno, .. })
            if kind == "sysfs" && rootfs.in_userns && errno.0 == libc::EPERM =>
        {
            let tree = clone_tree(&entry, Path::new("/sys"), &{
                let mut o = opts.clone();
                o.bind = Some(crate::mount_options::Bind::Recursive);
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

/// Create a detached mount of a new `kind` filesystem with `opts`.
pub(super) fn new_filesystem(
    entry: &Entry<'_>,
    kind: &str,
    opts: &MountOptions,
) -> Result<OwnedFd, InitError> {
    let fs = rustix::mount::fsopen(kind, FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| {
        let hint = (e == RawErrno::NODEV)
            .then(|| format!("the kernel does not know filesystem type {kind:?}"));
        entry.error_with_hint("fsopen", e, hint)
    })?;
    let config_error = |op: String, e: RawErrno| entry.error_with_hint(op, e, kernel_log(&fs));
    if !entry.source.is_empty() {
        rustix::mount::fsconfig_set_string(&fs, "source", entry.source)
            .map_err(|e| config_error("fsconfig source".into(), e))?;
    }
    for flag in &opts.sb_flags {
        rustix::mount::fsconfig_set_flag(&fs, *flag)
            .map_err(|e| config_error(format!("fsconfig {flag}"), e))?;
    }
    for (key, value) in &opts.data {
        match value {
            Some(v) => rustix::mount::fsconfig_set_string(&fs, key.as_str(), v.as_str())
                .map_err(|e| config_error(format!("fsconfig {key}={v}"), e))?,
            None => rustix::mount::fsconfig_set_flag(&fs, key.as_str())
                .map_err(|e| config_error(format!("fsconfig {key}"), e))?,
        }
    }
    rustix::mount::fsconfig_create(&fs).map_err(|e| config_error("fsconfig create".into(), e))?;
    // A new filesystem has no submounts, so recursive attributes are simply
    // the mount's own.
    let attrs = opts.attrs.set | opts.recursive_attrs.set;
    rustix::mount::fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs)
        .map_err(|e| config_error("fsmount".into(), e))
}

/// The kernel explains most `fsconfig` failures in the filesystem context's
/// log (e.g. "tmpfs: Bad value for 'mode'"); read it for the error's hint.
fn kernel_log(fs: &OwnedFd) -> Option<String> {
    let mut buf = [0u8; 512];
    let n = rustix::io::read(fs, &mut buf).ok()?;
    let line = String::from_utf8_lossy(&buf[..n]).trim().to_string();
    (!line.is_empty()).then(|| line.trim_start_matches("e ").to_string())
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

/// A detached copy of `source` (and the mounts below it with `rbind`) with
/// the entry's attributes set.
pub(super) fn clone_tree(
    entry: &Entry<'_>,
    source: &Path,
    opts: &MountOptions,
) -> Result<OwnedFd, InitError> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if opts.bind == Some(Bind::Recursive) {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    let tree =
        rustix::mount::open_tree(CWD, source, flags).map_err(|e| entry.error("open_tree", e))?;
    set_attrs(&tree, &opts.attrs, false).map_err(|e| entry.error("mount_setattr", e))?;
    set_attrs(&tree, &opts.recursive_attrs, true)
        .map_err(|e| entry.error("mount_setattr (recursive)", e))?;
    Ok(tree)
}

/// A relative bind source is relative to the bundle, as in runc.
pub(super) fn bind_source(bundle: &Path, source: &str) -> PathBuf {
    let p = Path::new(source);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        bundle.join(p)
    }
}

/// `remount`: change the attributes of the mount already at the destination.
fn remount(rootfs: &Rootfs, entry: &Entry<'_>, opts: &MountOptions) -> Result<(), InitError> {
    let target = rootfs.resolve(&entry.field, entry.destination)?;
    set_attrs(&target, &opts.attrs, false).map_err(|e| entry.error("mount_setattr", e))?;
    set_attrs(&target, &opts.recursive_attrs, true)
        .map_err(|e| entry.error("mount_setattr (recursive)", e))
}

pub(super) fn set_attrs(mnt: impl AsFd, attrs: &Attrs, recursive: bool) -> Result<(), RawErrno> {
    if attrs.is_empty() {
        return Ok(());
    }
    let attr = MountAttr {
        attr_set: attrs.set.bits().into(),
        attr_clr: attrs.clear.bits().into(),
        ..MountAttr::default()
    };
    sys::mount::mount_setattr(mnt, c"", recursive, &attr)
}

/// Attach `mnt` on `target` and apply the entry's propagation to it.
pub(super) fn attach(
    entry: &Entry<'_>,
    mnt: &OwnedFd,
    target: &impl AsFd,
    opts: &MountOptions,
) -> Result<(), InitError> {
    move_mount_onto(mnt, target, Path::new("")).map_err(|e| entry.error("move_mount", e))?;
    if let Some(p) = opts.propagation {
        let attr = MountAttr {
            propagation: p.flag,
            ..MountAttr::default()
        };
        sys::mount::mount_setattr(mnt, c"", p.recursive, &attr)
            .map_err(|e| entry.error("set propagation", e))?;
    }
    Ok(())
}

/// Attributes for a read-only mount, used by masks and read-only paths.
pub(super) fn readonly_attrs() -> Attrs {
    Attrs {
        set: MountAttrFlags::MOUNT_ATTR_RDONLY,
        clear: MountAttrFlags::empty(),
    }
}
