//! `crust exec`: start a new process in a running container, in all its
//! namespaces, as its config's process with the caller's overrides.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, LinuxNamespaceType, Process};
use rustix::process::Pid;
use sys::clone::Forked;

use crate::console::{self, ConsoleTarget};
use crate::error::{Error, Result};
use crate::kill::open_init;
use crate::namespaces::ForChildren;
use crate::spawn::kill_and_reap;
use crate::state::{StateDir, Status};

/// What `crust exec` may change in the container's process (runc's flags).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub args: Vec<String>,
    /// `KEY=value`, added to (and overriding) the container's environment.
    pub env: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub additional_gids: Vec<u32>,
    /// Capabilities added to the bounding, effective, permitted and ambient
    /// sets, never the inheritable one (CVE-2022-29162).
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub tty: bool,
}

/// The process `exec` runs: the container's own with `o` applied.
pub fn process_from_config(base: &Process, o: &Overrides) -> Result<Process> {
    let mut p = base.clone();
    if o.args.is_empty() {
        return Err(Error::NoCommand);
    }
    p.set_args(Some(o.args.clone()));
    p.set_env(Some(merge_env(
        base.env().as_deref().unwrap_or_default(),
        &o.env,
    )));
    if let Some(cwd) = &o.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(uid) = o.uid {
        p.user_mut().set_uid(uid);
    }
    if let Some(gid) = o.gid {
        p.user_mut().set_gid(gid);
    }
    if !o.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(o.additional_gids.clone()));
    }
    if !o.caps.is_empty() {
        add_caps(&mut p, &o.caps)?;
    }
    if o.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    p.set_terminal(Some(o.tty));
    Ok(p)
}

/// A `--process` file: a complete process.json.
pub fn process_from_file(path: &Path) -> Result<Process> {
    let text = std::fs::read(path).map_err(Error::io("read", path))?;
    let invalid = |field: String, detail: String| Error::Config {
        file: path.to_path_buf(),
        field,
        detail,
    };
    let mut value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| invalid("(top level)".into(), e.to_string()))?;
    crate::lenient::process(&mut value, "(process)");
    serde_path_to_error::deserialize(value).map_err(|e| Error::Config {
        file: path.to_path_buf(),
        field: e.path().to_string(),
        detail: e.inner().to_string(),
    })
}

/// Later entries win, as a shell's `export` would.
fn merge_env(base: &[String], extra: &[String]) -> Vec<String> {
    let key = |e: &String| e.split('=').next().unwrap_or_default().to_string();
    let mut out: Vec<String> = base
        .iter()
        .filter(|b| !extra.iter().any(|e| key(e) == key(b)))
        .cloned()
        .collect();
    out.extend(extra.iter().cloned());
    out
}

fn add_caps(p: &mut Process, names: &[String]) -> Result<()> {
    let mut caps = p.capabilities().clone().unwrap_or_default();
    for name in names {
        let full = if name.starts_with("CAP_") {
            name.clone()
        } else {
            format!("CAP_{name}")
        };
        let cap: Capability =
            serde_json::from_value(serde_json::Value::String(full.to_uppercase()))
                .map_err(|_| Error::UnknownCapability(name.clone()))?;
        type Get = fn(&LinuxCapabilities) -> &Option<Capabilities>;
        type Set = fn(&mut LinuxCapabilities, Option<Capabilities>) -> &mut LinuxCapabilities;
        let sets: [(Get, Set); 4] = [
            (LinuxCapabilities::bounding, LinuxCapabilities::set_bounding),
            (
                LinuxCapabilities::effective,
                LinuxCapabilities::set_effective,
            ),
            (
                LinuxCapabilities::permitted,
                LinuxCapabilities::set_permitted,
            ),
            (LinuxCapabilities::ambient, LinuxCapabilities::set_ambient),
        ];
        for (get, set) in sets {
            let mut with = get(&caps).clone().unwrap_or_default();
            with.insert(cap);
            set(&mut caps, Some(with));
        }
    }
    p.set_capabilities(Some(caps));
    Ok(())
}

/// The container to exec into, its state read once: the process is built
/// from this state's config (`process_from_config`) and started against
/// the same state.
pub struct Target {
    dir: StateDir,
    pub state: crate::state::State,
}

