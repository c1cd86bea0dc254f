//! `crust create`: set the container up and leave its process blocked
//! before `execve`.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustix::fs::Mode;

use std::os::fd::OwnedFd;

use crate::config;
use crate::console::{self, ConsoleTarget};
use crate::error::{Error, Result};
use crate::spawn::{self, SpawnOptions, Spawned};
use crate::state::{State, StateDir};

pub struct CreateOptions<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    /// `--pidfd-socket`: where to send a pidfd of the init.
    pub pidfd_socket: Option<&'a Path>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// Socket-activation descriptors (`LISTEN_FDS`) to pass on: they come
    /// first, from fd 3, and the process is told with `LISTEN_FDS=N` and
    /// `LISTEN_PID=1`.
    pub listen_fds: u32,
    pub console: ConsoleTarget,
    /// `create`, or `run --detach`: crust will not wait for the container.
    pub detached: bool,
    /// `run`: this process starts the container itself (through a pipe,
    /// without an exec fifo in the state directory).
    pub starts_now: bool,
    pub sigmask: sys::signal::SigMask,
    /// `--systemd-cgroup`: the cgroup is a systemd unit.
    pub systemd_cgroup: bool,
}

/// A created container, still locked by this command.
#[derive(Debug)]
pub struct Created {
    pub dir: StateDir,
    pub state: State,
    pub init: Spawned,
    /// The pty master, when crust itself holds the terminal.
    pub console: Option<OwnedFd>,
    /// How this process releases the init, when it starts it itself.
    pub gate: Option<OwnedFd>,
}

pub fn create(opts: &CreateOptions<'_>) -> Result<Created> {
    let mut phases = crate::timing::Phases::start("create");
    let bundle =
        std::fs::canonicalize(opts.bundle).map_err(Error::io("open bundle", opts.bundle))?;
    let mut spec = config::load(&bundle)?;
    phases.mark("load and validate config.json");
    if opts.listen_fds > 0 {
        if let Some(process) = spec.process_mut() {
            let mut env = process.env().clone().unwrap_or_default();
            env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
            env.extend([
                format!("LISTEN_FDS={}", opts.listen_fds),
                "LISTEN_PID=1".to_string(),
            ]);
            process.set_env(Some(env));
        }
    }
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let target = if terminal {
        opts.console.clone()
    } else {
        ConsoleTarget::None
    };
    console::check(terminal, &opts.console, opts.detached)?;
    if opts.no_pivot && crate::shared_mounts::applies(&spec) {
        // --no-pivot hides the host's proc and sys in the container's mount
        // namespace: in the runtime's own, that would be the host's.
        return Err(Error::Unsupported(
            "--no-pivot: needs a mount namespace of the container's own (linux.namespaces has no \"mount\")".into(),
        ));
    }
    let rootfs = checked_rootfs(&config::rootfs_path(&spec, &bundle))?;
    let dir = StateDir::create(opts.root, opts.id)?;
    phases.mark("state directory");
    match create_in(&dir, opts, &spec, &bundle, &rootfs, &target, &mut phases) {
        Ok((state, init, console, gate)) => Ok(Created {
            dir,
            state,
            init,
            console,
            gate,
        }),
        Err(e) => {
            if let Err(cleanup) = dir.remove() {
                log::warn!("cleaning up after a failed create: {cleanup}");
            }
            Err(e)
        }
    }
}

pub(crate) fn checked_rootfs(path: &Path) -> Result<PathBuf> {
    let rootfs = std::fs::canonicalize(path).map_err(Error::io("root.path: open rootfs", path))?;
    if !rootfs.is_dir() {
        return Err(Error::Config {
            file: "config.json".into(),
            field: "root.path".into(),
            detail: format!("{rootfs:?} is not a directory"),
        });
    }
    Ok(rootfs)
}

