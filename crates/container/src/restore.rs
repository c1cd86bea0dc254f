//! `crust restore`: a container made again from CRIU's images, with the
//! bundle's config: same id or a new one, its cgroup made and limited as
//! at create, its bind mounts and joined namespaces handed back, its
//! prestart and createRuntime hooks run once CRIU has made the
//! namespaces, and its pty master sent to `--console-socket`.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::SystemTime;

use criu::rpc::{CgroupRoot, InheritFd, JoinNamespace, Req, ReqType};
use criu::{Notification, Swrk, Version};
use oci_spec::runtime::{LinuxNamespaceBuilder, LinuxNamespaceType, Spec};
use rustix::process::{Pid, PidfdFlags};

use crate::console::{self, ConsoleTarget};
use crate::cr::{self, Criu, CriuOptions};
use crate::error::{Error, Result};
use crate::spawn::Spawned;
use crate::state::{State, StateDir};

const LOG_FILE: &str = "restore.log";

pub struct RestoreOptions<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub criu: &'a CriuOptions,
    pub pid_file: Option<&'a Path>,
    pub console: ConsoleTarget,
    /// `--detach`: crust will not wait for the container.
    pub detached: bool,
    /// `--lsm-profile TYPE:NAME`, `--lsm-mount-context`.
    pub lsm_profile: Option<&'a str>,
    pub lsm_mount_context: Option<&'a str>,
    pub systemd_cgroup: bool,
    /// The signal mask CRIU (and so the restored tree's creator) runs with.
    pub sigmask: sys::signal::SigMask,
}

/// A restored container, still locked by this command.
#[derive(Debug)]
pub struct Restored {
    pub dir: StateDir,
    pub state: State,
    pub init: Spawned,
    /// The pty master, when crust itself holds the terminal.
    pub console: Option<OwnedFd>,
}

pub fn restore(opts: &RestoreOptions<'_>) -> Result<Restored> {
    let bundle =
        std::fs::canonicalize(opts.bundle).map_err(Error::io("open bundle", opts.bundle))?;
    let spec = crate::config::load(&bundle)?;
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    console::check(terminal, &opts.console, opts.detached)?;
    let rootfs = crate::create::checked_rootfs(&crate::config::rootfs_path(&spec, &bundle))?;
    let criu = Criu::probe(opts.criu)?;
    if opts.lsm_profile.is_some() || opts.lsm_mount_context.is_some() {
        // Older CRIUs cannot set another LSM profile (runc's check).
        criu.require(
            Version::new(3, 16, 0),
            "--lsm-profile and --lsm-mount-context",
        )?;
    }
    // The restore runs in a mount namespace of its own (a slave of the
    // host's): the rootfs bound for CRIU, and the mounts CRIU makes in its
    // work directory, never reach the host's mount table. Before the
    // image and work directories are opened: CRIU makes its cgroup yard
    // in the work directory it reaches through crust's descriptor, which
    // must be a mount of that namespace.
    sys::ns::unshare_namespaces(libc::CLONE_NEWNS as u64)
        .map_err(Error::sys("unshare a mount namespace for the restore"))?;
    let images = cr::open_dir(&opts.criu.image_path, "--image-path", false)?;
    let descriptors = read_descriptors(&opts.criu.image_path)?;
    let dir = StateDir::create(opts.root, opts.id)?;
    let target = if terminal {
        opts.console.clone()
    } else {
        ConsoleTarget::None
    };
    let setup = Setup {
        opts,
        criu: &criu,
        spec: &spec,
        bundle: &bundle,
        rootfs: &rootfs,
        target: &target,
    };
    match setup.run(&dir, &images, &descriptors) {
        Ok((state, init, console)) => Ok(Restored {
            dir,
            state,
            init,
            console,
        }),
        Err(e) => {
            if let Err(cleanup) = dir.remove() {
                log::warn!("cleaning up after a failed restore: {cleanup}");
            }
            Err(e)
        }
    }
}

