//! `/dev`: the default devices every container gets, `linux.devices`, and
//! the standard symlinks. Nodes are created with `mknodat` in a directory
//! resolved inside the rootfs, or bind-mounted from the host inside a user
//! namespace (where mknod is not allowed).

use std::os::fd::AsFd;
use std::path::Path;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Spec};
use rustix::fs::{FileType, Mode, CWD};
use rustix::mount::OpenTreeFlags;

use super::detached::move_mount_onto;
use super::Rootfs;
use crate::error::InitError;

/// The devices runc creates in every container: (path, major, minor).
pub const DEFAULT_DEVICES: [(&str, u32, u32); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

const SYMLINKS: [(&str, &str); 5] = [
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
    ("/dev/ptmx", "pts/ptmx"),
];

/// One node to create.
struct Node<'a> {
    field: String,
    path: &'a Path,
    kind: FileType,
    major: u32,
    minor: u32,
    mode: u32,
    uid: u32,
    gid: u32,
}

pub(super) fn setup(rootfs: &Rootfs, spec: &Spec) -> Result<(), InitError> {
    // A /dev bind-mounted from elsewhere is taken as it is, as in runc.
    let dev_is_bound = spec.mounts().iter().flatten().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind"))
    });
    if dev_is_bound {
        return Ok(());
    }
    let configured = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    let configured: &[LinuxDevice] = configured.map(|d| d.as_slice()).unwrap_or_default();
    let defaults = DEFAULT_DEVICES
        .iter()
        .filter(|(path, _, _)| !configured.iter().any(|d| d.path() == Path::new(path)))
        .map(|&(path, major, minor)| Node {
            field: "default devices".into(),
            path: Path::new(path),
            kind: FileType::CharacterDevice,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        });
    let from_config = configured.iter().enumerate().map(|(i, d)| Node {
        field: format!("linux.devices[{i}]"),
        path: d.path(),
        kind: file_type(d.typ()),
        major: u32::try_from(d.major()).unwrap_or(0),
        minor: u32::try_from(d.minor()).unwrap_or(0),
        mode: d.file_mode().unwrap_or(0o666),
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    });
    for node in defaults.chain(from_config) {
        create(rootfs, &node)?;
    }
    for (link, target) in SYMLINKS {
        symlink(rootfs, Path::new(link), Path::new(target))?;
    }
    // Where the terminal goes later, made while /dev is still writable
    // (a read-only /dev becomes so at the end of the setup).
    if spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false)
    {
        rootfs.ensure_file("process.terminal", Path::new("/dev/console"))?;
    }
    Ok(())
}

fn file_type(t: LinuxDeviceType) -> FileType {
    match t {
        LinuxDeviceType::B => FileType::BlockDevice,
        LinuxDeviceType::P => FileType::Fifo,
        _ => FileType::CharacterDevice,
    }
}

fn create(rootfs: &Rootfs, node: &Node<'_>) -> Result<(), InitError> {
    if rootfs.in_userns {
        return bind_from_host(rootfs, node);
    }
    let (parent, name) = rootfs.parent_of(&node.field, node.path)?;
    let err = |op: &str, e| InitError::in_root(&node.field, op, node.path, e);
    // A node left by the image (or an earlier entry) is replaced, so the
    // container gets exactly the device the config asks for.
    match rustix::fs::unlinkat(&parent, name, rustix::fs::AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(err("unlink", e)),
    }
    let dev = rustix::fs::makedev(node.major, node.minor);
    rustix::fs::mknodat(
        &parent,
        name,
        node.kind,
        Mode::from_bits_truncate(node.mode),
        dev,
    )
    .map_err(|e| err("mknod", e))?;
    rustix::fs::chownat(
        &parent,
        name,
        Some(rustix::fs::Uid::from_raw(node.uid)),
        Some(rustix::fs::Gid::from_raw(node.gid)),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| err("chown", e))
}

/// In a user namespace: bind the host's node of the same path onto an
/// empty file.
fn bind_from_host(rootfs: &Rootfs, node: &Node<'_>) -> Result<(), InitError> {
    let err = |op: &str, e| InitError::in_root(&node.field, op, node.path, e);
    let tree = rustix::mount::open_tree(
        CWD,
        node.path,
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )
    .map_err(|e| err("open_tree the host device", e))?;
    let target = rootfs.ensure_file(&node.field, node.path)?;
    move_mount_onto(&tree, target.as_fd(), Path::new(""))
        .map_err(|e| err("bind the host device", e))
}

fn symlink(rootfs: &Rootfs, link: &Path, target: &Path) -> Result<(), InitError> {
    let field = "default /dev symlinks";
    let (parent, name) = rootfs.parent_of(field, link)?;
    match rustix::fs::unlinkat(&parent, name, rustix::fs::AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => {}
        // A directory in the image where a link belongs is left alone.
        Err(rustix::io::Errno::ISDIR) => return Ok(()),
        Err(e) => return Err(symlink_error(field, link, e)),
    }
    rustix::fs::symlinkat(target, &parent, name).map_err(|e| symlink_error(field, link, e))
}

fn symlink_error(field: &str, link: &Path, e: rustix::io::Errno) -> InitError {
    InitError::in_root(field, "symlink", link, e)
}
