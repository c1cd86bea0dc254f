//! Host-side errors. Each says what was being done, to which path, id or
//! config field, and why; the root cause comes last when printed.

use std::path::PathBuf;

use init::{ChannelError, InitError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    #[error("container with id {0:?} already exists")]
    Exists(String),
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("{file:?}: {field}: {detail}")]
    Config {
        file: PathBuf,
        field: String,
        detail: String,
    },
    #[error("{op} {path:?}: {cause}")]
    Io {
        op: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{op}: {errno}")]
    Sys {
        op: String,
        errno: init::error::Errno,
    },
    #[error("container init: {0}")]
    Init(InitError),
    #[error("exec: {0}")]
    Exec(InitError),
    #[error("{0}")]
    Hook(InitError),
    #[error("container init: {0}")]
    Channel(ChannelError),
    #[error("container init exited before it was set up ({0})")]
    InitDied(String),
    #[error("cannot {action} container {id:?}: it is {status}")]
    WrongState {
        action: &'static str,
        id: String,
        status: String,
    },
    /// runc's words, which engines match (containerd's shim maps
    /// "container not running" to not-found after a kill).
    #[error("{id:?}: container not running")]
    NotRunning { id: String },
    #[error("invalid signal {0:?}")]
    UnknownSignal(String),
    /// A setting or combination crust does not implement (yet).
    #[error("{0}")]
    Unsupported(String),
    /// A command-line flag whose value cannot be used.
    #[error("{flag}: {detail}")]
    Flag { flag: String, detail: String },
    /// CRIU missing, too old or failing; `last` is the error line of its
    /// log that says why, quoted last (the root cause).
    #[error("{what}{}", criu_log(.log.as_deref(), .last.as_deref()))]
    Criu {
        what: String,
        log: Option<PathBuf>,
        last: Option<String>,
    },
    /// Terminal and console-socket options that do not fit together.
    #[error("{0}")]
    ConsoleRule(&'static str),
    #[error("exec needs a command, or --process")]
    NoCommand,
    #[error("--cap: unknown capability {0:?}")]
    UnknownCapability(String),
    #[error("{path:?} is not on a procfs; refusing to write to it")]
    NotProcfs { path: PathBuf },
    /// newuidmap/newgidmap could not map the ids.
    #[error("{program}: {detail}")]
    IdMapHelper {
        program: &'static str,
        detail: String,
    },
    #[error("{what}: still not done after {after:?}")]
    TimedOut {
        what: &'static str,
        after: std::time::Duration,
    },
    #[error("container {id:?} did not die within {after:?} of SIGKILL")]
    DidNotDie {
        id: String,
        after: std::time::Duration,
    },
    #[error("container {id:?} has no cgroup (crust ran unprivileged without a delegated cgroup)")]
    NoCgroup { id: String },
    /// Not a `#[source]`: the message already says it, and an error chain
    /// printed with its sources would say it twice.
    #[error("cgroup: {0}")]
    Cgroup(cgroups::Error),
    #[error("{path:?} is a symlink, which crust does not follow in its state directory")]
    Symlink { path: PathBuf },
    #[error("state of container {id:?} in {path:?} is unreadable: {detail}")]
    CorruptState {
        id: String,
        path: PathBuf,
        detail: String,
    },
}

impl From<cgroups::Error> for Error {
    fn from(e: cgroups::Error) -> Self {
        Error::Cgroup(e)
    }
}

impl From<InitError> for Error {
    fn from(e: InitError) -> Self {
        Error::Init(e)
    }
}

impl Error {
    /// A stable, machine-readable name of what failed, logged next to the
    /// message in `--log-format json` (docs/reliability.md lists them all;
    /// the runtime-spec has no standard codes yet: runtime-spec#1061).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidId { .. } => "container.invalid-id",
            Error::Exists(_) => "container.exists",
            Error::NotFound(_) => "container.not-found",
            Error::Config { .. } => "config.invalid",
            Error::Io { .. } => "host.io",
            Error::Sys { .. } => "host.syscall",
            Error::Init(e) | Error::Exec(e) | Error::Hook(e) => e.code(),
            Error::Channel(_) => "init.channel",
            Error::InitDied(_) => "init.died",
            Error::WrongState { .. } => "container.wrong-state",
            Error::NotRunning { .. } => "container.not-running",
            Error::UnknownSignal(_) => "cli.signal",
            Error::Unsupported(_) => "config.unsupported",
            Error::Flag { .. } => "cli.flag",
            Error::Criu { .. } => "criu.error",
            Error::ConsoleRule(_) => "cli.console",
            Error::NoCommand => "cli.no-command",
            Error::UnknownCapability(_) => "cli.capability",
            Error::NotProcfs { .. } => "security.not-procfs",
            Error::IdMapHelper { .. } => "userns.idmap-helper",
            Error::TimedOut { .. } => "host.timeout",
            Error::DidNotDie { .. } => "container.did-not-die",
            Error::NoCgroup { .. } => "cgroup.none",
            Error::Cgroup(e) => e.code(),
            Error::Symlink { .. } => "state.symlink",
            Error::CorruptState { .. } => "state.corrupt",
        }
    }

    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |cause| Error::Io { op, path, cause }
    }

    pub(crate) fn sys(op: impl Into<String>) -> impl FnOnce(rustix::io::Errno) -> Error {
        let op = op.into();
        move |e| Error::Sys {
            op,
            errno: e.into(),
        }
    }
}

fn criu_log(log: Option<&std::path::Path>, last: Option<&str>) -> String {
    match (log, last) {
        (Some(log), Some(last)) => format!("; CRIU's log {log:?} says: {last}"),
        (Some(log), None) => format!("; see CRIU's log {log:?}"),
        (None, _) => String::new(),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
