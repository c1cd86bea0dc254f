//! A `cgroup` entry of `mounts[]`: the container's view of the cgroup
//! hierarchies. On a pure cgroup v2 host that is one `cgroup2` mount; on a
//! v1 or hybrid host it is a tmpfs holding one mount per v1 hierarchy (and
//! the v2 one at `unified`), as runc lays it out.
//!
//! With a cgroup namespace each hierarchy is mounted afresh and shows the
//! namespace's root; without one, the container's own cgroup directory is
//! bind-mounted from the host, so the host's tree is never exposed.

use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags, CWD};
use rustix::mount::OpenTreeFlags;

use super::detached::{attach, new_filesystem, set_attrs, Entry};
use super::Rootfs;
use crate::error::InitError;
use crate::mount_options::MountOptions;

const HOST_CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// One line of `/proc/self/cgroup`.
#[derive(Debug, PartialEq, Eq)]
struct Hierarchy {
    /// `cpu,cpuacct`, `name=systemd`, or empty for the v2 hierarchy.
    controllers: String,
    /// The process's cgroup in that hierarchy.
    path: String,
}

impl Hierarchy {
    /// The directory name under `/sys/fs/cgroup`.
    fn dir_name(&self) -> &str {
        match self.controllers.as_str() {
            "" => "unified",
            c => c.strip_prefix("name=").unwrap_or(c),
        }
    }
}

fn parse_proc_cgroup(text: &str) -> Vec<Hierarchy> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            Some(Hierarchy {
                controllers: controllers.to_string(),
                path: path.to_string(),
            })
        })
        .collect()
}

pub(super) fn mount(
    rootfs: &Rootfs,
    entry: &Entry<'_>,
    opts: &MountOptions,
) -> Result<(), InitError> {
    let host_root = rustix::fs::open(
        HOST_CGROUP_ROOT,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| entry.error("open /sys/fs/cgroup", e))?;
    let pure_v2 = sys::fs::is_on(&host_root, sys::fs::FsType::Cgroup2)
        .map_err(|e| entry.error("statfs /sys/fs/cgroup", e))?;
    let cgroupns = rootfs.cgroupns;
    // In a user namespace without a cgroup namespace of its own, the mount
    // is a bind of the host's cgroup directories, which the container's
    // user may own (a delegated cgroup): read-only whatever the config
    // says, so the container cannot escape its limits (CVE-2023-25809).
    let forced;
    let opts = if rootfs.in_userns && !cgroupns {
        let mut ro = opts.clone();
        ro.attrs.set |= rustix::mount::MountAttrFlags::MOUNT_ATTR_RDONLY;
        ro.attrs
            .clear
            .remove(rustix::mount::MountAttrFlags::MOUNT_ATTR_RDONLY);
        forced = ro;
        &forced
    } else {
        opts
    };
    let hierarchies = std::fs::read_to_string("/proc/self/cgroup")
        .map(|t| parse_proc_cgroup(&t))
        .map_err(|e| {
            entry.error(
                "read /proc/self/cgroup",
                rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO),
            )
        })?;
    if pure_v2 {
        let unified = hierarchies.iter().find(|h| h.controllers.is_empty());
        let mnt = hierarchy_mount(entry, opts, cgroupns, unified, HOST_CGROUP_ROOT)?;
        let target = rootfs.mkdir_all(&entry.field, entry.destination)?;
        return attach(entry, &mnt, &target, opts);
    }
    mount_v1_layout(rootfs, entry, opts, cgroupns, &hierarchies)
}