/// Read the state of container `id` under `root`.
pub fn target(root: &Path, id: &str) -> Result<Target> {
    let dir = StateDir::open(root, id)?;
    let state = dir.load()?;
    Ok(Target { dir, state })
}

pub struct ExecOptions<'a> {
    /// The state root (where compiled seccomp programs are kept).
    pub root: &'a Path,
    pub target: Target,
    pub process: Process,
    pub console: ConsoleTarget,
    pub detached: bool,
    pub pid_file: Option<&'a Path>,
    /// `--pidfd-socket`: where to send a pidfd of the process.
    pub pidfd_socket: Option<&'a Path>,
    pub preserve_fds: u32,
    pub sigmask: sys::signal::SigMask,
    /// `--ignore-paused`: exec into a paused container (the process stays
    /// frozen with it until it is resumed).
    pub ignore_paused: bool,
    /// `--cgroup`: sub-cgroups of the container's to run in.
    pub cgroup: Vec<String>,
}

/// A process started by `exec`, a child of this process.
#[derive(Debug)]
pub struct Executed {
    pub pid: Pid,
    pub pidfd: OwnedFd,
    /// The pty master, when crust itself holds the terminal.
    pub console: Option<OwnedFd>,
}

pub fn exec(opts: ExecOptions<'_>) -> Result<Executed> {
    let mut phases = crate::timing::Phases::start("exec");
    let Target { dir, state } = opts.target;
    let id = state.id.as_str();
    match dir.status(&state) {
        Status::Created | Status::Running => {}
        Status::Paused if opts.ignore_paused => {}
        Status::Paused => {
            return Err(Error::WrongState {
                action: "exec into",
                id: id.into(),
                status: "paused (use --ignore-paused to exec anyway)".into(),
            })
        }
        _ => return Err(Error::NotRunning { id: id.into() }),
    }
    let cgroup = match &state.cgroup {
        Some(c) => Some(c.sub_cgroup(&opts.cgroup)?),
        None if !opts.cgroup.is_empty() => return Err(Error::NoCgroup { id: id.into() }),
        None => None,
    };
    let cgroup_dir = cgroup
        .as_ref()
        .map(cgroups::Cgroup::open_unified)
        .transpose()?
        .flatten();
    let cgroup_tasks = cgroup
        .as_ref()
        .map(crate::cgroup::tasks_files)
        .transpose()?
        .unwrap_or_default();
    let container = open_init(&state).ok_or_else(|| Error::NotRunning { id: id.into() })?;
    let terminal = opts.process.terminal().unwrap_or(false);
    let target = if terminal {
        opts.console.clone()
    } else {
        ConsoleTarget::None
    };
    console::check(terminal, &opts.console, opts.detached)?;
    let types = crate::config::namespace_types(&state.config);
    let namespaces = types
        .iter()
        .filter(|t| **t != LinuxNamespaceType::Pid)
        .fold(0u64, |acc, t| acc | *t as u64);
    let (console_socket, our_end) = console::open(&target)?;
    let compiled = state
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(|s| crate::seccomp_cache::compiled(opts.root, s))
        .transpose()?;
    let linux = state.config.linux().as_ref();
    let (parent, child) = init::Channel::pair().map_err(Error::Channel)?;
    // The child appears in the container's pid namespace at the fork, next
    // to the container's processes: it must be non-dumpable from birth (the
    // flag is inherited), so that none of them can open its /proc/PID/exe,
    // crust's own binary (CVE-2019-5736), or its descriptors.
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(Error::sys("prctl(PR_SET_DUMPABLE, 0)"))?;
    let for_children = types
        .contains(&LinuxNamespaceType::Pid)
        .then(|| ForChildren::pid_namespace_of(&container))
        .transpose()?;
    let last_cap = init::last_cap();
    let forked = sys::clone::clone3(0, cgroup_dir.as_ref().map(std::os::fd::AsFd::as_fd))
        .map_err(Error::sys("clone3"))?;
    let (pid, pidfd) = match forked {
        Forked::Child => {
            drop(parent);
            init::exec::run(init::exec::Exec {
                process: &opts.process,
                seccomp: state
                    .config
                    .linux()
                    .as_ref()
                    .and_then(|l| l.seccomp().as_ref()),
                compiled: compiled.as_ref(),
                container,
                namespaces,
                channel: child,
                console_socket,
                preserve_fds: opts.preserve_fds,
                sigmask: opts.sigmask,
                cgroup_tasks,
                personality: linux.and_then(|l| l.personality().as_ref()),
                memory_policy: linux.and_then(|l| l.memory_policy().as_ref()),
                last_cap,
            })
        }
        Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    drop((for_children, child, console_socket, container, cgroup_tasks));
    phases.mark(&format!("clone3 (child {})", pid.as_raw_nonzero()));
    crate::fault::point("exec:forked");
    let result = until_exec(&parent, &state, pid)
        .inspect(|()| phases.mark("the child joined the container and executed the process"))
        .and_then(|()| {
            opts.pid_file.map_or(Ok(()), |p| {
                crate::create::write_pid_file(p, pid.as_raw_nonzero().get())
            })
        })
        .and_then(|()| {
            opts.pidfd_socket
                .map_or(Ok(()), |p| crate::pidfd_socket::send(p, &pidfd))
        })
        .and_then(|()| our_end.as_ref().map(console::receive_master).transpose());
    match result {
        Ok(console) => Ok(Executed {
            pid,
            pidfd,
            console,
        }),
        Err(e) => {
            kill_and_reap(&pidfd);
            Err(e)
        }
    }
}

/// Serve the exec child until it calls `execve`: the channel is
/// close-on-exec, so end-of-file means the program runs.
fn until_exec(channel: &init::Channel, state: &crate::state::State, pid: Pid) -> Result<()> {
    loop {
        match channel.recv_with_fd_within(crate::HANDSHAKE_TIMEOUT) {
            Err(init::ChannelError::Closed) => return Ok(()),
            Ok((init::Message::Failed(e), _)) => return Err(Error::Exec(e)),
            Ok((init::Message::SeccompListener, Some(fd))) => {
                let container = crate::hooks::state_of(state, "running");
                crate::seccomp_agent::forward(
                    &state.config,
                    fd,
                    pid.as_raw_nonzero().get(),
                    &container,
                )?;
            }
            Ok((other, _)) => return Err(Error::InitDied(format!("unexpected message {other:?}"))),
            Err(e) => return Err(Error::Channel(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Process {
        let spec: oci_spec::runtime::Spec = serde_json::from_str(crate::DEFAULT_CONFIG).unwrap();
        spec.process().clone().unwrap()
    }

    #[test]
    fn overrides_apply() {
        let o = Overrides {
            args: vec!["ls".into()],
            env: vec!["TERM=dumb".into(), "NEW=1".into()],
            cwd: Some("/tmp".into()),
            uid: Some(7),
            gid: Some(8),
            additional_gids: vec![9],
            tty: false,
            ..Overrides::default()
        };
        let p = process_from_config(&base(), &o).unwrap();
        assert_eq!(p.args().as_deref().unwrap(), ["ls"]);
        let env = p.env().as_deref().unwrap();
        assert!(env.contains(&"TERM=dumb".to_string()) && !env.contains(&"TERM=xterm".to_string()));
        assert!(env.iter().any(|e| e.starts_with("PATH=")) && env.contains(&"NEW=1".to_string()));
        assert_eq!((p.user().uid(), p.user().gid()), (7, 8));
        assert_eq!(p.user().additional_gids().as_deref().unwrap(), [9]);
        assert_eq!(p.cwd(), Path::new("/tmp"));
        assert_eq!(p.terminal(), Some(false));
    }

    #[test]
    fn added_caps_never_reach_the_inheritable_set() {
        let o = Overrides {
            args: vec!["sh".into()],
            caps: vec!["CAP_SYS_ADMIN".into(), "net_raw".into()],
            ..Overrides::default()
        };
        let p = process_from_config(&base(), &o).unwrap();
        let caps = p.capabilities().as_ref().unwrap();
        for set in [
            caps.bounding(),
            caps.effective(),
            caps.permitted(),
            caps.ambient(),
        ] {
            let set = set.as_ref().unwrap();
            assert!(set.contains(&Capability::SysAdmin) && set.contains(&Capability::NetRaw));
        }
        assert!(caps.inheritable().as_ref().is_none_or(|s| s.is_empty()));
        let bad = Overrides {
            args: vec!["sh".into()],
            caps: vec!["CAP_NOPE".into()],
            ..Overrides::default()
        };
        assert!(process_from_config(&base(), &bad).is_err());
    }
}
