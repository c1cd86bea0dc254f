//! What can go wrong inside the container before `execve`. Each variant
//! names the operation, the path or config field (as a JSON path), and the
//! errno; the value crosses the socketpair so the parent reports it.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// An errno that prints as the C library's message, e.g.
/// `Operation not permitted (os error 1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Errno(pub i32);

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        std::io::Error::from_raw_os_error(self.0).fmt(f)
    }
}

impl From<rustix::io::Errno> for Errno {
    fn from(e: rustix::io::Errno) -> Self {
        Errno(e.raw_os_error())
    }
}

/// A failure inside the container init.
#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize)]
pub enum InitError {
    #[error("talk to the runtime: {detail}")]
    Channel { detail: String },
    #[error("join {kind} namespace {path:?} (linux.namespaces): {errno}")]
    JoinNamespace {
        kind: String,
        path: PathBuf,
        errno: Errno,
    },
    #[error("become root in the new user namespace: {errno}")]
    UserNamespaceRoot { errno: Errno },
    #[error("set hostname: {errno}")]
    Hostname { errno: Errno },
    #[error("set domainname: {errno}")]
    Domainname { errno: Errno },
    /// A path inside the rootfs could not be resolved, created or opened.
    #[error("{field}: {op} {path:?} in the rootfs: {}{errno}", context.as_ref().map(|c| format!("{c}: ")).unwrap_or_default())]
    InRoot {
        field: String,
        op: String,
        path: PathBuf,
        /// What the resolver says, beyond the errno.
        context: Option<String>,
        errno: Errno,
    },
    /// One step of mounting `field` (e.g. `mounts[3]`) failed.
    #[error(
        "{field}: mount {kind} {source_path:?} on {destination:?}: {op}: {errno}{}",
        hint_suffix(hint)
    )]
    Mount {
        field: String,
        kind: String,
        source_path: String,
        destination: PathBuf,
        op: String,
        errno: Errno,
        hint: Option<String>,
    },
    #[error("{field}: {detail}")]
    Config { field: String, detail: String },
    #[error("{op}: {errno}")]
    Rootfs { op: String, errno: Errno },
    #[error("{path:?} is not a procfs file ({why}); refusing to write to it")]
    NotProcfs { path: PathBuf, why: String },
    #[error("linux.sysctl[{key:?}]: write {value:?}: {errno}")]
    Sysctl {
        key: String,
        value: String,
        errno: Errno,
    },
    #[error("process.user: {op}: {errno}")]
    Credentials { op: String, errno: Errno },
    #[error("process.capabilities: {op}: {errno}")]
    Capabilities { op: String, errno: Errno },
    #[error("process.rlimits: set {kind}: {errno}")]
    Rlimit { kind: String, errno: Errno },
    #[error("process.cwd: chdir {path:?}: {errno}")]
    Cwd { path: PathBuf, errno: Errno },
    #[error("process.args[0]: exec {name:?}: executable file not found in $PATH")]
    NotInPath { name: String },
    #[error("process.args[0]: exec {path:?}: {errno}")]
    Exec { path: PathBuf, errno: Errno },
    #[error("{op}: {errno}")]
    Process { op: String, errno: Errno },
    #[error("{field}: hook {path:?} failed: {detail}")]
    Hook {
        field: String,
        path: PathBuf,
        detail: String,
    },
}

impl InitError {
    /// A syscall on a path inside the rootfs failed.
    pub(crate) fn in_root(
        field: &str,
        op: &str,
        path: &std::path::Path,
        e: rustix::io::Errno,
    ) -> Self {
        InitError::InRoot {
            field: field.to_string(),
            op: op.to_string(),
            path: path.to_path_buf(),
            context: None,
            errno: e.into(),
        }
    }
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default()
}

impl InitError {
    /// A stable, machine-readable name of what failed (docs/reliability.md
    /// lists them all), logged next to the message in `--log-format json`.
    pub fn code(&self) -> &'static str {
        match self {
            InitError::Channel { .. } => "init.channel",
            InitError::JoinNamespace { .. } => "namespace.join",
            InitError::UserNamespaceRoot { .. } => "userns.root",
            InitError::Hostname { .. } => "process.hostname",
            InitError::Domainname { .. } => "process.domainname",
            // openat2's refusals to leave the root or follow a link.
            InitError::InRoot { errno, .. } if [libc::EXDEV, libc::ELOOP].contains(&errno.0) => {
                "rootfs.symlink-escape"
            }
            InitError::InRoot { .. } => "rootfs.path",
            InitError::Mount { .. } => "rootfs.mount",
            InitError::Config { .. } => "config.invalid",
            InitError::Rootfs { .. } => "rootfs.setup",
            InitError::NotProcfs { .. } => "security.not-procfs",
            InitError::Sysctl { .. } => "config.sysctl",
            InitError::Credentials { .. } => "process.user",
            InitError::Capabilities { .. } => "process.capabilities",
            InitError::Rlimit { .. } => "process.rlimits",
            InitError::Cwd { .. } => "process.cwd",
            InitError::NotInPath { .. } => "process.not-found",
            InitError::Exec { .. } => "process.exec",
            InitError::Process { .. } => "process.setup",
            InitError::Hook { .. } => "hook.failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_leading_out_of_the_rootfs_has_a_code_of_its_own() {
        let in_root = |errno| InitError::InRoot {
            field: "mounts[0]".into(),
            op: "open".into(),
            path: "/x".into(),
            context: None,
            errno: Errno(errno),
        };
        assert_eq!(in_root(libc::EXDEV).code(), "rootfs.symlink-escape");
        assert_eq!(in_root(libc::ELOOP).code(), "rootfs.symlink-escape");
        assert_eq!(in_root(libc::ENOENT).code(), "rootfs.path");
    }
}