/// v1 and hybrid: a tmpfs, then each hierarchy below it, then the tmpfs
/// made read-only last (if asked) so the directories can still be created.
fn mount_v1_layout(
    rootfs: &Rootfs,
    entry: &Entry<'_>,
    opts: &MountOptions,
    cgroupns: bool,
    hierarchies: &[Hierarchy],
) -> Result<(), InitError> {
    let mut tmpfs_opts = MountOptions {
        attrs: opts.attrs,
        ..MountOptions::default()
    };
    tmpfs_opts
        .attrs
        .set
        .remove(rustix::mount::MountAttrFlags::MOUNT_ATTR_RDONLY);
    tmpfs_opts.data.push(("mode".into(), Some("755".into())));
    let tmpfs_entry = Entry {
        kind: "tmpfs",
        source: "tmpfs",
        ..clone_entry(entry)
    };
    let tmpfs = new_filesystem(&tmpfs_entry, "tmpfs", &tmpfs_opts)?;
    let target = rootfs.mkdir_all(&entry.field, entry.destination)?;
    attach(entry, &tmpfs, &target, opts)?;
    for h in hierarchies {
        let host_dir = Path::new(HOST_CGROUP_ROOT).join(h.dir_name());
        if !host_dir.is_dir() {
            continue; // a hierarchy the host does not mount (e.g. no unified)
        }
        let mnt = hierarchy_mount(entry, opts, cgroupns, Some(h), &host_dir)?;
        let dest = entry.destination.join(h.dir_name());
        let sub = Entry {
            destination: &dest,
            ..clone_entry(entry)
        };
        let target = mount_point_in(&tmpfs, &sub, h.dir_name())?;
        attach(&sub, &mnt, &target, opts)?;
        link_comounted(&tmpfs, entry, h)?;
    }
    set_attrs(&tmpfs, &opts.attrs, false)
        .map_err(|e| entry.error("make the cgroup tmpfs read-only", e))
}

/// A hierarchy's directory in the cgroup tmpfs, made and opened through
/// the tmpfs's own descriptor: the filesystem is new and only crust's, so
/// there is nothing in the rootfs to resolve (and no walk from its root
/// for each of a v1 host's ten hierarchies).
fn mount_point_in(tmpfs: &OwnedFd, sub: &Entry<'_>, name: &str) -> Result<OwnedFd, InitError> {
    rustix::fs::mkdirat(tmpfs, name, Mode::from_bits_truncate(0o755))
        .map_err(|e| sub.error("mkdir in the cgroup tmpfs", e))?;
    rustix::fs::openat(
        tmpfs,
        name,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| sub.error("open in the cgroup tmpfs", e))
}

fn clone_entry<'a>(e: &Entry<'a>) -> Entry<'a> {
    Entry {
        field: e.field.clone(),
        kind: e.kind,
        source: e.source,
        destination: e.destination,
    }
}

/// `cpu,cpuacct` is mounted once and reached as `cpu` and `cpuacct` too.
fn link_comounted(tmpfs: &OwnedFd, entry: &Entry<'_>, h: &Hierarchy) -> Result<(), InitError> {
    if !h.controllers.contains(',') {
        return Ok(());
    }
    for name in h.controllers.split(',') {
        rustix::fs::symlinkat(h.dir_name(), tmpfs, name)
            .map_err(|e| entry.error(format!("symlink {name} in the cgroup tmpfs"), e))?;
    }
    Ok(())
}

/// A detached mount of one hierarchy: a fresh cgroup filesystem inside a
/// cgroup namespace, else a bind of the process's own cgroup directory.
fn hierarchy_mount(
    entry: &Entry<'_>,
    opts: &MountOptions,
    cgroupns: bool,
    h: Option<&Hierarchy>,
    host_dir: impl AsRef<Path>,
) -> Result<OwnedFd, InitError> {
    let v2 = h.is_none_or(|h| h.controllers.is_empty());
    if cgroupns {
        let mut fs_opts = MountOptions {
            attrs: opts.attrs,
            ..MountOptions::default()
        };
        if let Some(h) = h.filter(|_| !v2) {
            for c in h.controllers.split(',') {
                fs_opts.data.push(match c.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (c.to_string(), None),
                });
            }
        }
        let kind = if v2 { "cgroup2" } else { "cgroup" };
        let sub = Entry {
            kind,
            source: "cgroup",
            ..clone_entry(entry)
        };
        return new_filesystem(&sub, kind, &fs_opts);
    }
    let rel = h.map(|h| h.path.trim_start_matches('/')).unwrap_or("");
    let source = host_dir.as_ref().join(rel);
    let tree = rustix::mount::open_tree(
        CWD,
        &source,
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )
    .map_err(|e| entry.error(format!("open_tree {source:?}"), e))?;
    set_attrs(&tree, &opts.attrs, false).map_err(|e| entry.error("mount_setattr", e))?;
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hybrid_proc_cgroup() {
        let text =
            "12:pids:/user.slice\n3:cpu,cpuacct:/\n1:name=systemd:/init.scope\n0::/init.scope\n";
        let hs = parse_proc_cgroup(text);
        assert_eq!(hs.len(), 4);
        assert_eq!(hs[1].dir_name(), "cpu,cpuacct");
        assert_eq!(hs[2].dir_name(), "systemd");
        assert_eq!(hs[3].dir_name(), "unified");
        assert_eq!(hs[0].path, "/user.slice");
    }
}
