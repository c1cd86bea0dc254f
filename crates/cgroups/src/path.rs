//! `linux.cgroupsPath`: absolute paths are taken from each hierarchy's
//! root, relative ones from the runtime's own cgroup there, and an absent
//! one means the container id, relative (as runc does). The path is cleaned
//! lexically first, so `..` can never climb above the hierarchy.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

const FIELD: &str = "linux.cgroupsPath";

/// The cleaned path and whether it is absolute.
pub fn inner(cgroups_path: Option<&Path>, id: &str) -> Result<(PathBuf, bool)> {
    let raw = cgroups_path.unwrap_or(Path::new(id));
    let text = raw.to_string_lossy();
    if text.contains(':') && !raw.is_absolute() {
        return Err(Error::invalid(
            FIELD,
            format!("{text:?} is a systemd unit path (slice:prefix:name): use the systemd cgroup driver (--systemd-cgroup)"),
        ));
    }
    let mut clean = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(n) => clean.push(n),
            Component::ParentDir => {
                clean.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(Error::invalid(
            FIELD,
            format!("{text:?} names the root cgroup, which a container cannot own"),
        ));
    }
    Ok((clean, raw.is_absolute()))
}

/// The directory for the container in a hierarchy mounted at `mount`, where
/// the runtime itself is in `own`.
pub fn in_hierarchy(mount: &Path, own: &Path, inner: &Path, absolute: bool) -> PathBuf {
    let own = own.strip_prefix("/").unwrap_or(own);
    if absolute {
        mount.join(inner)
    } else {
        mount.join(own).join(inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_relative_and_default() {
        assert_eq!(
            inner(Some(Path::new("/a/b")), "x").unwrap(),
            ("a/b".into(), true)
        );
        assert_eq!(
            inner(Some(Path::new("a/b")), "x").unwrap(),
            ("a/b".into(), false)
        );
        assert_eq!(inner(None, "x").unwrap(), ("x".into(), false));
    }

    #[test]
    fn dot_dot_cannot_climb_out() {
        assert_eq!(
            inner(Some(Path::new("/../../etc/x")), "id").unwrap().0,
            PathBuf::from("etc/x")
        );
        let dir = in_hierarchy(
            Path::new("/sys/fs/cgroup/memory"),
            Path::new("/own"),
            Path::new("etc/x"),
            true,
        );
        assert!(dir.starts_with("/sys/fs/cgroup/memory"));
    }

    #[test]
    fn root_and_systemd_paths_are_refused() {
        assert!(inner(Some(Path::new("/")), "x").is_err());
        assert!(inner(Some(Path::new("/a/..")), "x").is_err());
        let e = inner(Some(Path::new("system.slice:crust:x")), "x").unwrap_err();
        assert!(e.to_string().starts_with("linux.cgroupsPath: "));
    }

    #[test]
    fn relative_paths_start_at_our_own_cgroup() {
        assert_eq!(
            in_hierarchy(Path::new("/m"), Path::new("/own/x"), Path::new("c"), false),
            PathBuf::from("/m/own/x/c")
        );
    }
}
