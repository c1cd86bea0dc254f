//! OOM notifications for `crust events`: v1 signals an eventfd registered
//! through `cgroup.event_control`; v2 changes `memory.events`, which
//! inotify reports.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags};

use crate::cgroup::{write_file, Cgroup};
use crate::error::{Error, Result};
use crate::layout::Version;

pub struct OomWatch {
    fd: OwnedFd,
    version: Version,
    /// v1: the `memory.oom_control` the eventfd is registered on; the
    /// registration lasts as long as this stays open.
    _control: Option<OwnedFd>,
    /// v2: the OOM kills counted so far.
    seen: u64,
}

impl Cgroup {
    /// Start watching for OOM kills; `None` without a memory controller.
    pub fn watch_oom(&self) -> Result<Option<OomWatch>> {
        let Some((version, dir)) = self.locate("memory") else {
            return Ok(None);
        };
        match version {
            Version::V1 => {
                let efd = rustix::event::eventfd(
                    0,
                    rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
                )
                .map_err(Error::io("eventfd for", &dir))?;
                let control_path = dir.join("memory.oom_control");
                let control = rustix::fs::open(
                    &control_path,
                    OFlags::RDONLY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(Error::io("open", &control_path))?;
                let line = format!(
                    "{} {}",
                    std::os::fd::AsRawFd::as_raw_fd(&efd),
                    std::os::fd::AsRawFd::as_raw_fd(&control)
                );
                let path = dir.join("cgroup.event_control");
                write_file(&path, &line)
                    .map_err(Error::io("register OOM notification in", &path))?;
                Ok(Some(OomWatch {
                    fd: efd,
                    version,
                    _control: Some(control),
                    seen: 0,
                }))
            }
            Version::V2 => {
                use rustix::fs::inotify;
                let fd =
                    inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
                        .map_err(Error::io("inotify for", &dir))?;
                let events = dir.join("memory.events");
                inotify::add_watch(&fd, &events, inotify::WatchFlags::MODIFY)
                    .map_err(Error::io("watch", &events))?;
                let seen = self.oom_kills().unwrap_or(0);
                Ok(Some(OomWatch {
                    fd,
                    version,
                    _control: None,
                    seen,
                }))
            }
        }
    }
}

impl OomWatch {
    /// Readable when something may have happened.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// After `fd` polled readable: how many OOM events happened.
    pub fn take(&mut self, cgroup: &Cgroup) -> u64 {
        let mut buf = [0u8; 4096];
        let mut count = 0;
        while let Ok(n) = rustix::io::read(&self.fd, &mut buf) {
            if n == 0 {
                break;
            }
            if self.version == Version::V1 && n >= 8 {
                count += u64::from_ne_bytes(buf[..8].try_into().expect("8 bytes"));
            }
        }
        if self.version == Version::V2 {
            let now = cgroup.oom_kills().unwrap_or(self.seen);
            count = now.saturating_sub(self.seen);
            self.seen = now;
        }
        count
    }
}
