//! `crust events`: the container's resource usage, once (`--stats`) or
//! every interval, and OOM notifications as they happen, one JSON object a
//! line in runc's shape (`{"type","id","data"}`).

use std::path::Path;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::state::{StateDir, Status};

#[derive(Debug, Serialize)]
pub struct Event<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<cgroups::stats::Stats>,
}

/// Emit events until the container stops (or, with `stats_only`, one
/// stats event).
pub fn events(
    root: &Path,
    id: &str,
    interval: Duration,
    stats_only: bool,
    emit: &mut dyn FnMut(&Event<'_>),
) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let state = dir.load()?;
    if matches!(dir.status(&state), Status::Stopped) {
        return Err(Error::NotRunning { id: id.into() });
    }
    let cgroup = state
        .cgroup
        .clone()
        .ok_or_else(|| Error::NoCgroup { id: id.into() })?;
    let stats = |cgroup: &cgroups::Cgroup| Event {
        kind: "stats",
        id,
        data: Some(cgroup.stats()),
    };
    if stats_only {
        emit(&stats(&cgroup));
        return Ok(());
    }
    let mut oom = cgroup.watch_oom()?;
    let mut next = Instant::now() + interval;
    loop {
        let left = next.saturating_duration_since(Instant::now());
        let timeout = Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let ready = match &oom {
            Some(w) => {
                let fd = w.fd();
                let mut fds = [PollFd::new(&fd, PollFlags::IN)];
                rustix::event::poll(&mut fds, Some(&timeout))
                    .map_err(Error::sys("wait for container events"))?
            }
            None => {
                std::thread::sleep(left);
                0
            }
        };
        if ready > 0 {
            if let Some(w) = oom.as_mut() {
                for _ in 0..w.take(&cgroup) {
                    emit(&Event {
                        kind: "oom",
                        id,
                        data: None,
                    });
                }
            }
        }
        if dir.status(&state) == Status::Stopped {
            return Ok(());
        }
        if Instant::now() >= next {
            emit(&stats(&cgroup));
            next += interval;
        }
    }
}
