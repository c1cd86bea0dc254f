//! `linux.sysctl`: written through the container's procfs (see `procfs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::Rootfs;
use crate::error::InitError;
use crate::procfs::Proc;

pub(super) fn write_all(
    rootfs: &Rootfs,
    sysctl: &HashMap<String, String>,
) -> Result<(), InitError> {
    if sysctl.is_empty() {
        return Ok(());
    }
    let proc = verified_proc_root(rootfs)?;
    // Sorted, so that the order of writes (and of errors) is stable.
    let mut keys: Vec<&String> = sysctl.keys().collect();
    keys.sort();
    for key in keys {
        write_one(&proc, key, &sysctl[key])?;
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

/// The procfs mounted at `/proc` in the container.
fn verified_proc_root(rootfs: &Rootfs) -> Result<Proc, InitError> {
    let path = Path::new("/proc");
    Proc::at(rootfs.resolve("linux.sysctl", path)?, path)
}

fn write_one(proc: &Proc, key: &str, value: &str) -> Result<(), InitError> {
    let rel = key_path(key).ok_or_else(|| InitError::Config {
        field: format!("linux.sysctl[{key:?}]"),
        detail: "not a sysctl name".into(),
    })?;
    proc.write(&rel, value)?.map_err(|errno| InitError::Sysctl {
        key: key.into(),
        value: value.into(),
        errno: errno.into(),
    })
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