/// runc's `descriptors.json`: what the dumped process's stdio were.
fn read_descriptors(images: &Path) -> Result<Vec<String>> {
    let file = images.join(cr::DESCRIPTORS_FILE);
    let text = std::fs::read(&file).map_err(|e| Error::Flag {
        flag: "--image-path".into(),
        detail: format!("read {file:?}: {e} (is it a checkpoint's image directory?)"),
    })?;
    serde_json::from_slice(&text).map_err(|e| Error::Flag {
        flag: "--image-path".into(),
        detail: format!("{file:?}: {e}"),
    })
}

struct Setup<'a> {
    opts: &'a RestoreOptions<'a>,
    criu: &'a Criu<'a>,
    spec: &'a Spec,
    bundle: &'a Path,
    rootfs: &'a Path,
    target: &'a ConsoleTarget,
}

impl Setup<'_> {
    fn run(
        &self,
        dir: &StateDir,
        images: &OwnedFd,
        descriptors: &[String],
    ) -> Result<(State, Spawned, Option<OwnedFd>)> {
        let mut state = State {
            oci_version: self.spec.version().clone(),
            id: self.opts.id.to_string(),
            pid: None,
            init_start_time: 0,
            bundle: self.bundle.to_path_buf(),
            rootfs: self.rootfs.to_path_buf(),
            created: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
            annotations: self.spec.annotations().clone().unwrap_or_default(),
            config: self.spec.clone(),
            cgroup: Some(crate::cgroup::plan(
                self.spec,
                self.opts.id,
                self.opts.systemd_cgroup,
            )?),
        };
        dir.save(&state)?;
        let planned = state.cgroup.clone().expect("planned above");
        if !crate::cgroup::set_up(self.spec, &planned)? {
            state.cgroup = None;
        }
        let criu_root = dir.path.join("criu-root");
        let restored = std::fs::create_dir(&criu_root)
            .map_err(Error::io("create", &criu_root))
            .and_then(|()| self.restore(dir, &mut state, images, descriptors, &criu_root));
        // Bound in this process's own mount namespace only.
        let _ = rustix::mount::unmount(&criu_root, rustix::mount::UnmountFlags::DETACH);
        let _ = std::fs::remove_dir(&criu_root);
        match restored {
            Ok((init, master)) => Ok((state, init, master)),
            Err(e) => {
                // Whatever CRIU restored is in the cgroup and dies with it.
                if let Some(cgroup) = &state.cgroup {
                    if let Err(cleanup) = cgroup.destroy() {
                        log::warn!("removing the cgroup after a failed restore: {cleanup}");
                    }
                }
                Err(e)
            }
        }
    }

    fn restore(
        &self,
        dir: &StateDir,
        state: &mut State,
        images: &OwnedFd,
        descriptors: &[String],
        criu_root: &Path,
    ) -> Result<(Spawned, Option<OwnedFd>)> {
        let o = self.opts.criu;
        let work = o
            .work_path
            .as_deref()
            .map(|w| cr::open_dir(w, "--work-path", true))
            .transpose()?;
        let mut rpc = self.criu.common_opts(images, work.as_ref(), LOG_FILE);
        rpc.evasive_devices = Some(true);
        rpc.rst_sibling = Some(true);
        rpc.root = Some(criu_root.to_string_lossy().into_owned());
        rpc.config_file = cr::config_file(self.spec);
        rpc.lsm_profile = self.opts.lsm_profile.map(str::to_string);
        rpc.lsm_mount_context = self.opts.lsm_mount_context.map(str::to_string);
        let ns_files = self.namespaces(&mut rpc)?;
        for (fd, key) in descriptors.iter().enumerate() {
            // The caller's pipes take the place of the dumped process's.
            if key.contains("pipe:") {
                rpc.inherit_fd.push(InheritFd {
                    key: key.clone(),
                    fd: i32::try_from(fd).unwrap_or(0),
                });
            }
        }
        let unified = state
            .cgroup
            .as_ref()
            .filter(|c| c.unit.is_none())
            .map(cgroups::Cgroup::open_unified)
            .transpose()?
            .flatten();
        let child = criu::Child {
            binary: &o.binary,
            stdio: None,
            extra: ns_files.iter().map(|f| f.as_fd()).collect(),
            cgroup: unified.as_ref().map(|f| f.as_fd()),
            sigmask: Some(&self.opts.sigmask),
        };
        init::prepare_for_restore(self.spec, self.bundle, self.rootfs, criu_root)?;
        let mut swrk =
            Swrk::start(child).map_err(|e| self.criu.failed("criu restore", LOG_FILE, e))?;
        let criu_pid = swrk.pid();
        if let Some(cgroup) = &state.cgroup {
            match cgroup.unit {
                Some(_) => crate::cgroup::join_unit(self.spec, cgroup, criu_pid)?,
                None => cgroup.place(criu_pid, unified.is_some())?,
            }
            rpc.cg_root = cgroup_roots(criu_pid);
        }
        rpc.ext_mnt = cr::mounts::for_restore(self.spec, self.bundle, self.rootfs, criu_pid);
        let req = Req {
            r#type: ReqType::Restore as i32,
            opts: Some(rpc),
            ..Req::default()
        };
        let mut master = None;
        let resp = swrk.call(&req, &mut |note| {
            self.notified(dir, state, note, &mut master)
                .map_err(|e| e.to_string())
        });
        let resp = resp.map_err(|e| self.criu.failed("criu restore", LOG_FILE, e))?;
        swrk.finish()
            .map_err(|e| self.criu.failed("criu restore", LOG_FILE, e))?;
        let pid = resp.restore.map(|r| r.pid).or(state.pid).unwrap_or(0);
        if state.pid != Some(pid) {
            record_init(dir, state, pid)?;
        }
        let pidfd = Pid::from_raw(pid)
            .ok_or_else(|| Error::InitDied("CRIU answered no pid".into()))
            .and_then(|p| {
                rustix::process::pidfd_open(p, PidfdFlags::empty())
                    .map_err(Error::sys("pidfd_open the restored init"))
            })?;
        if let Some(path) = self.opts.pid_file {
            crate::create::write_pid_file(path, pid)?;
        }
        let init = Spawned {
            pid: Pid::from_raw(pid).expect("checked above"),
            pidfd,
        };
        Ok((init, master))
    }

    /// Namespaces the config joins by path: a network or pid one is handed
    /// to CRIU as a descriptor under the key the dump left it out with;
    /// the others CRIU joins itself. The descriptors are CRIU's 4, 5, ….
    fn namespaces(&self, rpc: &mut criu::rpc::Opts) -> Result<Vec<OwnedFd>> {
        let mut files = Vec::new();
        let namespaces = self
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        for (i, ns) in namespaces.iter().enumerate() {
            let Some(path) = ns.path() else { continue };
            let field = format!("linux.namespaces[{i}].path");
            let (name, min) = match (cr::external_namespace(ns.typ()), ns.typ()) {
                (Some((name, min)), _) => (name, Some(min)),
                (None, LinuxNamespaceType::Cgroup) => {
                    return Err(Error::Unsupported(format!(
                        "{field}: CRIU cannot restore into an existing cgroup namespace"
                    )))
                }
                (None, LinuxNamespaceType::Mount) => ("mnt", None),
                (None, LinuxNamespaceType::Ipc) => ("ipc", None),
                (None, LinuxNamespaceType::Uts) => ("uts", None),
                (None, LinuxNamespaceType::User) => ("user", None),
                // Time (network and pid are the external ones above).
                (None, _) => ("time", None),
            };
            let Some(min) = min else {
                rpc.join_ns.push(JoinNamespace {
                    ns: name.into(),
                    ns_file: path.to_string_lossy().into_owned(),
                });
                continue;
            };
            self.criu
                .require(min, &format!("restoring into a joined {name} namespace"))?;
            let file = std::fs::File::open(path).map_err(|e| Error::Config {
                file: "config.json".into(),
                field: field.clone(),
                detail: format!("open {path:?}: {e} (the namespace must exist to restore into it)"),
            })?;
            rpc.inherit_fd.push(InheritFd {
                key: cr::namespace_key(name),
                fd: 4 + i32::try_from(files.len()).unwrap_or(0),
            });
            files.push(file.into());
        }
        Ok(files)
    }

    fn notified(
        &self,
        dir: &StateDir,
        state: &mut State,
        note: Notification,
        master: &mut Option<OwnedFd>,
    ) -> Result<()> {
        match note.script.as_str() {
            // The namespaces exist, the processes do not run yet: where
            // create runs these two.
            "setup-namespaces" => {
                let mut hook_state = crate::hooks::state_of(state, "creating");
                hook_state.pid = note.pid;
                for kind in [
                    init::hooks::Kind::Prestart,
                    init::hooks::Kind::CreateRuntime,
                ] {
                    init::hooks::run_all(&state.config, kind, &hook_state).map_err(Error::Hook)?;
                }
                Ok(())
            }
            "post-restore" => record_init(dir, state, note.pid),
            "orphan-pts-master" => {
                let fd = note
                    .fd
                    .ok_or_else(|| Error::InitDied("CRIU sent no pty master".into()))?;
                match self.target {
                    ConsoleTarget::Socket(path) => send_master(path, &fd),
                    ConsoleTarget::Runtime => {
                        *master = Some(fd);
                        Ok(())
                    }
                    ConsoleTarget::None => Err(Error::ConsoleRule(
                        "the checkpoint has a terminal: restore needs --console-socket (or no --detach)",
                    )),
                }
            }
            _ => Ok(()),
        }
    }
}

