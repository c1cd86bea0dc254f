//! Writes to the host's `/proc/PID/...` files (id maps, oom_score_adj,
//! time offsets), each checked to land on a real procfs.

use std::path::PathBuf;

use rustix::fs::{Mode, OFlags};

use crate::error::{Error, Result};

/// Write `data` to `/proc/<pid>/<file>` (`pid` may be `self`).
pub(crate) fn write(pid: &str, file: &str, data: &str) -> Result<()> {
    let path = PathBuf::from(format!("/proc/{pid}/{file}"));
    let fd = rustix::fs::open(
        &path,
        OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .map_err(Error::sys(format!("open {path:?}")))?;
    let on_proc = sys::fs::is_on(&fd, sys::fs::FsType::Proc)
        .map_err(Error::sys(format!("fstatfs {path:?}")))?;
    if !on_proc {
        return Err(Error::NotProcfs { path });
    }
    rustix::io::write(&fd, data.as_bytes())
        .map_err(Error::sys(format!("write {data:?} to {path:?}")))?;
    Ok(())
}
