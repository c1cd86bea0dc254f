//! How the config's namespaces are made: new ones by `clone3` flags, joined
//! ones opened and type-checked here, before the fork.
//!
//! pid and time namespaces are special: joining or creating one changes
//! only the namespace of the caller's *children*, so the parent does it
//! itself around the `clone3` (and restores its own afterwards). That is
//! also the only way to set time offsets, which must be written before the
//! first process enters the namespace.

use std::os::fd::OwnedFd;
use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use rustix::fs::{Mode, OFlags};
use rustix::thread::LinkNameSpaceType;

use crate::error::{Error, Result};

/// The namespace part of the spawn.
pub(crate) struct Plan {
    /// `CLONE_NEW*` flags for `clone3`.
    pub clone_flags: u64,
    /// `CLONE_NEW*` flags the child unshares after joining `joins`.
    pub unshare_in_child: u64,
    /// Joined in the child, after the fork.
    pub joins: Vec<init::Join>,
    /// pid/time namespaces entered by the parent for its children.
    for_children: Vec<init::Join>,
    /// A new time namespace with these offsets (file format of
    /// `/proc/PID/timens_offsets`).
    new_time: Option<String>,
    pub new_user: bool,
    pub cgroupns: bool,
}

fn kinds(t: LinuxNamespaceType) -> (LinkNameSpaceType, &'static str) {
    use LinkNameSpaceType as L;
    match t {
        LinuxNamespaceType::Mount => (L::Mount, "mount"),
        LinuxNamespaceType::Cgroup => (L::ControlGroup, "cgroup"),
        LinuxNamespaceType::Uts => (L::HostNameAndNISDomainName, "uts"),
        LinuxNamespaceType::Ipc => (L::InterProcessCommunication, "ipc"),
        LinuxNamespaceType::User => (L::User, "user"),
        LinuxNamespaceType::Pid => (L::ProcessID, "pid"),
        LinuxNamespaceType::Network => (L::Network, "network"),
        LinuxNamespaceType::Time => (L::Time, "time"),
    }
}

fn field_error(i: usize, detail: String) -> Error {
    Error::Config {
        file: "config.json".into(),
        field: format!("linux.namespaces[{i}]"),
        detail,
    }
}

/// Open `path` and check it is a namespace of type `kind`.
fn open_namespace(
    i: usize,
    path: &Path,
    kind: LinkNameSpaceType,
    name: &'static str,
) -> Result<init::Join> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| field_error(i, format!("open {path:?}: {}", init::error::Errno::from(e))))?;
    match sys::ns::namespace_type(&fd) {
        Ok(t) if t as u32 == kind as u32 => Ok(init::Join {
            kind,
            name,
            path: path.to_path_buf(),
            fd,
        }),
        Ok(_) => Err(field_error(
            i,
            format!("{path:?} is not a {name} namespace"),
        )),
        Err(_) => Err(field_error(i, format!("{path:?} is not a namespace file"))),
    }
}

impl Plan {
    pub(crate) fn from_spec(spec: &Spec) -> Result<Plan> {
        let mut plan = Plan {
            clone_flags: 0,
            unshare_in_child: 0,
            joins: Vec::new(),
            for_children: Vec::new(),
            new_time: None,
            new_user: false,
            cgroupns: false,
        };
        let linux = spec.linux().as_ref();
        for (i, ns) in linux
            .and_then(|l| l.namespaces().as_ref())
            .into_iter()
            .flatten()
            .enumerate()
        {
            let (kind, name) = kinds(ns.typ());
            match (ns.path(), ns.typ()) {
                (Some(path), LinuxNamespaceType::Pid | LinuxNamespaceType::Time) => {
                    plan.for_children.push(open_namespace(i, path, kind, name)?)
                }
                (Some(path), _) => plan.joins.push(open_namespace(i, path, kind, name)?),
                (None, LinuxNamespaceType::Time) => plan.new_time = Some(time_offsets(spec)),
                (None, t) => plan.clone_flags |= t as u64,
            }
            match ns.typ() {
                LinuxNamespaceType::User => plan.new_user = ns.path().is_none(),
                LinuxNamespaceType::Cgroup => plan.cgroupns = true,
                _ => {}
            }
        }
        plan.order_around_joins();
        Ok(plan)
    }