/// The restored init in the state: its pid and start time, the time of
/// the restore as its creation, and the time namespace CRIU restores
/// into (so that `exec` joins it too).
fn record_init(dir: &StateDir, state: &mut State, pid: i32) -> Result<()> {
    state.pid = Some(pid);
    state.init_start_time = crate::procinfo::start_time(pid)
        .ok_or_else(|| Error::InitDied("the restored init exited at once".into()))?;
    state.created = humantime::format_rfc3339_nanos(SystemTime::now()).to_string();
    let has_time =
        crate::config::namespace_types(&state.config).contains(&LinuxNamespaceType::Time);
    let ino = |p: &str| rustix::fs::stat(p).ok().map(|s| s.st_ino);
    if !has_time && ino(&format!("/proc/{pid}/ns/time")) != ino("/proc/self/ns/time") {
        let ns = LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Time)
            .build()
            .expect("a namespace with a type builds");
        if let Some(linux) = state.config.linux_mut() {
            let mut namespaces = linux.namespaces().clone().unwrap_or_default();
            namespaces.push(ns);
            linux.set_namespaces(Some(namespaces));
        }
    }
    dir.save(state)
}

/// CRIU's placement of the restored tree: below crust's cgroups for the
/// container, which CRIU itself is in by now (`ctrl` empty for v2).
fn cgroup_roots(criu_pid: i32) -> Vec<CgroupRoot> {
    let text = std::fs::read_to_string(format!("/proc/{criu_pid}/cgroup")).unwrap_or_default();
    cgroups::layout::parse_proc_cgroup(&text)
        .into_iter()
        .map(|m| CgroupRoot {
            ctrl: Some(m.controllers.join(",")),
            path: m.path.to_string_lossy().into_owned(),
        })
        .collect()
}

fn send_master(path: &Path, master: &OwnedFd) -> Result<()> {
    let socket = std::os::unix::net::UnixStream::connect(path)
        .map_err(Error::io("connect to console socket", path))?;
    let name = rustix::pty::ptsname(master, Vec::new())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/dev/ptmx".into());
    init::protocol::send_fd(&socket, name.as_bytes(), Some(master.as_fd()))
        .map_err(Error::sys(format!("send the pty master to {path:?}")))
}
