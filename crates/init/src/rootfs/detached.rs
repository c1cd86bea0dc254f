//! Detached mounts, the new mount API's way: a filesystem made with
//! `fsopen`/`fsmount`, or a tree cloned with `open_tree`, configured while
//! it is attached nowhere, then attached with `move_mount` onto a
//! descriptor. What `mounts`, `cgroupfs`, `idmap` and `paths` build on.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::CWD;
use rustix::io::Errno as RawErrno;
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, OpenTreeFlags};
use sys::mount::MountAttr;

use crate::error::InitError;
use crate::mount_options::{Attrs, Bind, MountOptions};

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

/// Attach the detached mount `mnt` at `to_dir`/`to_path` (an empty path
/// means the descriptor itself).
pub(super) fn move_mount_onto(
    mnt: &OwnedFd,
    to_dir: impl AsFd,
    to_path: &Path,
) -> Result<(), rustix::io::Errno> {
    let mut flags = MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH;
    if to_path.as_os_str().is_empty() {
        flags |= MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH;
    }
    rustix::mount::move_mount(mnt, "", to_dir, to_path, flags)
}
