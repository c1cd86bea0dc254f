//! The container side of crust: what runs in the child between `clone3`
//! and `execve`. It never sees the state directory or cgroup paths; it
//! gets the parsed spec (a copy of the parent's memory), a channel to the
//! parent, the exec fifo and the v1 cgroup files to move itself with, and
//! either ends in `execve` or sends its error to the parent and exits.
#![forbid(unsafe_code)]

mod bpf;
mod caps;
pub mod cgroup;
mod console;
mod dmz;
mod enosys;
pub mod error;
pub mod exec;
pub mod hooks;
pub mod lsm;
mod mount_options;
mod namespaces;
pub mod netlink;
mod process;
mod procfs;
pub mod protocol;
mod rootfs;
mod scheduling;
pub mod seccomp;
mod timeline;

use std::os::fd::OwnedFd;
use std::path::Path;

use oci_spec::runtime::Spec;
use rustix::fs::Mode;

pub use caps::all as capability_names;
pub use caps::number as capability_number;
pub use error::InitError;
pub use mount_options::parse as parse_mount_options;
pub use mount_options::recognized as recognized_mount_options;
pub use namespaces::Join;

/// A network device moved into the container, as the init finds it there.
#[derive(Debug, Clone)]
pub struct NetDevice {
    /// Its name in the container.
    pub name: String,
    /// Its permanent global addresses, to add again.
    pub addresses: Vec<netlink::Address>,
}
pub use caps::last_cap;
pub use process::is_known_rlimit;
pub use protocol::{Channel, ChannelError, Message};
pub use rootfs::destination_inside as mount_destination_inside;
pub use rootfs::idmap;
pub use rootfs::key_path as sysctl_key_path;
pub use rootfs::{
    is_bind as is_bind_mount, prepare_for_restore, resolved_destination, DEFAULT_DEVICES,
};
pub use scheduling::parse_cpu_list;

/// Everything the child needs, prepared by the parent before the fork.
pub struct Init<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    /// Absolute host path of the rootfs.
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub channel: Channel,
    /// What the init waits on before `execve`: the exec fifo opened
    /// read-write (`create`, released by `start`), or the read end of a
    /// pipe (`run`, released by the same process). Reading blocks until
    /// released.
    pub start_gate: OwnedFd,
    /// Time the setup phases (`--debug`).
    pub timed: bool,
    /// `linux.seccomp`, compiled by the runtime (`None`: no filter).
    pub seccomp: Option<seccomp::Compiled>,
    pub no_pivot: bool,
    /// Namespaces to join by path, opened and type-checked by the parent.
    pub joins: Vec<Join>,
    /// `CLONE_NEW*` flags to unshare after joining `joins` (when namespaces
    /// must be created inside joined ones); 0 when `clone3` made them all.
    pub unshare: u64,
    /// The container has a new user namespace.
    pub new_userns: bool,
    /// The container has a mount namespace of its own (new or joined).
    pub own_mount_ns: bool,
    /// The child has a cgroup namespace of its own.
    pub cgroupns: bool,
    /// Network devices the runtime moves into the container's network
    /// namespace before `Proceed`; the init restores their addresses and
    /// sets them up.
    pub net_devices: Vec<NetDevice>,
    /// Idmapped bind trees built by the runtime, attached as they are.
    pub prepared_mounts: Vec<rootfs::idmap::Prepared>,
    /// Where to send the pty master when `process.terminal` is set.
    pub console_socket: Option<OwnedFd>,
    /// Join a new session keyring of this name (none with `--no-new-keyring`).
    pub session_keyring: Option<std::ffi::CString>,
    /// File descriptors 3 .. 3+N are passed to the process.
    pub preserve_fds: u32,
    /// The signal mask to restore before `execve`.
    pub sigmask: sys::signal::SigMask,
    /// The container's v1 cgroups, which the child moves itself into first
    /// (its v2 cgroup it is born in).
    pub cgroup_tasks: Vec<cgroup::Tasks>,
    /// The highest capability the kernel knows, read by the runtime
    /// (`last_cap`: not from the container's `/proc`).
    pub last_cap: u32,
}

