//! Creating the container process: one `clone3` with the namespace flags,
//! then the parent's half of the handshake drawn in `init::protocol`.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use init::{Channel, Init, Message};
use oci_spec::runtime::Spec;
use rustix::process::{Pid, WaitId, WaitIdOptions};
use sys::clone::Forked;

use crate::error::{Error, Result};
use crate::hostproc;
use crate::namespaces::Plan;

/// What the caller of `spawn` chooses.
pub struct SpawnOptions<'a> {
    pub id: &'a str,
    /// The state root (where compiled seccomp programs are kept).
    pub root: &'a Path,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// Where the init sends the pty master, when `process.terminal` is set.
    pub console_socket: Option<OwnedFd>,
    /// The signal mask the container's process starts with; the caller may
    /// have blocked signals around the fork.
    pub sigmask: sys::signal::SigMask,
    /// The cgroup the init starts in: born into its v2 directory
    /// (`CLONE_INTO_CGROUP`), moved into v1 ones before it is released.
    pub cgroup: Option<&'a cgroups::Cgroup>,
}

/// What hooks are told about the container.
struct Names<'a> {
    id: &'a str,
    bundle: &'a Path,
}

/// A container init, set up and blocked before `execve`.
#[derive(Debug)]
pub struct Spawned {
    pub pid: Pid,
    pub pidfd: OwnedFd,
}

