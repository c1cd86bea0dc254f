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
    #[error("{field}: writing {value:?} to {path:?}: {errno}{}", hint_for(*errno))]
    Rejected {
        field: String,
        path: PathBuf,
        value: String,
        errno: rustix::io::Errno,
    },
    /// The config asks for something this host or layout cannot give.
    #[error("{field}: {detail}")]
    Invalid { field: String, detail: String },
}

fn hint_for(errno: rustix::io::Errno) -> &'static str {
    match errno {
        rustix::io::Errno::BUSY => " (the value is below what the cgroup uses now, or the cgroup has tasks that prevent it)",
        rustix::io::Errno::NOENT => " (the controller is not enabled for this cgroup)",
        rustix::io::Errno::INVAL => " (the kernel does not accept this value)",
        _ => "",
    }
}

impl Error {
    pub(crate) fn io(
        op: impl Into<String>,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(rustix::io::Errno) -> Error {
        let (op, path) = (op.into(), path.into());
        move |errno| Error::Io { op, path, errno }
    }

    pub(crate) fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::Invalid {
            field: field.into(),
            detail: detail.into(),
        }
    }
}
