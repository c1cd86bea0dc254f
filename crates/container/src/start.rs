//! `crust start`: release a created container's process into `execve`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, Result};
use init::hooks::Kind;

use crate::state::{State, StateDir, Status};

pub fn start(root: &Path, id: &str) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    dir.lock_exclusive()?;
    let state = dir.load()?;
    match dir.status(&state) {
        Status::Created => {
            release(&dir)?;
            poststart(&state);
            Ok(())
        }
        status => Err(Error::WrongState {
            action: "start",
            id: id.into(),
            status: status.to_string(),
        }),
    }
}

/// Once the process runs: the poststart hooks.
pub fn poststart(state: &State) {
    crate::hooks::run_logged(state, Kind::Poststart, "running");
}

/// Write the byte the init waits for, then remove the fifo: its absence is
/// what marks the container as started.
pub fn release(dir: &StateDir) -> Result<()> {
    let path = dir.fifo_path();
    let mut fifo = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| match e.raw_os_error() {
            // No reader: the init has died since `create`.
            Some(libc::ENXIO) => Error::InitDied("it is no longer waiting to start".into()),
            _ => Error::io("open exec fifo", &path)(e),
        })?;
    fifo.write_all(b"0")
        .map_err(Error::io("write exec fifo", &path))?;
    std::fs::remove_file(&path).map_err(Error::io("remove exec fifo", &path))
}
