//! Idmapped bind mounts (`mounts[].uidMappings`/`gidMappings`, or the
//! `idmap`/`ridmap` options with the container's own mappings).
//!
//! Setting `MOUNT_ATTR_IDMAP` needs privilege over the source mount, which
//! the init, inside its user namespace, no longer has. So the runtime
//! builds these trees itself before the fork — `open_tree`, the mount's
//! attributes, the idmapping — and the init only attaches them, as runc
//! does with its mount fds.
//!
//! In a user namespace (new or joined) the runtime opens every other bind
//! mount's source the same way: the init, root only inside it, may not
//! be able to reach a source the runtime's user can (a directory only the
//! host's root may enter: runc's "userns with inaccessible mounts").

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxIdMapping, Mount, Spec};
use rustix::mount::MountAttrFlags;
use sys::mount::MountAttr;

use super::detached::{bind_source, clone_tree, Entry};
use crate::error::InitError;
use crate::mount_options;

/// A bind tree prepared by the runtime for `mounts[index]`.
#[derive(Debug)]
pub struct Prepared {
    pub index: usize,
    pub tree: OwnedFd,
}

/// The uid and gid mappings of one idmapped mount.
pub struct Mappings<'a> {
    pub uid: &'a [LinuxIdMapping],
    pub gid: &'a [LinuxIdMapping],
}

fn config_error(index: usize, detail: impl Into<String>) -> InitError {
    InitError::Config {
        field: format!("mounts[{index}]"),
        detail: detail.into(),
    }
}

/// The mappings mount `m` asks for, if it is idmapped.
fn mappings_of<'a>(
    spec: &'a Spec,
    index: usize,
    m: &'a Mount,
) -> Result<Option<Mappings<'a>>, InitError> {
    let opts = mount_options::parse(m.options().as_deref().unwrap_or_default());
    let own = (m.uid_mappings().as_deref(), m.gid_mappings().as_deref());
    if opts.idmap.is_none() && own == (None, None) {
        return Ok(None);
    }
    let is_bind = m.typ().as_deref() == Some("bind") || opts.bind.is_some();
    if !is_bind {
        return Err(config_error(index, "idmapped mounts must be bind mounts"));
    }
    let linux = spec.linux().as_ref();
    let (uid, gid) = match own {
        (Some(u), Some(g)) => (u, g),
        (None, None) => (
            linux
                .and_then(|l| l.uid_mappings().as_deref())
                .unwrap_or_default(),
            linux
                .and_then(|l| l.gid_mappings().as_deref())
                .unwrap_or_default(),
        ),
        _ => {
            return Err(config_error(
                index,
                "uidMappings and gidMappings go together",
            ))
        }
    };
    if uid.is_empty() || gid.is_empty() {
        return Err(config_error(
            index,
            "an idmapped mount needs mappings: its own or the container's linux.uidMappings",
        ));
    }
    Ok(Some(Mappings { uid, gid }))
}

/// Build every idmapped bind tree of `spec`; with `privileged` (the
/// runtime may clone its own mounts) also every bind tree when the
/// container is in a user namespace. `userns`
/// makes a user namespace with the given mappings and returns a
/// descriptor of it.
pub fn prepare<E: From<InitError>>(
    spec: &Spec,
    bundle: &Path,
    rootfs: &Path,
    userns: &dyn Fn(&Mappings<'_>) -> Result<OwnedFd, E>,
    privileged: bool,
) -> Result<Vec<Prepared>, E> {
    // In a user namespace (new or joined) the init is root only there.
    let in_userns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter()
                .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::User)
        });
    let mut out = Vec::new();
    for (index, m) in spec.mounts().iter().flatten().enumerate() {
        let tree = match mappings_of(spec, index, m)? {
            Some(maps) => {
                let ns = userns(&maps)?;
                build(index, m, bundle, Some(ns.as_fd()))?
            }
            // A source inside the rootfs names what earlier mounts built
            // there, which only the init's mount namespace has.
            None if privileged
                && in_userns
                && is_plain_bind(m)
                && !in_rootfs(m, bundle, rootfs) =>
            {
                build(index, m, bundle, None)?
            }
            None => continue,
        };
        out.push(Prepared { index, tree });
    }
    Ok(out)
}

/// Whether a bind's source is inside the rootfs.
fn in_rootfs(m: &Mount, bundle: &Path, rootfs: &Path) -> bool {
    let raw = m.source().as_ref().and_then(|s| s.to_str()).unwrap_or("");
    bind_source(bundle, raw).starts_with(rootfs)
}

/// A bind mount (not a remount of what is there).
fn is_plain_bind(m: &Mount) -> bool {
    let opts = mount_options::parse(m.options().as_deref().unwrap_or_default());
    (m.typ().as_deref() == Some("bind") || opts.bind.is_some()) && !opts.remount
}

fn build(
    index: usize,
    m: &Mount,
    bundle: &Path,
    userns: Option<std::os::fd::BorrowedFd<'_>>,
) -> Result<OwnedFd, InitError> {
    let opts = mount_options::parse(m.options().as_deref().unwrap_or_default());
    let raw_source = m.source().as_ref().and_then(|s| s.to_str()).unwrap_or("");
    let source = bind_source(bundle, raw_source);
    let source_str = source.to_string_lossy();
    let entry = Entry {
        field: format!("mounts[{index}]"),
        kind: "bind",
        source: &source_str,
        destination: m.destination(),
    };
    let tree = clone_tree(&entry, &source, &opts)?;
    let Some(userns) = userns else {
        return Ok(tree);
    };
    let idmap = MountAttr {
        attr_set: MountAttrFlags::MOUNT_ATTR_IDMAP.bits().into(),
        userns_fd: u64::try_from(userns.as_raw_fd()).unwrap_or(0),
        ..MountAttr::default()
    };
    sys::mount::mount_setattr(&tree, c"", opts.idmap == Some(true), &idmap)
        .map_err(|e| entry.error("set the idmapping", e))?;
    Ok(tree)
}
