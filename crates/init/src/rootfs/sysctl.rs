//! `linux.sysctl`: written through the container's procfs, checked to be a
//! real procfs that no mount was stacked upon (CVE-2019-16884,
//! CVE-2023-27561, CVE-2025-52881).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::Rootfs;
use crate::error::InitError;

const PROC_ROOT_INO: u64 = 1;

pub(super) fn write_all(
    rootfs: &Rootfs,
    sysctl: &HashMap<String, String>,
) -> Result<(), InitError> {
    if sysctl.is_empty() {
        return Ok(());
    }
    let proc_root = verified_proc_root(rootfs)?;
    // Sorted, so that the order of writes (and of errors) is stable.
    let mut keys: Vec<&String> = sysctl.keys().collect();
    keys.sort();
    for key in keys {
        write_one(&proc_root, key, &sysctl[key])?;
    }
    Ok(())
}

/// The relative path under `/proc/sys` of a sysctl key: `net.ipv4.ip_forward`
/// and `net/ipv4/ip_forward` are the same key. `None` for a key that would
/// leave `/proc/sys`.
pub fn key_path(key: &str) -> Option<PathBuf> {
    let rel = key.replace('.', "/");
    let ok = !rel.is_empty() && rel.split('/').all(|c| !c.is_empty() && c != "..");
    ok.then(|| Path::new("sys").join(rel))
}

/// The root of the procfs mounted at `/proc` in the container.
fn verified_proc_root(rootfs: &Rootfs) -> Result<OwnedFd, InitError> {
    let path = Path::new("/proc");
    let fd = rootfs.resolve("linux.sysctl", path)?;
    check_procfs(&fd, path, true)?;
    Ok(fd)
}

fn check_procfs(fd: &OwnedFd, path: &Path, is_root: bool) -> Result<(), InitError> {
    let not_proc = |why: String| InitError::NotProcfs {
        path: path.to_path_buf(),
        why,
    };
    let on_proc =
        sys::fs::is_on(fd, sys::fs::FsType::Proc).map_err(|e| not_proc(format!("fstatfs: {e}")))?;
    if !on_proc {
        return Err(not_proc("another filesystem".into()));
    }
    if is_root {
        let st = rustix::fs::fstat(fd).map_err(|e| not_proc(format!("fstat: {e}")))?;
        if st.st_ino != PROC_ROOT_INO {
            return Err(not_proc("not the root of a procfs mount".into()));
        }
    }
    Ok(())
}

fn write_one(proc_root: &OwnedFd, key: &str, value: &str) -> Result<(), InitError> {
    let err = |errno: rustix::io::Errno| InitError::Sysctl {
        key: key.into(),
        value: value.into(),
        errno: errno.into(),
    };
    let rel = key_path(key).ok_or_else(|| InitError::Config {
        field: format!("linux.sysctl[{key:?}]"),
        detail: "not a sysctl name".into(),
    })?;
    // NO_XDEV rejects a bind mount stacked anywhere on the way (e.g. over
    // /proc/sys/kernel/core_pattern); NO_SYMLINKS rejects any redirection.
    let fd = rustix::fs::openat2(
        proc_root,
        &rel,
        OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
        ResolveFlags::BENEATH
            | ResolveFlags::NO_SYMLINKS
            | ResolveFlags::NO_XDEV
            | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(err)?;
    check_procfs(&fd, &Path::new("/proc").join(&rel), false)?;
    rustix::io::write(&fd, value.as_bytes()).map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths() {
        assert_eq!(
            key_path("net.ipv4.ip_forward"),
            Some(PathBuf::from("sys/net/ipv4/ip_forward"))
        );
        assert_eq!(
            key_path("kernel/shmmax"),
            Some(PathBuf::from("sys/kernel/shmmax"))
        );
        assert_eq!(key_path("kernel/../../etc"), None);
        assert_eq!(key_path(""), None);
        assert_eq!(key_path("net..x"), None);
    }
}
