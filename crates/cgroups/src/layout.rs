//! Which cgroup layout this host has, found by `statfs` magic and the
//! caller's own `/proc/self/cgroup`, without reading mountinfo.
//!
//! - pure v2: `/sys/fs/cgroup` is a cgroup2 filesystem;
//! - hybrid: `/sys/fs/cgroup` holds v1 hierarchies and a cgroup2 mount at
//!   `/sys/fs/cgroup/unified` (the controllers not bound to v1 live there);
//! - pure v1: v1 hierarchies only.
//!
//! v1 hierarchies are found where every distribution mounts them:
//! `/sys/fs/cgroup/<controllers>` (`cpu,cpuacct`, `memory`,
//! `systemd` for `name=systemd`), each checked to be a cgroup filesystem.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const ROOT: &str = "/sys/fs/cgroup";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Version {
    V1,
    V2,
}

/// One mounted hierarchy and the caller's place in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// The controllers bound to it (`name=systemd` for a named hierarchy);
    /// for v2, the controllers its root offers.
    pub controllers: Vec<String>,
    pub mount: PathBuf,
    /// The caller's cgroup in it, absolute within the hierarchy.
    pub own: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub v1: Vec<Hierarchy>,
    pub unified: Option<Hierarchy>,
}

/// A line of `/proc/PID/cgroup`: `ID:controllers:path`.
#[derive(Debug, PartialEq, Eq)]
pub struct Membership {
    pub id: u32,
    pub controllers: Vec<String>,
    pub path: PathBuf,
}

pub fn parse_proc_cgroup(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let id = parts.next()?.parse().ok()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            Some(Membership {
                id,
                controllers: controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                path: PathBuf::from(path),
            })
        })
        .collect()
}

fn is_on(path: &Path, kind: sys::fs::FsType) -> bool {
    sys::fs::path_is_on(path, kind).unwrap_or(false)
}

/// The directory a v1 hierarchy is mounted at, by convention.
fn v1_mount(controllers: &[String]) -> PathBuf {
    let name = controllers
        .iter()
        .map(|c| c.strip_prefix("name=").unwrap_or(c))
        .collect::<Vec<_>>()
        .join(",");
    Path::new(ROOT).join(name)
}

fn read_controllers(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

impl Layout {
    pub fn probe() -> Result<Layout> {
        let text = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| Error::Io {
            op: "read".into(),
            path: "/proc/self/cgroup".into(),
            errno: rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO),
        })?;
        let members = parse_proc_cgroup(&text);
        let own_v2 = members
            .iter()
            .find(|m| m.id == 0)
            .map(|m| m.path.clone())
            .unwrap_or_else(|| PathBuf::from("/"));
        let root = Path::new(ROOT);
        if is_on(root, sys::fs::FsType::Cgroup2) {
            return Ok(Layout {
                v1: Vec::new(),
                unified: Some(Hierarchy {
                    controllers: read_controllers(root),
                    mount: root.to_path_buf(),
                    own: own_v2,
                }),
            });
        }
        let v1 = members
            .iter()
            .filter(|m| m.id != 0 && !m.controllers.is_empty())
            .map(|m| Hierarchy {
                controllers: m.controllers.clone(),
                mount: v1_mount(&m.controllers),
                own: m.path.clone(),
            })
            .filter(|h| is_on(&h.mount, sys::fs::FsType::Cgroup))
            .collect();
        let unified_mount = root.join("unified");
        let unified = is_on(&unified_mount, sys::fs::FsType::Cgroup2).then(|| Hierarchy {
            controllers: read_controllers(&unified_mount),
            mount: unified_mount,
            own: own_v2,
        });
        Ok(Layout { v1, unified })
    }

    pub fn name(&self) -> &'static str {
        match (self.v1.is_empty(), self.unified.is_some()) {
            (true, true) => "v2",
            (false, true) => "hybrid",
            (false, false) => "v1",
            (true, false) => "none",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hybrid_membership() {
        let m = parse_proc_cgroup("4:memory:/a/b\n2:cpu,cpuacct:/\n1:name=systemd:/x\n0::/\n");
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].controllers, vec!["memory"]);
        assert_eq!(m[0].path, PathBuf::from("/a/b"));
        assert_eq!(m[1].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(
            v1_mount(&m[1].controllers),
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(
            v1_mount(&m[2].controllers),
            PathBuf::from("/sys/fs/cgroup/systemd")
        );
        assert!(m[3].controllers.is_empty());
    }
}
