//! The container's root filesystem, built inside its mount namespace.
//!
//! Every path inside the rootfs is resolved against a descriptor of the
//! rootfs mount with `openat2(RESOLVE_IN_ROOT)` (see `inroot`), and every
//! mount is made
//! through file descriptors with the new mount API, so a symlink in the
//! image (`/proc -> /`, `/dev -> /etc`) resolves inside the rootfs and can
//! never redirect a mount, a device node or a write onto the host.
//!
//! The steps, in order: make `/` a slave so nothing propagates to the host,
//! bind the rootfs onto itself, mount `mounts[]`, create `/dev`, the cwd,
//! write sysctls, mask and read-only paths, make the root read-only, then
//! `pivot_root` (or `MS_MOVE` + `chroot` with `--no-pivot`).
//!
//! Without a mount namespace of its own (`linux.namespaces` lists none, so
//! the container shares the runtime's, as the spec says), the mounts of
//! `mounts[]` are made in the runtime's namespace, under the rootfs, by
//! the same descriptor-based steps; nothing else changes there (no slave
//! `/`, no self-bind: the rootfs directory itself is the handle), and the
//! process is `chroot`ed, as runc does. What needs a namespace of its own
//! (masked and read-only paths, `root.readonly`, `rootfsPropagation`) is
//! refused at create; `delete` unmounts what was mounted.

mod cgroupfs;
mod copyup;
mod detached;
mod devices;
pub mod idmap;
mod inroot;
mod mounts;
mod paths;
mod pivot;
mod restore;
mod sysctl;

pub use devices::DEFAULT_DEVICES;
pub use restore::{is_bind, prepare_for_restore, resolved_destination};
pub use sysctl::key_path;

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use rustix::fs::{Mode, CWD};
use rustix::mount::{MountPropagationFlags, OpenTreeFlags};

use crate::error::InitError;

/// A handle on the rootfs mount, and what every step needs to know.
pub(crate) struct Rootfs {
    root: inroot::Root,
    /// Where the rootfs is on the host, for error messages.
    host_path: PathBuf,
    /// Inside a new user namespace: devices are bind-mounted, not created.
    in_userns: bool,
    /// In a cgroup namespace of its own: cgroup filesystems are mounted
    /// afresh rather than bound from the host.
    cgroupns: bool,
    /// The runtime bundle, against which relative bind sources resolve.
    bundle: PathBuf,
    /// `linux.mountLabel` (the host runs SELinux: checked at create).
    mount_label: Option<String>,
}

impl Rootfs {
    fn inside(&self, destination: &Path) -> PathBuf {
        destination_inside(&self.host_path, destination)
    }

    fn in_root_error(&self, field: &str, op: &str, path: &Path, e: rustix::io::Errno) -> InitError {
        InitError::InRoot {
            field: field.to_string(),
            op: op.to_string(),
            path: path.to_path_buf(),
            context: Some(format!("rootfs {:?}", self.host_path)),
            errno: e.into(),
        }
    }

    /// Resolve `path` inside the rootfs to an `O_PATH` descriptor,
    /// following symlinks only within the rootfs.
    fn resolve(&self, field: &str, path: &Path) -> Result<OwnedFd, InitError> {
        self.root
            .resolve(path)
            .map_err(|e| self.in_root_error(field, "resolve", path, e))
    }

    /// Like `resolve`, but `None` when the path does not exist.
    fn resolve_if_exists(&self, field: &str, path: &Path) -> Result<Option<OwnedFd>, InitError> {
        match self.root.resolve(path) {
            Ok(fd) => Ok(Some(fd)),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(self.in_root_error(field, "resolve", path, e)),
        }
    }

    /// Create the directory `path` (and its parents) inside the rootfs.
    fn mkdir_all(&self, field: &str, path: &Path) -> Result<OwnedFd, InitError> {
        self.root
            .mkdir_all(path, Mode::from_bits_truncate(0o755))
            .map_err(|e| self.in_root_error(field, "mkdir -p", path, e))
    }

    /// Resolve `path`, creating an empty file there if nothing exists yet:
    /// the mount point for a file bind mount or a device.
    fn ensure_file(&self, field: &str, path: &Path) -> Result<OwnedFd, InitError> {
        self.root
            .ensure_file(path, Mode::from_bits_truncate(0o644))
            .map_err(|e| self.in_root_error(field, "create", path, e))
    }

    /// The parent directory of `path`, created if needed, and its name.
    fn parent_of<'p>(
        &self,
        field: &str,
        path: &'p Path,
    ) -> Result<(OwnedFd, &'p std::ffi::OsStr), InitError> {
        self.root
            .parent_of(path)
            .map_err(|e| self.in_root_error(field, "mkdir -p the parent of", path, e))
    }
}