fn create_in(
    dir: &StateDir,
    opts: &CreateOptions<'_>,
    spec: &oci_spec::runtime::Spec,
    bundle: &Path,
    rootfs: &Path,
    console_target: &ConsoleTarget,
    phases: &mut crate::timing::Phases,
) -> Result<(State, Spawned, Option<OwnedFd>, Option<OwnedFd>)> {
    let mut state = State {
        oci_version: spec.version().clone(),
        id: opts.id.to_string(),
        pid: None,
        init_start_time: 0,
        bundle: bundle.to_path_buf(),
        rootfs: rootfs.to_path_buf(),
        created: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        config: spec.clone(),
        cgroup: Some(crate::cgroup::plan(spec, opts.id, opts.systemd_cgroup)?),
    };
    dir.save(&state)?;
    crate::fault::point("create:recorded");
    let planned = state.cgroup.clone().expect("planned above");
    if !crate::cgroup::set_up(spec, &planned)? {
        state.cgroup = None;
    }
    crate::fault::point("create:cgroup");
    phases.mark("cgroup made and limited");
    let spawned = (|| {
        let (init_end, gate) = if opts.starts_now {
            let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(Error::sys("pipe"))?;
            (read, Some(write))
        } else {
            (open_exec_fifo(dir)?, None)
        };
        let (console_socket, our_end) = console::open(console_target)?;
        let spawn_opts = SpawnOptions {
            id: opts.id,
            root: opts.root,
            rootfs,
            bundle,
            no_pivot: opts.no_pivot,
            no_new_keyring: opts.no_new_keyring,
            preserve_fds: opts.listen_fds + opts.preserve_fds,
            console_socket,
            sigmask: opts.sigmask,
            cgroup: state.cgroup.as_ref(),
        };
        let init = spawn::spawn(spec, init_end, spawn_opts, phases)?;
        crate::fault::point("create:spawned");
        let pid = init.pid.as_raw_nonzero().get();
        state.pid = Some(pid);
        let recorded = crate::procinfo::start_time(pid).and_then(|t| {
            state.init_start_time = t;
            dir.save(&state).ok()
        });
        let finished = recorded
            .ok_or_else(|| Error::InitDied("it exited right after setup".into()))
            .and_then(|()| opts.pid_file.map_or(Ok(()), |p| write_pid_file(p, pid)))
            .and_then(|()| {
                opts.pidfd_socket
                    .map_or(Ok(()), |p| crate::pidfd_socket::send(p, &init.pidfd))
            })
            .and_then(|()| our_end.as_ref().map(console::receive_master).transpose());
        phases.mark("state and pid file written");
        crate::fault::point("create:saved");
        match finished {
            Ok(master) => Ok((init, master, gate)),
            Err(e) => {
                spawn::kill_and_reap(&init.pidfd);
                Err(e)
            }
        }
    })();
    match spawned {
        Ok((init, master, gate)) => Ok((state, init, master, gate)),
        Err(e) => {
            if let Some(cgroup) = &state.cgroup {
                if let Err(cleanup) = cgroup.destroy() {
                    log::warn!("removing the cgroup after a failed create: {cleanup}");
                }
            }
            Err(e)
        }
    }
}

/// The fifo `start` writes to. The init holds it open read-write, so that
/// opening it never blocks and its reads wait for `start`'s byte.
fn open_exec_fifo(dir: &StateDir) -> Result<std::os::fd::OwnedFd> {
    let path = dir.fifo_path();
    rustix::fs::mkfifoat(rustix::fs::CWD, &path, Mode::from_bits_truncate(0o600))
        .map_err(Error::sys(format!("mkfifo {path:?}")))?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&path)
        .map_err(Error::io("open", &path))?;
    Ok(file.into())
}

/// Written atomically, like runc: engines poll for the file and must never
/// read a partial pid.
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, pid.to_string()).map_err(Error::io("write pid file", &tmp))?;
    std::fs::rename(&tmp, path).map_err(Error::io("write pid file", path))
}