/// Set up the container and exec its process. Never returns.
pub fn run(mut init: Init<'_>) -> ! {
    use std::os::fd::{AsFd, AsRawFd};
    let held: Vec<i32> = [
        init.channel.as_fd().as_raw_fd(),
        init.start_gate.as_raw_fd(),
    ]
    .into_iter()
    .chain(init.joins.iter().map(|j| j.fd.as_raw_fd()))
    .chain(init.console_socket.iter().map(|s| s.as_raw_fd()))
    .chain(init.prepared_mounts.iter().map(|p| p.tree.as_raw_fd()))
    .chain(init.cgroup_tasks.iter().map(|t| t.file.as_raw_fd()))
    .collect();
    prepare_child(&held, init.preserve_fds, c"crust:[INIT]");
    let entered = cgroup::enter(std::mem::take(&mut init.cgroup_tasks));
    match entered.and_then(|()| setup(&init)) {
        Ok(mut pending) => {
            let ready = Message::Ready {
                phases: timeline::take(),
            };
            if init.channel.send(&ready).is_err() {
                sys::exec::exit_now(1);
            }
            if !wait_for_start(&init.start_gate) {
                sys::exec::exit_now(1);
            }
            // `start` has returned: a failing startContainer hook can only
            // be reported on the container's stderr, as with runc. The
            // hooks run as the process will, under its seccomp filter (as
            // in runc).
            if !hooks::of_kind(init.spec, hooks::Kind::StartContainer).is_empty() {
                let ran = pending.seal().and_then(|()| {
                    hooks::run_all(
                        init.spec,
                        hooks::Kind::StartContainer,
                        &hook_state(&init, "created"),
                    )
                });
                if let Err(e) = ran {
                    eprintln!("crust: {e}");
                    sys::exec::exit_now(1);
                }
            }
            // The parent is gone by now; stderr is the container's.
            eprintln!("crust: {}", launch(pending, &init.sigmask));
            sys::exec::exit_now(127)
        }
        Err(e) => {
            let _ = init.channel.send(&Message::Failed(e));
            sys::exec::exit_now(1)
        }
    }
}

/// What every child of the runtime does first: default signal
/// dispositions, only the descriptors it needs (stdio, the preserved ones
/// and `held`; the runtime's state-directory lock above all must not live
/// on), and a name, as runc names its init, so that `ps` shows what it is.
fn prepare_child(held: &[i32], preserve_fds: u32, name: &std::ffi::CStr) {
    sys::signal::reset_dispositions();
    let preserved = (3..3 + preserve_fds).filter_map(|fd| i32::try_from(fd).ok());
    let keep: Vec<i32> = held.iter().copied().chain(preserved).collect();
    let prepared = sys::fd::close_all_except(&keep).and_then(|()| rustix::thread::set_name(name));
    if prepared.is_err() {
        sys::exec::exit_now(1);
    }
}

/// Until `execve` the child holds runtime descriptors inside the
/// container's namespaces: non-dumpable, no process there can ptrace it or
/// open its `/proc/PID/fd` (execve restores dumpability for the container's
/// program). Not before its id maps are written, though: a rootless parent
/// may write `/proc/PID/uid_map` only while the child is dumpable.
pub(crate) fn make_undumpable() -> Result<(), InitError> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable).map_err(
        |e| InitError::Process {
            op: "prctl(PR_SET_DUMPABLE, 0)".into(),
            errno: e.into(),
        },
    )
}

/// The hooks of the create operation, run with the mounts made and before
/// the pivot: the runtime runs prestart and createRuntime hooks in its own
/// namespaces, then this process runs createContainer hooks in the
/// container's (paths still resolve from the host's root here, as
/// runtime.md says).
fn create_hooks(init: &Init<'_>) -> Result<(), InitError> {
    let in_runtime = [hooks::Kind::Prestart, hooks::Kind::CreateRuntime];
    if in_runtime
        .iter()
        .any(|k| !hooks::of_kind(init.spec, *k).is_empty())
    {
        init.channel
            .send(&Message::CreateRuntimeHooks)
            .map_err(|e| InitError::Channel {
                detail: e.to_string(),
            })?;
        namespaces::expect_proceed(&init.channel)?;
    }
    hooks::run_all(
        init.spec,
        hooks::Kind::CreateContainer,
        &hook_state(init, "creating"),
    )
}