/// Fork the container init and drive it to `Ready`. On error the child is
/// killed and reaped: nothing is left running.
pub fn spawn(
    spec: &Spec,
    start_gate: OwnedFd,
    opts: SpawnOptions<'_>,
    phases: &mut crate::timing::Phases,
) -> Result<Spawned> {
    let mut plan = Plan::from_spec(spec)?;
    if opts.cgroup.is_some() {
        // A cgroup namespace is rooted where its creator is: the child
        // makes it only once it is in the container's cgroup.
        plan.defer_cgroup_namespace();
    }
    // A systemd unit's directory exists only once the unit is started
    // around the child.
    let cgroup_dir = opts
        .cgroup
        .filter(|c| c.unit.is_none())
        .map(cgroups::Cgroup::open_unified)
        .transpose()?
        .flatten();
    let cgroup_tasks = opts
        .cgroup
        .filter(|c| c.unit.is_none())
        .map(crate::cgroup::tasks_files)
        .transpose()?
        .unwrap_or_default();
    let (parent, child) = Channel::pair().map_err(Error::Channel)?;
    let session_keyring =
        (!opts.no_new_keyring).then(|| CString::new(opts.id).expect("ids have no NUL"));
    let prepared_mounts = init::idmap::prepare(
        spec,
        opts.bundle,
        opts.rootfs,
        &crate::userns::with_mappings,
        // Cloning a tree needs privilege over the runtime's own mounts: a
        // rootless runtime leaves its binds to the init.
        rustix::process::geteuid().is_root(),
    )?;
    let net_moves = crate::netdevices::plan(spec)?;
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(|s| crate::seccomp_cache::compiled(opts.root, s))
        .transpose()?;
    phases.mark("namespace paths, idmapped mounts, net devices, seccomp program");
    let last_cap = init::last_cap();
    let for_children = plan.enter_for_children()?;
    let forked = sys::clone::clone3(plan.clone_flags, cgroup_dir.as_ref().map(AsFd::as_fd))
        .map_err(|e| Error::sys(clone_failure(plan.clone_flags, e))(e))?;
    let (pid, pidfd) = match forked {
        Forked::Child => {
            drop(parent);
            init::run(Init {
                id: opts.id,
                spec,
                rootfs: opts.rootfs,
                bundle: opts.bundle,
                channel: child,
                start_gate,
                timed: log::log_enabled!(log::Level::Debug),
                seccomp,
                no_pivot: opts.no_pivot,
                joins: plan.joins,
                unshare: plan.unshare_in_child,
                new_userns: plan.new_user,
                own_mount_ns: !crate::shared_mounts::applies(spec),
                cgroupns: plan.cgroupns,
                console_socket: opts.console_socket,
                prepared_mounts,
                net_devices: net_moves.iter().map(|m| m.device.clone()).collect(),
                session_keyring,
                preserve_fds: opts.preserve_fds,
                sigmask: opts.sigmask,
                cgroup_tasks,
                last_cap,
            })
        }
        Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    drop((for_children, cgroup_tasks));
    drop(child);
    drop(start_gate);
    drop(opts.console_socket);
    let mut spawned = Spawned { pid, pidfd };
    phases.mark("clone3");
    let names = Names {
        id: opts.id,
        bundle: opts.bundle,
    };
    match crate::netdevices::move_into_container(&net_moves, &plan, spawned.pid)
        .and_then(|()| match opts.cgroup {
            // Otherwise the child moves itself (`init::cgroup`).
            Some(c) if c.unit.is_some() => {
                crate::cgroup::join_unit(spec, c, pid.as_raw_nonzero().get())
            }
            _ => Ok(()),
        })
        .and_then(|()| handshake(spec, &plan, &parent, &mut spawned, &names))
    {
        Ok(()) => {
            phases.mark("container set up (namespaces, rootfs, process) until Ready");
            Ok(spawned)
        }
        Err(e) => {
            kill_and_reap(&spawned.pidfd);
            Err(e)
        }
    }
}

/// What to say when `clone3` fails: the namespace limits and the sysctls
/// that switch user namespaces off are the usual causes.
fn clone_failure(flags: u64, errno: rustix::io::Errno) -> String {
    let user = flags & libc::CLONE_NEWUSER as u64 != 0;
    match errno {
        rustix::io::Errno::NOSPC => {
            "clone3 (creating the container's namespaces; hint: a limit in \
            /proc/sys/user/max_*_namespaces is reached)"
                .into()
        }
        rustix::io::Errno::PERM | rustix::io::Errno::ACCESS if user => {
            "clone3 (creating a user namespace; hint: user.max_user_namespaces may be 0, or \
             kernel.unprivileged_userns_clone / AppArmor may forbid it)"
                .into()
        }
        rustix::io::Errno::PERM => {
            "clone3 (creating the container's namespaces needs CAP_SYS_ADMIN; hint: run as root, \
             or rootless with a user namespace: crust spec --rootless)"
                .into()
        }
        _ => "clone3 (creating the container's process and namespaces)".into(),
    }
}

/// The parent's side: configure the child from outside, release it, serve
/// its requests, and wait for its verdict. `init` is replaced when the
/// child forks the real init into a new pid namespace.
fn handshake(
    spec: &Spec,
    plan: &Plan,
    channel: &Channel,
    init: &mut Spawned,
    names: &Names<'_>,
) -> Result<()> {
    let pid = init.pid.as_raw_nonzero().to_string();
    if plan.new_user && plan.unshare_in_child & libc::CLONE_NEWUSER as u64 == 0 {
        write_id_maps(spec, &pid)?;
    }
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        // The kernel lets a process lower its oom_score_adj only with
        // CAP_SYS_RESOURCE; a value the runtime may not set is an error
        // naming the field, never a silently different score.
        hostproc::write(&pid, "oom_score_adj", &adj.to_string()).map_err(|e| match e {
            Error::Sys { op, errno } if errno.0 == libc::EACCES => Error::Unsupported(format!(
                "process.oomScoreAdj: {op}: {errno} (the runtime may not lower it below its own \
                 oom_score_adj without CAP_SYS_RESOURCE)"
            )),
            other => other,
        })?;
    }
    log::debug!("container init {pid} configured from outside; releasing it");
    channel.send(&Message::Proceed).map_err(Error::Channel)?;
    loop {
        let (msg, fd) = match channel.recv_with_fd_within(crate::HANDSHAKE_TIMEOUT) {
            Ok(received) => received,
            Err(init::ChannelError::Closed) => {
                return Err(Error::InitDied("no message from it".into()))
            }
            Err(e) => return Err(Error::Channel(e)),
        };
        match (msg, fd) {
            (Message::SeccompListener, Some(fd)) => {
                let state = hook_state(spec, names, init.pid, "creating");
                crate::seccomp_agent::forward(spec, fd, init.pid.as_raw_nonzero().get(), &state)?;
            }
            (Message::Ready { phases }, _) => {
                for (phase, us) in phases {
                    log::debug!("create phase (init) {phase}: {us}µs");
                }
                return Ok(());
            }
            (Message::Failed(e), _) => return Err(Error::Init(e)),
            (Message::MapIds, _) => {
                write_id_maps(spec, &init.pid.as_raw_nonzero().to_string())?;
                channel.send(&Message::Proceed).map_err(Error::Channel)?;
            }
            (Message::Forked { pid }, _) => adopt(init, pid)?,
            (Message::CreateRuntimeHooks, _) => {
                let state = hook_state(spec, names, init.pid, "creating");
                for kind in [
                    init::hooks::Kind::Prestart,
                    init::hooks::Kind::CreateRuntime,
                ] {
                    init::hooks::run_all(spec, kind, &state).map_err(Error::Hook)?;
                }
                channel.send(&Message::Proceed).map_err(Error::Channel)?;
            }
            (other, _) => {
                return Err(Error::InitDied(format!(
                    "it sent {other:?}, which the runtime does not expect"
                )))
            }
        }
    }
}