/// A mount destination as the rootfs sees it: one given with the
/// rootfs's host path in front (runc accepts those) has it taken off.
pub fn destination_inside(rootfs: &Path, destination: &Path) -> PathBuf {
    match destination.strip_prefix(rootfs) {
        Ok(rest) if destination.is_absolute() => Path::new("/").join(rest),
        _ => destination.to_path_buf(),
    }
}

/// What `prepare` needs from the caller.
pub(crate) struct RootfsConfig<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub in_userns: bool,
    pub cgroupns: bool,
    pub no_pivot: bool,
    /// The container has a mount namespace of its own.
    pub own_mount_ns: bool,
    /// Bind trees the runtime built (idmapped mounts).
    pub prepared: &'a [idmap::Prepared],
}

fn rootfs_error(op: &str, e: rustix::io::Errno) -> InitError {
    InitError::Rootfs {
        op: op.to_string(),
        errno: e.into(),
    }
}

/// Build the container's filesystem and make it the process's root.
/// `before_pivot` runs once the mounts, devices and cwd exist, before
/// sysctls, masks and the pivot: where the create hooks belong.
pub(crate) fn prepare(
    cfg: &RootfsConfig<'_>,
    before_pivot: &dyn Fn() -> Result<(), InitError>,
) -> Result<(), InitError> {
    let linux = cfg.spec.linux().as_ref();
    let propagation = linux.and_then(|l| l.rootfs_propagation().as_deref());
    let rootfs = if cfg.own_mount_ns {
        isolate_from_host(propagation, cfg.rootfs)?;
        bind_rootfs(cfg)?
    } else {
        open_rootfs(cfg)?
    };
    let readonly_later = mounts::mount_all(
        &rootfs,
        cfg.spec.mounts().as_deref().unwrap_or_default(),
        cfg.prepared,
    )?;
    crate::timeline::mark("rootfs and mounts");
    devices::setup(&rootfs, cfg.spec)?;
    if let Some(process) = cfg.spec.process() {
        rootfs.mkdir_all("process.cwd", process.cwd())?;
    }
    mounts::make_readonly_now(readonly_later)?;
    crate::timeline::mark("devices");
    before_pivot()?;
    crate::timeline::mark("createRuntime hooks");
    if let Some(linux) = linux {
        if let Some(sysctl) = linux.sysctl() {
            sysctl::write_all(&rootfs, sysctl)?;
        }
        paths::mask(&rootfs, linux.masked_paths().as_deref().unwrap_or_default())?;
        paths::make_readonly(
            &rootfs,
            linux.readonly_paths().as_deref().unwrap_or_default(),
        )?;
    }
    if cfg
        .spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        paths::make_root_readonly(&rootfs)?;
    }
    crate::timeline::mark("sysctls, masked and read-only paths");
    if !cfg.own_mount_ns {
        pivot::chroot(rootfs.root.as_fd())?;
    } else if cfg.no_pivot {
        pivot::move_root(rootfs.root.as_fd(), cfg.rootfs)?;
    } else {
        pivot::pivot_root(rootfs.root.as_fd())?;
    }
    crate::timeline::mark("pivot_root");
    if cfg.own_mount_ns {
        reopen_dev_null()?;
    }
    if let Some(flags) = propagation.map(parse_root_propagation).transpose()? {
        // Applied to the new "/" after the pivot, as runc does: before it,
        // "/" was the host's root.
        rustix::mount::mount_change("/", flags)
            .map_err(|e| rootfs_error("set linux.rootfsPropagation on /", e))?;
    }
    Ok(())
}

/// Standard descriptors on the host's `/dev/null` (an engine's detached
/// container gets it as stdin) are replaced by the container's own, as
/// runc does: a file of a mount outside the container is one CRIU cannot
/// checkpoint, and the host's device node has no business in the
/// container. Runs after the pivot, so `/dev/null` is the container's
/// (checked to be the null device; anything else is left alone). A bind
/// of the host's node (in a user namespace) is the same inode on another
/// mount: every null-device descriptor is replaced.
fn reopen_dev_null() -> Result<(), InitError> {
    let null_device = |st: &rustix::fs::Stat| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::CharacterDevice
            && rustix::fs::major(st.st_rdev) == 1
            && rustix::fs::minor(st.st_rdev) == 3
    };
    let Ok(ours) = rustix::fs::open(
        "/dev/null",
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return Ok(());
    };
    let our_stat = rustix::fs::fstat(&ours).map_err(|e| rootfs_error("stat /dev/null", e))?;
    if !null_device(&our_stat) {
        return Ok(());
    }
    let stdio = [
        rustix::stdio::stdin(),
        rustix::stdio::stdout(),
        rustix::stdio::stderr(),
    ];
    for (i, fd) in stdio.into_iter().enumerate() {
        let Ok(st) = rustix::fs::fstat(fd) else {
            continue;
        };
        if !null_device(&st) {
            continue;
        }
        let done = match i {
            0 => rustix::stdio::dup2_stdin(&ours),
            1 => rustix::stdio::dup2_stdout(&ours),
            _ => rustix::stdio::dup2_stderr(&ours),
        };
        done.map_err(|e| rootfs_error("reopen /dev/null on a standard descriptor", e))?;
    }
    Ok(())
}

