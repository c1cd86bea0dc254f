//! `crust check`: what will work on this host, and, for a bundle, what
//! `create` would refuse, without creating anything. Each finding names
//! what was looked at, what was found and, when something is missing, how
//! to get it. None of the peers has this; the questions it answers are the
//! ones bug reports start from (runc#2339, podman#7768, containerd#8144).
//!
//! The host's probes are real: a user namespace is created (and gone at
//! once), a mount is cloned and idmapped (never attached), the kernel's
//! syscalls are called; nothing is left behind.

mod bundle;
mod host;

use serde::Serialize;

pub use bundle::bundle;
pub use host::host;

/// How a finding bears on containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works.
    Ok,
    /// Works with a limit, or a feature some configs ask for is missing.
    Warn,
    /// crust cannot work here, or `create` would refuse this bundle.
    Fail,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What part of the host or config: `kernel`, `namespaces`, `cgroups`,
    /// `seccomp`, `mounts`, `criu`, `systemd`, `lsm`, `bundle`.
    pub area: &'static str,
    /// The thing checked (`user namespaces`, `openat2`, `linux.resources`).
    pub name: String,
    pub status: Status,
    /// What was found, and why it matters.
    pub detail: String,
    /// How to change it, when something is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    fn ok(area: &'static str, name: impl Into<String>, detail: impl Into<String>) -> Finding {
        Finding {
            area,
            name: name.into(),
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn warn(
        area: &'static str,
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            status: Status::Warn,
            fix: Some(fix.into()),
            ..Finding::ok(area, name, detail)
        }
    }

    fn fail(
        area: &'static str,
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            status: Status::Fail,
            ..Finding::warn(area, name, detail, fix)
        }
    }
}
