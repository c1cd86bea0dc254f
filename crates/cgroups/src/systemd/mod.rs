//! The systemd cgroup driver: the container's cgroup is a transient unit
//! (a scope, usually) that systemd makes with one `StartTransientUnit`
//! call, with `Delegate=yes` so that crust and the container may manage
//! what is below it. What systemd knows of `linux.resources` goes into the
//! unit's properties (so that a `daemon-reload` keeps it); everything is
//! then written to cgroupfs as the cgroupfs driver does.
//!
//! `linux.cgroupsPath` is `slice:prefix:name`: the unit `prefix-name.scope`
//! in `slice` (a `name` ending in `.slice` is a slice unit itself).

mod manager;
pub mod properties;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use manager::Manager;

const FIELD: &str = "linux.cgroupsPath";

/// The container's unit, as recorded in its state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Unit {
    /// `crust-ID.scope`, or a slice's name.
    pub name: String,
    /// The slice the scope goes in; empty for a slice unit.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub slice: String,
    /// The caller's own manager (a rootless container), not the system's.
    #[serde(default)]
    pub user: bool,
}

impl Unit {
    /// The unit for `linux.cgroupsPath` (absent: `system.slice:crust:ID`,
    /// or `user.slice` for a user's manager, as runc does).
    pub fn from_cgroups_path(path: Option<&str>, id: &str, user: bool) -> Result<Unit> {
        let default_slice = if user { "user.slice" } else { "system.slice" };
        let (slice, prefix, name) = match path.filter(|p| !p.is_empty()) {
            None => (default_slice, "crust", id),
            Some(p) => {
                let parts: Vec<&str> = p.split(':').collect();
                let [slice, prefix, name] = parts[..] else {
                    return Err(Error::invalid(
                        FIELD,
                        format!(
                            "expected \"slice:prefix:name\" for the systemd cgroup driver, got {p:?}"
                        ),
                    ));
                };
                (
                    if slice.is_empty() {
                        default_slice
                    } else {
                        slice
                    },
                    prefix,
                    name,
                )
            }
        };
        check_slice(slice)?;
        if name.is_empty() || name.contains('/') {
            return Err(Error::invalid(
                FIELD,
                format!("{name:?} is not a unit name (the third part of slice:prefix:name)"),
            ));
        }
        if name.ends_with(".slice") {
            check_slice(name)?;
            return Ok(Unit {
                name: name.into(),
                slice: String::new(),
                user,
            });
        }
        let name = if prefix.is_empty() {
            format!("{name}.scope")
        } else {
            format!("{prefix}-{name}.scope")
        };
        Ok(Unit {
            name,
            slice: slice.into(),
            user,
        })
    }

    pub fn is_slice(&self) -> bool {
        self.slice.is_empty()
    }

    /// The unit's cgroup, relative to its manager's root cgroup:
    /// `system.slice/crust-x.scope`, `a.slice/a-b.slice/x.scope`.
    pub fn cgroup(&self) -> PathBuf {
        if self.is_slice() {
            return expand_slice(&self.name);
        }
        expand_slice(&self.slice).join(&self.name)
    }
}

/// systemd's rule for slice names: `a-b.slice` is `b` inside `a.slice`;
/// no empty parts, no `/`; `-.slice` is the root.
fn check_slice(slice: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::invalid(FIELD, format!("{slice:?}: {why}")));
    let Some(stem) = slice.strip_suffix(".slice") else {
        return bad("a slice name ends in .slice");
    };
    if slice.contains('/') {
        return bad("a slice name has no '/'");
    }
    if stem == "-" {
        return Ok(());
    }
    if stem.is_empty() || stem.starts_with('-') || stem.ends_with('-') || stem.contains("--") {
        return bad("a slice name has no empty part between '-'");
    }
    Ok(())
}

/// `a-b-c.slice` → `a.slice/a-b.slice/a-b-c.slice` (checked before).
fn expand_slice(slice: &str) -> PathBuf {
    let stem = slice.strip_suffix(".slice").unwrap_or(slice);
    let mut out = PathBuf::new();
    if stem == "-" {
        return out;
    }
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        out.push(format!("{prefix}.slice"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(p: &str) -> Result<Unit> {
        Unit::from_cgroups_path(Some(p), "id", false)
    }

    #[test]
    fn scopes_slices_and_defaults() {
        let u = unit("system.slice:crio:abc").unwrap();
        assert_eq!(u.name, "crio-abc.scope");
        assert_eq!(u.cgroup(), PathBuf::from("system.slice/crio-abc.scope"));
        let u = Unit::from_cgroups_path(None, "c1", false).unwrap();
        assert_eq!(u.cgroup(), PathBuf::from("system.slice/crust-c1.scope"));
        let u = Unit::from_cgroups_path(None, "c1", true).unwrap();
        assert_eq!(u.cgroup(), PathBuf::from("user.slice/crust-c1.scope"));
        assert_eq!(unit(":p:n").unwrap().slice, "system.slice");
        assert_eq!(
            unit("-.slice::n").unwrap().cgroup(),
            PathBuf::from("n.scope")
        );
        // Kubernetes' pod slices, nested by name.
        let u = unit("kubepods-burstable-pod12.slice:cri-containerd:c").unwrap();
        assert_eq!(
            u.cgroup(),
            PathBuf::from(
                "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12.slice/cri-containerd-c.scope"
            )
        );
        let s = unit("system.slice:x:my-group.slice").unwrap();
        assert!(s.is_slice());
        assert_eq!(s.cgroup(), PathBuf::from("my.slice/my-group.slice"));
    }

    #[test]
    fn malformed_paths_are_refused_naming_the_field() {
        for bad in [
            "/sys/fs/cgroup/x",
            "a:b",
            "a:b:c:d",
            "system:crust:x",
            "a--b.slice:p:n",
            "-a.slice:p:n",
            "a/b.slice:p:n",
            "system.slice:p:",
            "system.slice:p:a/b",
        ] {
            let e = unit(bad).unwrap_err().to_string();
            assert!(e.starts_with("linux.cgroupsPath: "), "{bad}: {e}");
        }
    }
}