fn parse_root_propagation(value: &str) -> Result<MountPropagationFlags, InitError> {
    use MountPropagationFlags as P;
    Ok(match value {
        "private" => P::PRIVATE,
        "rprivate" => P::PRIVATE | P::REC,
        "shared" => P::SHARED,
        "rshared" => P::SHARED | P::REC,
        "slave" => P::DOWNSTREAM,
        "rslave" => P::DOWNSTREAM | P::REC,
        "unbindable" => P::UNBINDABLE,
        "runbindable" => P::UNBINDABLE | P::REC,
        other => {
            return Err(InitError::Config {
                field: "linux.rootfsPropagation".into(),
                detail: format!("unknown propagation {other:?}"),
            })
        }
    })
}

/// Cut propagation from the host: every mount becomes a slave (or private,
/// when asked), so mounts made here never appear on the host while host
/// mounts made later still may.
///
/// With a shared `rootfsPropagation` (what Kubernetes asks for with a
/// `Bidirectional` volume), the tree stays shared instead, as in runc, so
/// that a volume bound with `rshared` is a peer of the host's mount and
/// what the container mounts under it reaches the host. Only the mount
/// holding the rootfs is made private, so that the rootfs and everything
/// under it (proc, dev, ...) stay off the host, and `pivot_root`, which
/// refuses a shared parent, works.
fn isolate_from_host(propagation: Option<&str>, rootfs: &Path) -> Result<(), InitError> {
    use MountPropagationFlags as P;
    let (flags, shared) = match propagation {
        Some("private") | Some("rprivate") => (P::PRIVATE | P::REC, false),
        Some("shared") | Some("rshared") => (P::SHARED | P::REC, true),
        _ => (P::DOWNSTREAM | P::REC, false),
    };
    rustix::mount::mount_change("/", flags)
        .map_err(|e| rootfs_error("set the propagation of /", e))?;
    if shared {
        make_holding_mount_private(rootfs)?;
    }
    Ok(())
}

/// Make the mount holding `path` (itself, if it is a mount point, else
/// the nearest one above) private, through descriptors.
fn make_holding_mount_private(path: &Path) -> Result<(), InitError> {
    let private = sys::mount::MountAttr {
        propagation: libc::MS_PRIVATE,
        ..sys::mount::MountAttr::default()
    };
    let mut dir = rustix::fs::open(
        path,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| rootfs_error(&format!("root.path: open {path:?}"), e))?;
    loop {
        match sys::mount::mount_setattr(&dir, c"", false, &private) {
            Ok(()) => return Ok(()),
            // Not a mount point: one level up ("/" always is one).
            Err(rustix::io::Errno::INVAL) => {
                dir = rustix::fs::openat(
                    &dir,
                    "..",
                    rustix::fs::OFlags::PATH
                        | rustix::fs::OFlags::DIRECTORY
                        | rustix::fs::OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| rootfs_error("open the parent of the rootfs", e))?;
            }
            Err(e) => return Err(rootfs_error("make the mount holding the rootfs private", e)),
        }
    }
}

/// The rootfs directory itself as the handle, for a container sharing the
/// runtime's mount namespace (nothing is mounted for it there).
fn open_rootfs(cfg: &RootfsConfig<'_>) -> Result<Rootfs, InitError> {
    let dir = rustix::fs::open(
        cfg.rootfs,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| rootfs_error(&format!("root.path: open {:?}", cfg.rootfs), e))?;
    Ok(rootfs_handle(cfg, dir))
}

fn rootfs_handle(cfg: &RootfsConfig<'_>, root: OwnedFd) -> Rootfs {
    Rootfs {
        root: inroot::Root::new(root),
        host_path: cfg.rootfs.to_path_buf(),
        in_userns: cfg.in_userns,
        cgroupns: cfg.cgroupns,
        bundle: cfg.bundle.to_path_buf(),
        mount_label: cfg
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.mount_label().clone())
            .filter(|l| !l.is_empty()),
    }
}

/// Bind the rootfs onto itself so it is a mount point (`pivot_root` needs
/// one), and keep the resulting mount as the handle every later step
/// resolves paths against.
fn bind_rootfs(cfg: &RootfsConfig<'_>) -> Result<Rootfs, InitError> {
    let tree = rustix::mount::open_tree(
        CWD,
        cfg.rootfs,
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_RECURSIVE,
    )
    .map_err(|e| rootfs_error(&format!("root.path: open_tree {:?}", cfg.rootfs), e))?;
    detached::move_mount_onto(&tree, CWD, cfg.rootfs)
        .map_err(|e| rootfs_error(&format!("root.path: bind {:?} onto itself", cfg.rootfs), e))?;
    Ok(rootfs_handle(cfg, tree))
}
