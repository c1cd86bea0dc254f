//! Pause and resume: v1's `freezer.state`, v2's `cgroup.freeze`. Freezing
//! waits until the kernel says the whole cgroup is frozen, within a bound;
//! when that fails the cgroup is thawed again, never left half-frozen.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};

use crate::cgroup::{read_file, write_file, Cgroup};
use crate::error::{Error, Result};
use crate::layout::Version;

const FREEZE_TIMEOUT: Duration = Duration::from_secs(2);

enum Freezer {
    V1(PathBuf),
    V2(PathBuf),
}

impl Cgroup {
    /// The directory whose freezer stops the whole container, and its
    /// hierarchy's version (CRIU freezes the tree there before a dump).
    pub fn freezer_dir(&self) -> Option<(Version, PathBuf)> {
        match self.freezer()? {
            Freezer::V1(dir) => Some((Version::V1, dir)),
            Freezer::V2(dir) => Some((Version::V2, dir)),
        }
    }

    fn freezer(&self) -> Option<Freezer> {
        // On v2 the freezer is core (`cgroup.freeze`), not a controller.
        match self.locate("freezer") {
            Some((Version::V1, dir)) => Some(Freezer::V1(dir.to_path_buf())),
            _ => self.unified().map(|n| Freezer::V2(n.dir.clone())),
        }
    }

    /// `Some(true)` when the cgroup is frozen (or being frozen), `None` when
    /// there is no freezer.
    pub fn freezer_state(&self) -> Option<bool> {
        match self.freezer()? {
            Freezer::V1(dir) => {
                let s = std::fs::read_to_string(dir.join("freezer.state")).ok()?;
                Some(s.trim() != "THAWED")
            }
            Freezer::V2(dir) => {
                let s = std::fs::read_to_string(dir.join("cgroup.freeze")).ok()?;
                Some(s.trim() == "1")
            }
        }
    }

    /// Frozen, by itself or through a parent: `freezer_state`, or on v2
    /// `cgroup.events` (v1's `freezer.state` counts parents already).
    pub fn is_frozen(&self) -> bool {
        if self.freezer_state() == Some(true) {
            return true;
        }
        match self.freezer() {
            Some(Freezer::V2(dir)) => std::fs::read_to_string(dir.join("cgroup.events"))
                .is_ok_and(|s| s.lines().any(|l| l.trim() == "frozen 1")),
            _ => false,
        }
    }

    pub fn freeze(&self) -> Result<()> {
        let result = match self.freezer() {
            None => return Err(no_freezer()),
            Some(Freezer::V1(dir)) => freeze_v1(&dir),
            Some(Freezer::V2(dir)) => freeze_v2(&dir),
        };
        if result.is_err() {
            if let Err(e) = self.thaw() {
                log::warn!("thawing after a failed freeze: {e}");
            }
        }
        result
    }

    pub fn thaw(&self) -> Result<()> {
        match self.freezer() {
            None => Err(no_freezer()),
            Some(Freezer::V1(dir)) => {
                let path = dir.join("freezer.state");
                write_file(&path, "THAWED").map_err(Error::io("thaw", &path))
            }
            Some(Freezer::V2(dir)) => {
                let path = dir.join("cgroup.freeze");
                write_file(&path, "0").map_err(Error::io("thaw", &path))
            }
        }
    }
}

fn no_freezer() -> Error {
    Error::invalid("cgroup", "this host has no freezer cgroup controller")
}

fn timed_out(path: PathBuf) -> Error {
    Error::Io {
        op: format!("freeze: not frozen after {FREEZE_TIMEOUT:?}"),
        path,
        errno: rustix::io::Errno::TIMEDOUT,
    }
}

/// v1 moves through FREEZING and may stay there while a task is busy in
/// the kernel; writing FROZEN again nudges it. It has no notification, so
/// this checks a bounded number of times.
fn freeze_v1(dir: &std::path::Path) -> Result<()> {
    let path = dir.join("freezer.state");
    let deadline = Instant::now() + FREEZE_TIMEOUT;
    loop {
        write_file(&path, "FROZEN").map_err(Error::io("freeze", &path))?;
        if read_file(&path)?.trim() == "FROZEN" {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(timed_out(path));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// v2 reports `frozen 1` in `cgroup.events`, which wakes pollers on change.
fn freeze_v2(dir: &std::path::Path) -> Result<()> {
    let events_path = dir.join("cgroup.events");
    let events = rustix::fs::open(
        &events_path,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(Error::io("open", &events_path))?;
    let path = dir.join("cgroup.freeze");
    write_file(&path, "1").map_err(Error::io("freeze", &path))?;
    let deadline = Instant::now() + FREEZE_TIMEOUT;
    let mut buf = [0u8; 256];
    loop {
        let n = rustix::io::pread(&events, &mut buf, 0).map_err(Error::io("read", &events_path))?;
        let text = String::from_utf8_lossy(&buf[..n]);
        if text.lines().any(|l| l.trim() == "frozen 1") {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(path));
        }
        let timeout = Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&events, PollFlags::PRI)];
        rustix::event::poll(&mut fds, Some(&timeout))
            .map_err(Error::io("wait for", &events_path))?;
    }
}