/// The state a hook run by the init gets; its pid is the init's own, as
/// seen in the container (as runc gives it).
fn hook_state<'a>(init: &'a Init<'_>, status: &'a str) -> hooks::HookState<'a> {
    hooks::HookState {
        oci_version: init.spec.version(),
        id: init.id,
        status,
        pid: rustix::process::getpid().as_raw_nonzero().get(),
        bundle: init.bundle,
        annotations: init.spec.annotations().as_ref(),
    }
}

/// What is left for the very end, after the start gate: the seccomp
/// filter (loaded last, so that nothing crust does can be refused by it),
/// the capability sets it waited for, and the program to execute.
pub(crate) struct Launch {
    exe: process::Executable,
    /// The exec trampoline (`dmz`), when the program runs through it.
    dmz: Option<OwnedFd>,
    /// The filter still to load (`None`: no filter, or loaded already).
    filter: Option<seccomp::Compiled>,
    /// The process's capability sets, when it holds CAP_SYS_ADMIN only to
    /// load the filter without no_new_privs: set right after the load.
    caps: Option<process::CapSets>,
    /// `execCPUAffinity.final`.
    final_cpus: Option<String>,
}

impl Launch {
    /// Load the pending filter and drop what was kept for it. After this
    /// only `execve` (and, before it, startContainer hooks and the signal
    /// mask) is left.
    fn seal(&mut self) -> Result<(), InitError> {
        if let Some(cpus) = self.final_cpus.take() {
            scheduling::set_affinity(&cpus, "process.execCPUAffinity.final")?;
        }
        if let Some(filter) = self.filter.take() {
            seccomp::load(&filter)?;
        }
        if let Some(caps) = self.caps.take() {
            process::set_sets(&caps)?;
        }
        Ok(())
    }
}

/// Restore the caller's signal mask, seal and `execve`; returns only on
/// failure, with what failed.
fn launch(mut l: Launch, sigmask: &sys::signal::SigMask) -> InitError {
    if let Err(e) = sys::signal::restore(sigmask) {
        return InitError::Process {
            op: "restore the signal mask".into(),
            errno: e.into(),
        };
    }
    if let Err(e) = l.seal() {
        return e;
    }
    let errno = match &l.dmz {
        Some(dmz) => dmz::exec(dmz, &l.exe),
        None => sys::exec::execve(&l.exe.path, &l.exe.args, &l.exe.env),
    };
    InitError::Exec {
        path: std::path::PathBuf::from(l.exe.path.to_string_lossy().to_string()),
        errno: errno.into(),
    }
}

fn setup(init: &Init<'_>) -> Result<Launch, InitError> {
    namespaces::expect_proceed(&init.channel)?;
    if init.timed {
        timeline::enable();
    }
    // Nodes and directories get exactly the modes the config names.
    rustix::process::umask(Mode::empty());
    let in_userns = enter_namespaces(init)?;
    set_up_environment(init)?;
    timeline::mark("namespaces, names, keyring");
    rootfs::prepare(
        &rootfs::RootfsConfig {
            spec: init.spec,
            rootfs: init.rootfs,
            bundle: init.bundle,
            in_userns,
            cgroupns: init.cgroupns,
            no_pivot: init.no_pivot,
            own_mount_ns: init.own_mount_ns,
            prepared: &init.prepared_mounts,
        },
        &|| create_hooks(init),
    )?;
    let proc = init
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| InitError::Config {
            field: "process".into(),
            detail: "is required to start a container".into(),
        })?;
    let seccomp = init
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref());
    let launch = become_process(
        proc,
        init.last_cap,
        seccomp,
        init.seccomp.as_ref(),
        init.console_socket.as_ref(),
        init.preserve_fds,
        &init.channel,
    )?;
    timeline::mark("process: terminal, limits, user, capabilities, seccomp");
    Ok(launch)
}

