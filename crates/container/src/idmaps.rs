//! Writing a user namespace's id maps. Root writes `/proc/PID/uid_map` and
//! `gid_map` itself. Anyone else may write only the single mapping of their
//! own id (and, for gids, only after `setgroups` is denied); for anything
//! more, the setuid `newuidmap`/`newgidmap` helpers (shadow's uidmap
//! package) check `/etc/subuid` and `/etc/subgid` and write the maps.

use std::process::Command;

use oci_spec::runtime::LinuxIdMapping;

use crate::error::{Error, Result};
use crate::hostproc;

/// `/proc/PID/uid_map` format: one `inside outside count` line per range.
pub(crate) fn format_map(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Whether `maps` is exactly the caller's own id mapped once.
fn only_own_id(maps: &[LinuxIdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.host_id() == own && m.size() == 1)
}

/// Write both maps of process `pid`.
pub(crate) fn write(pid: &str, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<()> {
    let euid = rustix::process::geteuid();
    if euid.is_root() {
        hostproc::write(pid, "uid_map", &format_map(uid))?;
        return hostproc::write(pid, "gid_map", &format_map(gid));
    }
    if only_own_id(uid, euid.as_raw()) {
        hostproc::write(pid, "uid_map", &format_map(uid))?;
    } else {
        helper("newuidmap", pid, uid)?;
    }
    if only_own_id(gid, rustix::process::getegid().as_raw()) {
        // The kernel's condition for an unprivileged gid_map.
        hostproc::write(pid, "setgroups", "deny")?;
        hostproc::write(pid, "gid_map", &format_map(gid))
    } else {
        helper("newgidmap", pid, gid)
    }
}

fn helper(program: &'static str, pid: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    let mut cmd = Command::new(program);
    cmd.arg(pid);
    for m in maps {
        cmd.args([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let out = cmd.output().map_err(|e| Error::IdMapHelper {
        program,
        detail: format!("{e}: mapping more than your own id as a user other than root needs {program} (package uidmap)"),
    })?;
    if !out.status.success() {
        return Err(Error::IdMapHelper {
            program,
            detail: format!(
                "{pid}: {}: {} (are the ranges in /etc/sub{}id?)",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                if program == "newuidmap" { "u" } else { "g" }
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(json: &str) -> Vec<LinuxIdMapping> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn formats_one_line_per_range() {
        let m = maps(
            r#"[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":100000,"size":65536}]"#,
        );
        assert_eq!(format_map(&m), "0 1000 1\n1 100000 65536\n");
    }

    #[test]
    fn own_id_only() {
        assert!(only_own_id(
            &maps(r#"[{"containerID":0,"hostID":1000,"size":1}]"#),
            1000
        ));
        assert!(!only_own_id(
            &maps(r#"[{"containerID":0,"hostID":1000,"size":2}]"#),
            1000
        ));
        assert!(!only_own_id(
            &maps(r#"[{"containerID":0,"hostID":1001,"size":1}]"#),
            1000
        ));
    }
}
