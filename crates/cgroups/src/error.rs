//! What went wrong, with the file, the config field and the errno.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation on the cgroup filesystem failed.
    #[error("{op} {path:?}: {errno}")]
    Io {
        op: String,
        path: PathBuf,
        errno: rustix::io::Errno,
    },
    /// The kernel refused a value the config asked for.
    #[error("{field}: writing {value:?} to {path:?}: {errno}{}", hint_for(*errno, path))]
    Rejected {
        field: String,
        path: PathBuf,
        value: String,
        errno: rustix::io::Errno,
    },
    /// The config asks for something this host or layout cannot give.
    #[error("{field}: {detail}")]
    Invalid { field: String, detail: String },
    /// systemd (or the way to it) refused: the call and its reason.
    #[error("systemd {call}: {detail}")]
    Systemd { call: String, detail: String },
}

fn hint_for(errno: rustix::io::Errno, path: &std::path::Path) -> &'static str {
    match errno {
        rustix::io::Errno::BUSY => " (the value is below what the cgroup uses now, or the cgroup has tasks that prevent it)",
        rustix::io::Errno::NOENT if controller_enabled(path) == Some(false) => {
            " (the controller is not enabled for this cgroup)"
        }
        rustix::io::Errno::NOENT => {
            " (this kernel has no such file: the feature is not built in, or was removed)"
        }
        rustix::io::Errno::INVAL => " (the kernel does not accept this value)",
        _ => "",
    }
}

/// On v2, whether the controller a file belongs to (`io` of `io.max`) is
/// enabled in the directory holding it; `None` on v1, where a hierarchy
/// is its controller.
fn controller_enabled(path: &std::path::Path) -> Option<bool> {
    let dir = path.parent()?;
    let enabled = std::fs::read_to_string(dir.join("cgroup.controllers")).ok()?;
    let file = path.file_name()?.to_str()?;
    let controller = file.split('.').next()?;
    Some(enabled.split_whitespace().any(|c| c == controller))
}

impl Error {
    /// A stable, machine-readable name of what failed (docs/reliability.md).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "cgroup.io",
            Error::Rejected { .. } => "cgroup.rejected",
            Error::Invalid { .. } => "cgroup.invalid",
            Error::Systemd { .. } => "cgroup.systemd",
        }
    }

    pub(crate) fn io(
        op: impl Into<String>,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(rustix::io::Errno) -> Error {
        let (op, path) = (op.into(), path.into());
        move |errno| Error::Io { op, path, errno }
    }

    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::Invalid {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_of_a_present_controller_is_not_called_disabled() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cgroup.controllers"), "cpu memory io\n").unwrap();
        let e = |file: &str| {
            Error::Rejected {
                field: "f".into(),
                path: dir.path().join(file),
                value: "1".into(),
                errno: rustix::io::Errno::NOENT,
            }
            .to_string()
        };
        assert!(
            e("io.bfq.weight").contains("no such file"),
            "{}",
            e("io.bfq.weight")
        );
        assert!(e("pids.max").contains("not enabled"), "{}", e("pids.max"));
        // v1: the hierarchy is the controller.
        let v1 = tempfile::tempdir().unwrap();
        let msg = Error::Rejected {
            field: "f".into(),
            path: v1.path().join("blkio.leaf_weight"),
            value: "1".into(),
            errno: rustix::io::Errno::NOENT,
        }
        .to_string();
        assert!(
            msg.contains("no such file") && !msg.contains("not enabled"),
            "{msg}"
        );
    }
}