/// Join and make the namespaces the clone did not; whether the process is
/// now in a user namespace.
fn enter_namespaces(init: &Init<'_>) -> Result<bool, InitError> {
    namespaces::join_all(&init.joins)?;
    if init.unshare != 0 {
        namespaces::unshare_all(&init.channel, init.unshare)?;
    }
    make_undumpable()?;
    let in_userns = init.new_userns || init.joins.iter().any(Join::is_user);
    if in_userns {
        // Until then the process has the host's ids, unmapped in there.
        namespaces::become_root()?;
    }
    Ok(in_userns)
}

/// Names, network devices, personality, memory policy and keyring: what
/// the container's namespaces hold besides its filesystem.
fn set_up_environment(init: &Init<'_>) -> Result<(), InitError> {
    set_names(init.spec)?;
    configure_net_devices(&init.net_devices)?;
    let linux = init.spec.linux().as_ref();
    if let Some(p) = linux.and_then(|l| l.personality().as_ref()) {
        scheduling::set_personality(p)?;
    }
    if let Some(p) = linux.and_then(|l| l.memory_policy().as_ref()) {
        scheduling::set_memory_policy(p)?;
    }
    if let Some(name) = &init.session_keyring {
        join_session_keyring(name)?;
    }
    Ok(())
}

fn set_names(spec: &Spec) -> Result<(), InitError> {
    if let Some(name) = spec.hostname() {
        rustix::system::sethostname(name.as_bytes())
            .map_err(|e| InitError::Hostname { errno: e.into() })?;
    }
    if let Some(name) = spec.domainname() {
        rustix::system::setdomainname(name.as_bytes())
            .map_err(|e| InitError::Domainname { errno: e.into() })?;
    }
    Ok(())
}

/// Give each moved device its addresses back and set it up.
fn configure_net_devices(devices: &[NetDevice]) -> Result<(), InitError> {
    if devices.is_empty() {
        return Ok(());
    }
    let err = |name: &str, op: &str| {
        let op = format!("linux.netDevices: {op} {name}");
        move |e: rustix::io::Errno| InitError::Process {
            op,
            errno: e.into(),
        }
    };
    let mut nl = netlink::Netlink::open().map_err(err("", "open a route netlink socket for"))?;
    for d in devices {
        let index = nl.link_index(&d.name).map_err(err(&d.name, "find"))?;
        for a in &d.addresses {
            nl.add_address(index, a)
                .map_err(err(&d.name, "add an address to"))?;
        }
        nl.set_up(index).map_err(err(&d.name, "set up"))?;
    }
    Ok(())
}

/// A keyring of the container's own, readable and writable by its
/// possessor and user only, as runc sets it. Kernels without keyrings
/// (ENOSYS) are tolerated, as in runc.
fn join_session_keyring(name: &std::ffi::CStr) -> Result<(), InitError> {
    const POSSESSOR_AND_USER_ALL: u32 = 0x3f3f_0000;
    let err = |e: rustix::io::Errno| InitError::Process {
        op: "join a new session keyring".into(),
        errno: e.into(),
    };
    match sys::keyring::join_session_keyring(name) {
        Ok(serial) => {
            sys::keyring::set_key_permissions(serial, POSSESSOR_AND_USER_ALL).map_err(err)
        }
        Err(rustix::io::Errno::NOSYS) => Ok(()),
        Err(e) => Err(err(e)),
    }
}