/// The state hooks and the seccomp agent are given during create.
fn hook_state<'a>(
    spec: &'a Spec,
    names: &'a Names<'_>,
    pid: Pid,
    status: &'a str,
) -> init::hooks::HookState<'a> {
    init::hooks::HookState {
        oci_version: spec.version(),
        id: names.id,
        status,
        pid: pid.as_raw_nonzero().get(),
        bundle: names.bundle,
        annotations: spec.annotations().as_ref(),
    }
}

/// The child forked the init (our child too, by `CLONE_PARENT`) and exits:
/// reap the child, and follow the init from now on.
fn adopt(init: &mut Spawned, pid: i32) -> Result<()> {
    let new_pid =
        Pid::from_raw(pid).ok_or_else(|| Error::InitDied(format!("it reported pid {pid}")))?;
    // Our child: its pid cannot be reused before we reap it, so opening a
    // pidfd by number is race-free.
    let pidfd = rustix::process::pidfd_open(new_pid, rustix::process::PidfdFlags::empty())
        .map_err(Error::sys(format!("pidfd_open {pid}")))?;
    let _ = rustix::process::waitid(WaitId::PidFd(init.pidfd.as_fd()), WaitIdOptions::EXITED);
    init.pid = new_pid;
    init.pidfd = pidfd;
    Ok(())
}

/// Written by the parent, which holds the host privileges (or the
/// helpers) the kernel checks, while the child waits.
fn write_id_maps(spec: &Spec, pid: &str) -> Result<()> {
    let linux = spec.linux().as_ref();
    let uid = linux
        .and_then(|l| l.uid_mappings().as_deref())
        .unwrap_or_default();
    let gid = linux
        .and_then(|l| l.gid_mappings().as_deref())
        .unwrap_or_default();
    crate::idmaps::write(pid, uid, gid)
}

/// SIGKILL the child and collect its exit status, so a failed create
/// leaves neither a process nor a zombie.
pub(crate) fn kill_and_reap(pidfd: &OwnedFd) {
    let _ = rustix::process::pidfd_send_signal(pidfd, rustix::process::Signal::KILL);
    let _ = rustix::process::waitid(
        WaitId::PidFd(std::os::fd::AsFd::as_fd(pidfd)),
        WaitIdOptions::EXITED,
    );
}

#[cfg(test)]
mod tests {
    use super::clone_failure;
    use rustix::io::Errno;

    #[test]
    fn clone_failures_carry_a_hint() {
        let user = libc::CLONE_NEWUSER as u64;
        assert!(clone_failure(user, Errno::NOSPC).contains("max_*_namespaces"));
        assert!(clone_failure(user, Errno::PERM).contains("user.max_user_namespaces"));
        assert!(clone_failure(0, Errno::PERM).contains("CAP_SYS_ADMIN"));
        assert!(clone_failure(0, Errno::NOMEM).starts_with("clone3"));
    }
}
