//! `crust exec`: a new process inside a running container. The parent put
//! it in the container's pid namespace (which only affects children); here
//! it joins every other namespace of the container's init through the
//! init's pidfd, in one `setns` call, then becomes the configured process.
//!
//! There is no `Ready`: the channel is close-on-exec, so a successful
//! `execve` shows as end-of-file to the parent, and a failure arrives as
//! `Failed`.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use oci_spec::runtime::Process;
use rustix::thread::ThreadNameSpaceType;

use crate::error::InitError;
use crate::protocol::{Channel, Message};

/// Everything the exec child needs, prepared by the parent.
pub struct Exec<'a> {
    pub process: &'a Process,
    /// The container's filter, which the new process gets too.
    pub seccomp: Option<&'a oci_spec::runtime::LinuxSeccomp>,
    /// That filter, compiled by the runtime.
    pub compiled: Option<&'a crate::seccomp::Compiled>,
    /// A pidfd of the container's init.
    pub container: OwnedFd,
    /// `CLONE_NEW*` flags of the namespaces to join (all but pid).
    pub namespaces: u64,
    pub channel: Channel,
    pub console_socket: Option<OwnedFd>,
    pub preserve_fds: u32,
    pub sigmask: sys::signal::SigMask,
    /// The container's v1 cgroups, which the child moves itself into
    /// before anything else (its v2 cgroup it is born in).
    pub cgroup_tasks: Vec<crate::cgroup::Tasks>,
    /// The container's `linux.personality` and `linux.memoryPolicy`, which
    /// its processes share.
    pub personality: Option<&'a oci_spec::runtime::LinuxPersonality>,
    pub memory_policy: Option<&'a oci_spec::runtime::LinuxMemoryPolicy>,
    /// The highest capability the kernel knows, read by the runtime
    /// (`crate::last_cap`: not from the container's `/proc`).
    pub last_cap: u32,
}

/// Join the container and exec the process. Never returns.
pub fn run(mut e: Exec<'_>) -> ! {
    let held: Vec<i32> = [e.channel.as_fd().as_raw_fd(), e.container.as_raw_fd()]
        .into_iter()
        .chain(e.console_socket.iter().map(|s| s.as_raw_fd()))
        .chain(e.cgroup_tasks.iter().map(|t| t.file.as_raw_fd()))
        .collect();
    crate::prepare_child(&held, e.preserve_fds, c"crust:[EXEC]");
    let entered = crate::cgroup::enter(std::mem::take(&mut e.cgroup_tasks));
    let failure = match entered.and_then(|()| setup(&e)) {
        Ok(launch) => crate::launch(launch, &e.sigmask),
        Err(err) => err,
    };
    let _ = e.channel.send(&Message::Failed(failure));
    sys::exec::exit_now(127)
}

fn setup(e: &Exec<'_>) -> Result<crate::Launch, InitError> {
    crate::make_undumpable()?;
    let types = u32::try_from(e.namespaces)
        .ok()
        .map(ThreadNameSpaceType::from_bits_retain);
    let types = types.ok_or_else(|| InitError::Config {
        field: "linux.namespaces".into(),
        detail: "bad flags".into(),
    })?;
    if !types.is_empty() {
        rustix::thread::move_into_thread_name_spaces(e.container.as_fd(), types).map_err(
            |err| InitError::Process {
                op: "join the container's namespaces".into(),
                errno: err.into(),
            },
        )?;
    }
    if let Some(p) = e.personality {
        crate::scheduling::set_personality(p)?;
    }
    if let Some(p) = e.memory_policy {
        crate::scheduling::set_memory_policy(p)?;
    }
    if let Some(adj) = e.process.oom_score_adj() {
        crate::process::set_oom_score_adj(adj)?;
    }
    crate::become_process(
        e.process,
        e.last_cap,
        e.seccomp,
        e.compiled,
        e.console_socket.as_ref(),
        e.preserve_fds,
        &e.channel,
    )
}
