//! The mounts CRIU must be told about: those whose source is outside the
//! container (binds from the host, the host's cgroup directories bound
//! without a cgroup namespace, `/dev/null` over masked files, device
//! nodes bound in a user namespace). A dump names each by its mount point;
//! a restore says which host path to bind for each name. The names are
//! the mount points themselves, as in runc, so images move between the
//! two runtimes' conventions unchanged.

use std::path::{Path, PathBuf};

use criu::rpc::ExtMountMap;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

const HOST_CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// One external mount: where it is in the container, and (on restore)
/// what to bind there.
#[derive(Debug, PartialEq, Eq)]
struct External {
    destination: PathBuf,
    source: PathBuf,
}

/// The external mounts of `spec`, with `root_dir` the container's root
/// as the host sees it (to resolve symlinks in destinations the way the
/// kernel reports the mounts) and `pid` a process in the container's
/// cgroups (its cgroup directories are what the container sees).
fn externals(
    spec: &Spec,
    bundle: &Path,
    root_dir: &Path,
    rootfs: &Path,
    pid: i32,
) -> Vec<External> {
    let cgroupns = crate::config::namespace_types(spec).contains(&LinuxNamespaceType::Cgroup);
    let mut out = Vec::new();
    for m in spec.mounts().as_deref().unwrap_or_default() {
        let destination = init::mount_destination_inside(rootfs, m.destination());
        if init::is_bind_mount(m) {
            let source = m.source().clone().unwrap_or_default();
            out.push(External {
                destination: init::resolved_destination(root_dir, &destination),
                source: if source.is_absolute() {
                    source
                } else {
                    bundle.join(source)
                },
            });
        } else if m.typ().as_deref() == Some("cgroup") && !cgroupns {
            out.extend(cgroup_binds(&destination, pid));
        }
    }
    let devices = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    let device_paths = devices.iter().map(|d| d.path().clone()).chain(
        init::DEFAULT_DEVICES
            .iter()
            .map(|(p, _, _)| PathBuf::from(p)),
    );
    for path in device_paths {
        if !out.iter().any(|e| e.destination == path) {
            out.push(External {
                source: path.clone(),
                destination: path,
            });
        }
    }
    out
}

/// Without a cgroup namespace crust binds the container's own cgroup
/// directories: one for the v2 hierarchy on a pure v2 host, one per
/// hierarchy below a tmpfs otherwise.
fn cgroup_binds(destination: &Path, pid: i32) -> Vec<External> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let memberships = cgroups::layout::parse_proc_cgroup(&text);
    let pure_v2 =
        sys::fs::path_is_on(Path::new(HOST_CGROUP_ROOT), sys::fs::FsType::Cgroup2).unwrap_or(false);
    let relative = |p: &Path| p.strip_prefix("/").unwrap_or(p).to_path_buf();
    if pure_v2 {
        return memberships
            .iter()
            .find(|m| m.controllers.is_empty())
            .map(|m| External {
                destination: destination.to_path_buf(),
                source: Path::new(HOST_CGROUP_ROOT).join(relative(&m.path)),
            })
            .into_iter()
            .collect();
    }
    memberships
        .iter()
        .filter_map(|m| {
            let joined = m.controllers.join(",");
            let name = match joined.as_str() {
                "" => "unified",
                c => c.strip_prefix("name=").unwrap_or(c),
            };
            let host = Path::new(HOST_CGROUP_ROOT).join(name);
            host.is_dir().then(|| External {
                destination: destination.join(name),
                source: host.join(relative(&m.path)),
            })
        })
        .collect()
}

fn map(key: &Path, val: &Path) -> ExtMountMap {
    ExtMountMap {
        key: key.to_string_lossy().into_owned(),
        val: val.to_string_lossy().into_owned(),
    }
}

/// For a dump of the container whose init is `pid`: each external mount
/// named by its mount point, and each masked file (a bind of `/dev/null`)
/// named `/dev/null`.
pub(crate) fn for_dump(spec: &Spec, bundle: &Path, rootfs: &Path, pid: i32) -> Vec<ExtMountMap> {
    let root_dir = PathBuf::from(format!("/proc/{pid}/root"));
    let mut maps: Vec<ExtMountMap> = externals(spec, bundle, &root_dir, rootfs, pid)
        .iter()
        .map(|e| map(&e.destination, &e.destination))
        .collect();
    let masked = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default();
    for path in masked {
        let inside = root_dir.join(path.trim_start_matches('/'));
        match std::fs::metadata(&inside) {
            Ok(m) if !m.is_dir() => maps.push(map(Path::new(&path), Path::new("/dev/null"))),
            _ => {}
        }
    }
    maps
}

/// For a restore whose CRIU process `criu_pid` is already in the new
/// container's cgroups: each name bound from its host source again.
pub(crate) fn for_restore(
    spec: &Spec,
    bundle: &Path,
    rootfs: &Path,
    criu_pid: i32,
) -> Vec<ExtMountMap> {
    let mut maps: Vec<ExtMountMap> = externals(spec, bundle, rootfs, rootfs, criu_pid)
        .iter()
        .map(|e| map(&e.destination, &e.source))
        .collect();
    let masks = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().as_ref())
        .is_some_and(|m| !m.is_empty());
    if masks && !maps.iter().any(|m| m.key == "/dev/null") {
        maps.push(map(Path::new("/dev/null"), Path::new("/dev/null")));
    }
    maps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn binds_are_named_by_their_mount_point_and_found_again_at_their_source() {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("real/conf")).unwrap();
        std::os::unix::fs::symlink("/real/conf", rootfs.join("conf")).unwrap();
        let s = spec(serde_json::json!({
            "ociVersion": "1.0.0",
            "mounts": [
                {"destination": "/conf", "type": "bind", "source": "data", "options": ["bind"]},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"},
                {"destination": "/mnt", "source": "/srv", "options": ["rbind", "ro"]}
            ],
            "linux": {"namespaces": [{"type": "cgroup"}], "maskedPaths": ["/proc/kcore"],
                      "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]}
        }));
        let maps = for_restore(&s, dir.path(), &rootfs, std::process::id() as i32);
        let find = |k: &str| maps.iter().find(|m| m.key == k).map(|m| m.val.clone());
        // The symlink in the destination resolved inside the rootfs.
        assert_eq!(
            find("/real/conf"),
            Some(dir.path().join("data").to_string_lossy().into())
        );
        assert_eq!(find("/mnt").as_deref(), Some("/srv"));
        assert_eq!(find("/tmp"), None);
        assert_eq!(find("/dev/fuse").as_deref(), Some("/dev/fuse"));
        assert_eq!(find("/dev/null").as_deref(), Some("/dev/null"));
        assert_eq!(maps.iter().filter(|m| m.key == "/dev/null").count(), 1);
    }

    #[test]
    fn cgroup_binds_follow_the_processs_own_cgroups() {
        let pid = std::process::id() as i32;
        let binds = cgroup_binds(Path::new("/sys/fs/cgroup"), pid);
        let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        // One bind per mounted hierarchy the process is in, each a
        // directory of the host's tree.
        assert!(!binds.is_empty() || text.trim().is_empty());
        for b in &binds {
            assert!(b.destination.starts_with("/sys/fs/cgroup"), "{b:?}");
            assert!(b.source.starts_with(HOST_CGROUP_ROOT), "{b:?}");
        }
    }
}
