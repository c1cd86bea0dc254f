use std::path::PathBuf;

/// What went wrong talking to CRIU. CRIU's own reasons are in its log;
/// the caller, which knows where that is, quotes it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{binary:?} not found; install CRIU (Debian: apt-get install criu) or name it with --criu PATH")]
    NotFound { binary: PathBuf },
    #[error("start {binary:?}: {step}: {errno}")]
    Start {
        binary: PathBuf,
        step: String,
        errno: rustix::io::Errno,
    },
    #[error("talk to criu: {op}: {errno}")]
    Socket {
        op: &'static str,
        errno: rustix::io::Errno,
    },
    #[error("criu sent a malformed message: {0}")]
    Malformed(prost::DecodeError),
    #[error("criu exited before it answered ({status})")]
    Exited { status: String },
    /// CRIU answered `success: false`.
    #[error("{}", failed_text(*.errno, .message.as_deref()))]
    Failed {
        errno: Option<i32>,
        message: Option<String>,
    },
    #[error("criu answered a {got:?} request when {wanted:?} was asked")]
    Unexpected { wanted: String, got: String },
    /// The caller's handler of a notification failed; CRIU is told so
    /// and stops.
    #[error("{0}")]
    Notify(String),
}

fn failed_text(errno: Option<i32>, message: Option<&str>) -> String {
    let errno = errno
        .filter(|&e| e != 0)
        .map(|e| format!(" ({})", rustix::io::Errno::from_raw_os_error(e)));
    // CRIU's message is a line of its log (the caller quotes the log's
    // cause): without its newline.
    match message.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => format!("{m}{}", errno.unwrap_or_default()),
        None => format!("CRIU reported a failure{}", errno.unwrap_or_default()),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
