use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("connect to {path:?}: {source}")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("D-Bus authentication on {path:?} refused: {reply}")]
    Auth { path: PathBuf, reply: String },
    #[error("D-Bus connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("D-Bus protocol: {0}")]
    Protocol(String),
    /// An error reply: its name and message.
    #[error("{message} ({name})")]
    Reply { name: String, message: String },
    #[error("no reply from {what} within {secs} s")]
    Timeout { what: String, secs: u64 },
}

impl Error {
    /// The error name of an error reply.
    pub fn reply_name(&self) -> Option<&str> {
        match self {
            Error::Reply { name, .. } => Some(name),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