/// The process's terminal, rlimits, user, capabilities, `noNewPrivileges`
/// and cwd, in the order that keeps each step permitted: limits and the
/// bounding set while still root, then the uid change, then the final
/// capability sets. Returns what is left for `execve`, with every
/// descriptor but stdio and the preserved ones marked close-on-exec. The
/// seccomp filter waits in it, unless it notifies an agent: that one is
/// loaded here, since its descriptor must reach the parent before `Ready`.
pub(crate) fn become_process(
    proc: &oci_spec::runtime::Process,
    last_cap: u32,
    seccomp: Option<&oci_spec::runtime::LinuxSeccomp>,
    compiled: Option<&seccomp::Compiled>,
    console_socket: Option<&OwnedFd>,
    preserve_fds: u32,
    channel: &Channel,
) -> Result<Launch, InitError> {
    let dmz = dmz::prepare(seccomp)?;
    let affinity = proc.exec_cpu_affinity().as_ref();
    match affinity.and_then(|a| a.initial().as_deref()) {
        Some(cpus) => scheduling::set_affinity(cpus, "process.execCPUAffinity.initial")?,
        None => scheduling::reset_affinity()?,
    }
    // A session of its own, as runc's every process gets (nsexec's
    // setsid): its session and process group are inside its pid namespace,
    // which CRIU requires of the tree it dumps, and a terminal becomes the
    // controlling one of this session.
    rustix::process::setsid().map_err(|e| InitError::Process {
        op: "setsid".into(),
        errno: e.into(),
    })?;
    if let Some(socket) = console_socket {
        console::setup(socket, proc)?;
    }
    process::set_rlimits(proc.rlimits().as_deref().unwrap_or_default())?;
    // While the process still has CAP_SYS_NICE (and CAP_SYS_ADMIN for the
    // real-time I/O class).
    if let Some(p) = proc.io_priority() {
        scheduling::set_io_priority(p)?;
    }
    if let Some(s) = proc.scheduler() {
        scheduling::set_scheduler(s)?;
    }
    let nnp = proc.no_new_privileges().unwrap_or(false);
    let caps = process::CapSets::from_spec(proc.capabilities().as_ref(), last_cap)?;
    // Without no_new_privs, loading the filter needs CAP_SYS_ADMIN: the
    // process keeps it (effective, permitted) until the filter is in.
    let (now, later) = match caps.plus_sys_admin() {
        Some(interim) if compiled.is_some() && !nnp => (interim, Some(caps)),
        _ => (caps, None),
    };
    let cwd_reached = process::enter_cwd_as_runtime(proc.cwd())?;
    process::drop_bounding(&now)?;
    process::set_user(proc)?;
    process::apply_caps(&now)?;
    if nnp {
        rustix::thread::set_no_new_privs(true).map_err(|e| InitError::Process {
            op: "process.noNewPrivileges: prctl".into(),
            errno: e.into(),
        })?;
    }
    if !cwd_reached {
        process::enter_cwd(proc.cwd())?;
    }
    let exe = process::executable(proc)?;
    lsm::label_exec(proc)?;
    sys::fd::cloexec_from(3 + preserve_fds).map_err(|e| InitError::Process {
        op: "mark inherited descriptors close-on-exec".into(),
        errno: e.into(),
    })?;
    let mut launch = Launch {
        exe,
        dmz,
        filter: compiled.cloned(),
        caps: later,
        final_cpus: affinity.and_then(|a| a.cpu_affinity_final().clone()),
    };
    if let Some(f) = launch.filter.take_if(|f| f.notify) {
        load_filter(&f, channel)?;
    }
    Ok(launch)
}

/// Load `f`; if it notifies an agent, pass the notification descriptor to
/// the parent, which forwards it to `linux.seccomp.listenerPath`.
fn load_filter(f: &seccomp::Compiled, channel: &Channel) -> Result<(), InitError> {
    if let Some(fd) = seccomp::load(f)? {
        channel
            .send_with_fd(
                &Message::SeccompListener,
                Some(std::os::fd::AsFd::as_fd(&fd)),
            )
            .map_err(|e| InitError::Channel {
                detail: e.to_string(),
            })?;
    }
    Ok(())
}

/// Block until released (`crust start` writes to the fifo, or `run` to
/// the pipe). False if that cannot happen any more.
fn wait_for_start(gate: &OwnedFd) -> bool {
    let mut byte = [0u8; 1];
    loop {
        match rustix::io::read(gate, &mut byte) {
            Ok(1) => return true,
            Err(rustix::io::Errno::INTR) => continue,
            _ => return false,
        }
    }
}