    /// A namespace joined by path belongs to some user namespace: a new
    /// user namespace made first would lack the privilege to join it, and
    /// namespaces made before joining a user namespace would belong to the
    /// host's. In those cases the child joins first and then unshares what
    /// `clone3` would have created.
    fn order_around_joins(&mut self) {
        let joins_user = self.joins.iter().any(init::Join::is_user);
        let joins_other = self.joins.iter().any(|j| !j.is_user());
        if joins_user || (self.new_user && joins_other) {
            self.unshare_in_child = std::mem::take(&mut self.clone_flags);
        }
    }

    /// Have the child unshare its new cgroup namespace after the fork
    /// rather than `clone3` make it, so that its root is the container's
    /// cgroup (where the parent has put the child by then), not the
    /// runtime's.
    pub(crate) fn defer_cgroup_namespace(&mut self) {
        let flag = libc::CLONE_NEWCGROUP as u64;
        if self.clone_flags & flag != 0 {
            self.clone_flags &= !flag;
            self.unshare_in_child |= flag;
        }
    }

    /// Put the parent's pid/time namespaces for children in place. The
    /// returned guard restores the parent's own when dropped, right after
    /// the fork.
    pub(crate) fn enter_for_children(&self) -> Result<ForChildren> {
        let mut guard = ForChildren {
            restore: Vec::new(),
        };
        for j in &self.for_children {
            guard.save(j.kind)?;
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&j.fd),
                Some(j.kind),
            )
            .map_err(Error::sys(format!(
                "join {} namespace {:?}",
                j.name, j.path
            )))?;
        }
        if let Some(offsets) = &self.new_time {
            guard.save(LinkNameSpaceType::Time)?;
            sys::ns::unshare_namespaces(libc::CLONE_NEWTIME as u64)
                .map_err(Error::sys("unshare a time namespace"))?;
            if !offsets.is_empty() {
                crate::hostproc::write("self", "timens_offsets", offsets)?;
            }
        }
        Ok(guard)
    }
}

/// `linux.timeOffsets` in the format of `/proc/PID/timens_offsets`.
fn time_offsets(spec: &Spec) -> String {
    let offsets = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref());
    let mut lines: Vec<String> = offsets
        .into_iter()
        .flatten()
        .map(|(clock, o)| {
            format!(
                "{clock} {} {}\n",
                o.secs().unwrap_or(0),
                o.nanosecs().unwrap_or(0)
            )
        })
        .collect();
    lines.sort();
    lines.concat()
}

/// Restores the parent's namespaces for children on drop.
pub(crate) struct ForChildren {
    restore: Vec<(OwnedFd, LinkNameSpaceType)>,
}

impl ForChildren {
    /// Children of this process start in the pid namespace of the process
    /// `pidfd` refers to (for `exec`), until the guard is dropped.
    pub(crate) fn pid_namespace_of(pidfd: &OwnedFd) -> Result<ForChildren> {
        let mut guard = ForChildren {
            restore: Vec::new(),
        };
        guard.save(LinkNameSpaceType::ProcessID)?;
        rustix::thread::move_into_thread_name_spaces(
            std::os::fd::AsFd::as_fd(pidfd),
            rustix::thread::ThreadNameSpaceType::PROCESS_ID,
        )
        .map_err(Error::sys("join the container's pid namespace"))?;
        Ok(guard)
    }

    fn save(&mut self, kind: LinkNameSpaceType) -> Result<()> {
        let path = match kind {
            LinkNameSpaceType::Time => "/proc/self/ns/time_for_children",
            _ => "/proc/self/ns/pid_for_children",
        };
        let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(Error::sys(format!("open {path}")))?;
        self.restore.push((fd, kind));
        Ok(())
    }
}

impl Drop for ForChildren {
    fn drop(&mut self) {
        for (fd, kind) in self.restore.drain(..).rev() {
            if let Err(e) =
                rustix::thread::move_into_link_name_space(std::os::fd::AsFd::as_fd(&fd), Some(kind))
            {
                log::warn!("restore the runtime's own {kind:?} namespace: {e}");
            }
        }
    }
}
