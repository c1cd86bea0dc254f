//! A container's cgroup: one directory per v1 hierarchy and/or one in the
//! v2 hierarchy. Kept in the container's state, so that later commands
//! find the same directories whatever cgroup they themselves run in.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};

use crate::devices::Rule;
use crate::error::{Error, Result};
use crate::layout::{Layout, Version};
use crate::settings::Setting;
use crate::systemd::{properties, Manager, Unit};

/// The container's directory in one hierarchy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Node {
    pub version: Version,
    /// v1: the hierarchy's controllers; v2: those its root offers.
    pub controllers: Vec<String>,
    pub dir: PathBuf,
    /// The directory was there before the container (a cgroupsPath the
    /// engine made): `destroy` empties it but leaves it, as runtime.md
    /// says of what the container did not create.
    #[serde(default)]
    pub existed: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cgroup {
    pub nodes: Vec<Node>,
    /// The systemd unit holding the cgroup, with the systemd driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
}

/// How long `destroy` waits for a cgroup to empty.
const EMPTY_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn write_file(path: &Path, value: &str) -> std::result::Result<(), Errno> {
    let fd = rustix::fs::open(path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut file = std::fs::File::from(fd);
    // One write: cgroup files take a value per write(2).
    file.write_all(value.as_bytes())
        .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))
}

/// One node per hierarchy of `layout` (v1 ones first), each at the
/// directory `place` gives, with whether it existed before.
fn nodes(
    layout: &Layout,
    place: impl Fn(&crate::layout::Hierarchy) -> (bool, PathBuf),
) -> Vec<Node> {
    let node = |version, h: &crate::layout::Hierarchy| {
        let (existed, dir) = place(h);
        Node {
            version,
            controllers: h.controllers.clone(),
            dir,
            existed,
        }
    };
    let mut nodes: Vec<Node> = layout.v1.iter().map(|h| node(Version::V1, h)).collect();
    nodes.extend(layout.unified.iter().map(|h| node(Version::V2, h)));
    nodes
}

pub(crate) fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::Io {
        op: "read".into(),
        path: path.to_path_buf(),
        errno: Errno::from_io_error(&e).unwrap_or(Errno::IO),
    })
}

impl Cgroup {
    /// Where the container's cgroup goes on a host with `layout`.
    pub fn for_container(layout: &Layout, cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup> {
        let (inner, absolute) = crate::path::inner(cgroups_path, id)?;
        let nodes = nodes(layout, |h| {
            let dir = crate::path::in_hierarchy(&h.mount, &h.own, &inner, absolute);
            (dir.exists(), dir)
        });
        Ok(Cgroup { nodes, unit: None })
    }

    /// Where systemd will put `unit`'s cgroup, in every hierarchy: below
    /// its manager's `root` (`/` for the system's).
    pub fn for_unit(layout: &Layout, unit: Unit, root: &Path) -> Cgroup {
        let inner = root.strip_prefix("/").unwrap_or(root).join(unit.cgroup());
        Cgroup {
            nodes: nodes(layout, |h| (false, h.mount.join(&inner))),
            unit: Some(unit),
        }
    }

    /// The properties systemd gets for `resources` and `annotations`:
    /// limits, device rules, then the annotations (which win).
    fn unit_properties(
        &self,
        resources: Option<&LinuxResources>,
        annotations: &std::collections::HashMap<String, String>,
    ) -> Result<Vec<properties::Property>> {
        let v2 = if self.version_of("memory") == Some(Version::V1) {
            Version::V1
        } else {
            Version::V2
        };
        let mut props = vec![
            ("MemoryAccounting".to_string(), dbus::Value::Bool(true)),
            ("CPUAccounting".to_string(), dbus::Value::Bool(true)),
            ("TasksAccounting".to_string(), dbus::Value::Bool(true)),
            (
                if v2 == Version::V2 {
                    "IOAccounting"
                } else {
                    "BlockIOAccounting"
                }
                .to_string(),
                dbus::Value::Bool(true),
            ),
        ];
        if let Some(r) = resources {
            props.extend(properties::of_resources(r, v2)?);
            let config = r.devices().as_deref().unwrap_or_default();
            if let Some(rules) = crate::devices::rules(config)? {
                props.extend(properties::of_devices(&rules));
            }
        }
        props.extend(properties::of_annotations(annotations)?);
        Ok(props)
    }

    /// systemd driver: start the unit around `pid` (a scope takes it
    /// in; a slice unit is made, then the process moved in), make the
    /// directories of the hierarchies systemd leaves alone, and put `pid`
    /// in those. The caller then writes the resources as with cgroupfs.
    pub fn start_unit(
        &self,
        pid: i32,
        resources: Option<&LinuxResources>,
        annotations: &std::collections::HashMap<String, String>,
    ) -> Result<()> {
        let unit = self.unit.as_ref().expect("a systemd cgroup");
        let props = self.unit_properties(resources, annotations)?;
        let mut manager = Manager::connect(unit.user)?;
        let scope_pid = (!unit.is_slice()).then(|| pid.unsigned_abs());
        manager.start(unit, scope_pid, props)?;
        let (calls, trips) = manager.cost();
        log::debug!(
            "systemd: {} started: {calls} D-Bus calls in {trips} round trips",
            unit.name
        );
        let mut made = Vec::new();
        for node in self.nodes.iter().filter(|n| !n.dir.exists()) {
            self.create_all(node, &mut made)?;
        }
        if let Some(node) = self.unified() {
            // systemd enables only the controllers it manages on the way
            // down; hugetlb, rdma and misc the container's limits need
            // are handed down from the top as cgroupfs does.
            let mut above: Vec<&Path> = node
                .dir
                .ancestors()
                .skip(1)
                .take_while(|d| d.join("cgroup.controllers").exists())
                .collect();
            above.reverse();
            above.into_iter().for_each(enable_controllers);
        }
        self.place(pid, false)
    }

    /// systemd driver, `update`: the unit's properties for `resources`.
    pub fn update_unit(&self, resources: &LinuxResources) -> Result<()> {
        let Some(unit) = &self.unit else {
            return Ok(());
        };
        // Device rules are not updated (as with cgroupfs): sending them would
        // have systemd rewrite them, denying everything for a moment.
        let mut resources = resources.clone();
        resources.set_devices(None);
        let props = self.unit_properties(Some(&resources), &Default::default())?;
        Manager::connect(unit.user)?.set(unit, props)
    }

    pub fn unified(&self) -> Option<&Node> {
        self.nodes.iter().find(|n| n.version == Version::V2)
    }

    fn v1(&self, controller: &str) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| n.version == Version::V1 && n.controllers.iter().any(|c| c == controller))
    }

    /// Which hierarchy holds `controller` (`""`: the v2 core files).
    pub fn version_of(&self, controller: &str) -> Option<Version> {
        if self.v1(controller).is_some() {
            return Some(Version::V1);
        }
        let unified = self.unified()?;
        (controller.is_empty() || unified.controllers.iter().any(|c| c == controller))
            .then_some(Version::V2)
    }

    /// The hierarchy that holds `controller`, and the container's
    /// directory in it.
    pub(crate) fn locate(&self, controller: &str) -> Option<(Version, &Path)> {
        let node = match self.version_of(controller)? {
            Version::V1 => self.v1(controller)?,
            Version::V2 => self.unified()?,
        };
        Some((node.version, node.dir.as_path()))
    }

    /// The directory whose `cgroup.procs` lists every process of the
    /// container: the v2 one where there is one, else any v1 one.
    pub fn main_dir(&self) -> Option<&Path> {
        self.unified()
            .or_else(|| self.nodes.first())
            .map(|n| n.dir.as_path())
    }

    /// Make the directories (and what a new one needs before it can take a
    /// process: cpusets copied from the parent on v1, controllers enabled
    /// from the top on v2). A directory that exists is reused only if no
    /// process is in it.
    pub fn create(&self) -> Result<()> {
        let mut made = Vec::new();
        let result = self.create_recording(&mut made);
        if result.is_err() {
            // Only what this call made, deepest first: a directory that was
            // there before is someone else's.
            for dir in made.iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
        }
        result
    }

    fn create_recording(&self, made: &mut Vec<PathBuf>) -> Result<()> {
        let mut reused = None;
        for node in &self.nodes {
            // Usually only the leaf is missing: try it first, and walk up
            // for missing parents only when the kernel says so.
            match std::fs::create_dir(&node.dir) {
                Ok(()) => {
                    made.push(node.dir.clone());
                    self.prepare_new(node, &node.dir)?
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    reused = Some(node.dir.as_path());
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.create_all(node, made)?
                }
                Err(e) => return Err(create_error(&node.dir, &e)),
            }
        }
        if let Some(dir) = reused.filter(|d| !procs_of(d).is_empty()) {
            return Err(Error::invalid(
                "linux.cgroupsPath",
                format!("cgroup {dir:?} already has processes in it"),
            ));
        }
        // A process placed in a frozen cgroup would never run: the init
        // would hang before its first instruction, and `create` with it
        // (runc refuses too).
        if self.is_frozen() {
            return Err(Error::invalid(
                "linux.cgroupsPath",
                format!(
                    "cgroup {:?} is frozen (it, or a parent, was paused); thaw it first",
                    self.nodes
                        .first()
                        .map(|n| n.dir.as_path())
                        .unwrap_or(Path::new(""))
                ),
            ));
        }
        Ok(())
    }

    /// Make every missing directory down to `node.dir`, top first (at least
    /// the hierarchy's root exists).
    fn create_all(&self, node: &Node, made: &mut Vec<PathBuf>) -> Result<()> {
        let mut missing: Vec<&Path> = node.dir.ancestors().take_while(|a| !a.exists()).collect();
        missing.reverse();
        for dir in missing {
            match std::fs::create_dir(dir) {
                Ok(()) => {
                    made.push(dir.to_path_buf());
                    self.prepare_new(node, dir)?
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(create_error(dir, &e)),
            }
        }
        Ok(())
    }

    /// What a new directory needs before it can take a process: a v1
    /// cpuset its parent's CPUs and memory nodes; on v2, the parent hands
    /// its controllers down (done for the parent of each new directory, so
    /// the leaf's own children, if the container makes any, decide theirs).
    fn prepare_new(&self, node: &Node, dir: &Path) -> Result<()> {
        match node.version {
            Version::V1 if node.controllers.iter().any(|c| c == "cpuset") => inherit_cpuset(dir),
            Version::V1 => Ok(()),
            Version::V2 => {
                enable_controllers(dir.parent().expect("below the mount"));
                Ok(())
            }
        }
    }

    /// Write every setting of `resources` but devices.
    pub fn apply(&self, resources: &LinuxResources) -> Result<()> {
        let list = crate::settings::settings(resources, &|c| self.version_of(c))?;
        // A few pairs must be written in an order that depends on the
        // current values (v1's memory limit under memory+swap, a quota
        // under its period, a real-time runtime under its period): what
        // the kernel refuses in the first pass is tried once more after.
        let mut retry = Vec::new();
        for s in &list {
            match self.write_setting(s) {
                Err(Error::Rejected {
                    errno: Errno::INVAL | Errno::BUSY,
                    ..
                }) => retry.push(s),
                other => other?,
            }
        }
        retry.into_iter().try_for_each(|s| self.write_setting(s))
    }

    fn write_setting(&self, s: &Setting) -> Result<()> {
        let dir = self
            .locate(&s.controller)
            .map(|(_, dir)| dir)
            .ok_or_else(|| Error::invalid(&s.field, format!("no {} hierarchy", s.controller)))?;
        let rejected = |path: PathBuf, value: &str| {
            let field = s.field.clone();
            let value = value.to_string();
            move |errno| Error::Rejected {
                field,
                path,
                value,
                errno,
            }
        };
        let path = dir.join(&s.file);
        match write_file(&path, &s.value) {
            Err(Errno::NOENT) if s.optional => Ok(()),
            Err(Errno::NOENT) if s.fallback.is_some() => {
                let (file, value) = s.fallback.as_ref().expect("checked");
                let path = dir.join(file);
                write_file(&path, value).map_err(rejected(path, value))
            }
            other => other.map_err(rejected(path, &s.value)),
        }
    }

    /// Restrict device access to `rules`: v1 lines, or a v2 program.
    pub fn apply_devices(&self, rules: &[Rule]) -> Result<()> {
        match self.version_of("devices") {
            Some(Version::V1) => {
                let dir = self
                    .v1("devices")
                    .map(|n| n.dir.clone())
                    .expect("v1 devices");
                // One descriptor per file, one write per rule.
                let mut open: Vec<(&str, std::fs::File)> = Vec::new();
                for rule in rules {
                    let (file, line) = rule.v1_line();
                    let path = dir.join(file);
                    let rejected = |errno| Error::Rejected {
                        field: "linux.resources.devices".into(),
                        path: path.clone(),
                        value: line.clone(),
                        errno,
                    };
                    if !open.iter().any(|(f, _)| *f == file) {
                        let fd = rustix::fs::open(
                            &path,
                            OFlags::WRONLY | OFlags::CLOEXEC,
                            Mode::empty(),
                        )
                        .map_err(rejected)?;
                        open.push((file, fd.into()));
                    }
                    let (_, f) = open
                        .iter_mut()
                        .find(|(f, _)| *f == file)
                        .expect("opened above");
                    f.write_all(line.as_bytes())
                        .map_err(|e| rejected(Errno::from_io_error(&e).unwrap_or(Errno::IO)))?;
                }
                Ok(())
            }
            _ => {
                let Some(node) = self.unified() else {
                    return Err(Error::invalid(
                        "linux.resources.devices",
                        "this host has no devices cgroup controller",
                    ));
                };
                let program = crate::devices::program(rules);
                let prog = sys::bpf::load_device_program(&program)
                    .map_err(Error::io("load the device eBPF program for", &node.dir))?;
                let dir = open_dir(&node.dir)?;
                sys::bpf::attach_device_program(
                    std::os::fd::AsFd::as_fd(&prog),
                    std::os::fd::AsFd::as_fd(&dir),
                )
                .map_err(Error::io("attach the device eBPF program to", &node.dir))
            }
        }
    }

    /// The container's cgroup narrowed to existing sub-cgroups, as `exec
    /// --cgroup` names them: `path` for every hierarchy, or
    /// `controller[,controller]:path` for some v1 ones.
    pub fn sub_cgroup(&self, specs: &[String]) -> Result<Cgroup> {
        let mut out = self.clone();
        for spec in specs {
            let (controllers, path) = match spec.split_once(':') {
                Some((c, p)) => (Some(c.split(',').collect::<Vec<_>>()), p),
                None => (None, spec.as_str()),
            };
            // `/` (or empty) is the container's own cgroup; nothing may
            // climb out of it (runc's words).
            let p = Path::new(path);
            if p.components().any(|c| c == std::path::Component::ParentDir) {
                return Err(Error::invalid(
                    "--cgroup",
                    format!("bad sub cgroup path: {spec:?}"),
                ));
            }
            let inner: std::path::PathBuf = p
                .components()
                .filter(|c| matches!(c, std::path::Component::Normal(_)))
                .collect();
            for (node, orig) in out.nodes.iter_mut().zip(&self.nodes) {
                let chosen = match &controllers {
                    None => true,
                    Some(list) => {
                        if node.version == Version::V2 {
                            return Err(Error::invalid(
                                "--cgroup",
                                format!("{spec:?}: cgroup v2 takes a path without controllers"),
                            ));
                        }
                        node.controllers.iter().any(|c| list.contains(&c.as_str()))
                    }
                };
                if chosen {
                    node.dir = orig.dir.join(&inner);
                    if !node.dir.is_dir() {
                        return Err(Error::invalid(
                            "--cgroup",
                            format!("sub-cgroup {:?} does not exist", node.dir),
                        ));
                    }
                }
            }
        }
        Ok(out)
    }

    /// The v2 directory, open for `CLONE_INTO_CGROUP`.
    pub fn open_unified(&self) -> Result<Option<OwnedFd>> {
        self.unified().map(|n| open_dir(&n.dir)).transpose()
    }

    /// The `tasks` file of every v1 directory, open for writing: a
    /// single-threaded child moves itself by writing "0" into each, which
    /// takes none of the locks a `cgroup.procs` write of its pid would
    /// (`init::cgroup` says why that matters).
    pub fn open_v1_tasks(&self) -> Result<Vec<(PathBuf, OwnedFd)>> {
        self.nodes
            .iter()
            .filter(|n| n.version == Version::V1)
            .map(|n| {
                let path = n.dir.join("tasks");
                rustix::fs::open(&path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
                    .map_err(Error::io("open cgroup", &path))
                    .map(|fd| (path, fd))
            })
            .collect()
    }

    /// Move `pid` into every directory (but the v2 one when `clone3`
    /// already put it there).
    pub fn place(&self, pid: i32, skip_unified: bool) -> Result<()> {
        let pid = pid.to_string();
        for node in &self.nodes {
            if skip_unified && node.version == Version::V2 {
                continue;
            }
            let path = node.dir.join("cgroup.procs");
            write_file(&path, &pid)
                .map_err(Error::io(format!("move process {pid} into"), &path))?;
        }
        Ok(())
    }

    /// Every process in the container's cgroup and its descendants.
    pub fn procs(&self) -> Vec<i32> {
        let Some(dir) = self.main_dir() else {
            return Vec::new();
        };
        let mut pids = Vec::new();
        for d in subtree(dir) {
            pids.extend(procs_of(&d));
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Call `f` with every process of the cgroup while it is frozen (when
    /// there is a freezer), so that none can fork a process `f` does not
    /// see. Signals sent to frozen processes take effect once they thaw;
    /// the cgroup is thawed afterwards unless it was paused before.
    pub fn while_frozen<T>(&self, f: impl FnOnce(&[i32]) -> T) -> T {
        let froze = self.freezer_state() == Some(false) && self.freeze().is_ok();
        let result = f(&self.procs());
        if froze {
            if let Err(e) = self.thaw() {
                log::warn!("thaw after signalling: {e}");
            }
        }
        result
    }

    /// SIGKILL every process: through `cgroup.kill` where the kernel has it
    /// (v2, atomic), else while frozen. A paused cgroup is thawed so that
    /// its processes can die.
    pub fn kill_all(&self) {
        if let Some(node) = self.unified() {
            if write_file(&node.dir.join("cgroup.kill"), "1").is_ok() {
                return;
            }
        }
        self.while_frozen(|pids| {
            for pid in pids {
                if let Some(pid) = rustix::process::Pid::from_raw(*pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
        });
        if self.freezer_state() == Some(true) {
            let _ = self.thaw();
        }
    }

    /// SIGKILL whatever is left and remove every directory (sub-cgroups
    /// first), waiting a bounded time for the processes to go.
    pub fn destroy(&self) -> Result<()> {
        if let Some(unit) = &self.unit {
            // systemd removes the unit's own directories once it stopped;
            // a still-running process would make it wait for a timeout.
            self.kill_all();
            Manager::connect(unit.user)?.stop(unit)?;
        }
        // Usually the processes are gone and made no sub-cgroups: one
        // rmdir a directory. The rest is for what is still busy.
        let busy: Vec<&Node> = self
            .nodes
            .iter()
            .filter(|n| {
                if n.existed {
                    // Left in place: busy only with what the container put in it.
                    return subtree(&n.dir).len() > 1 || !procs_of(&n.dir).is_empty();
                }
                !matches!(
                    rustix::fs::unlinkat(rustix::fs::CWD, &n.dir, rustix::fs::AtFlags::REMOVEDIR),
                    Ok(()) | Err(Errno::NOENT)
                )
            })
            .collect();
        if busy.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + EMPTY_TIMEOUT;
        loop {
            let left: Vec<i32> = busy
                .iter()
                .flat_map(|n| subtree(&n.dir))
                .flat_map(|d| procs_of(&d))
                .collect();
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                return Err(Error::invalid(
                    "cgroup",
                    format!("processes {left:?} are still in {:?}", self.main_dir()),
                ));
            }
            self.kill_all();
            std::thread::sleep(Duration::from_millis(5));
        }
        for node in busy {
            let mut dirs = subtree(&node.dir);
            if node.existed {
                dirs.retain(|d| d != &node.dir);
            }
            dirs.reverse();
            for d in dirs {
                remove_dir(&d, deadline)?;
            }
        }
        Ok(())
    }
}

fn create_error(dir: &Path, e: &std::io::Error) -> Error {
    Error::Io {
        op: "create cgroup".into(),
        path: dir.to_path_buf(),
        errno: Errno::from_io_error(e).unwrap_or(Errno::IO),
    }
}

fn open_dir(dir: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(Error::io("open cgroup", dir))
}

fn procs_of(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// `dir` and every cgroup below it, parents before children.
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(entries) = std::fs::read_dir(&out[i]) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    out.push(e.path());
                }
            }
        }
        i += 1;
    }
    out.retain(|d| d.exists());
    out
}

fn remove_dir(dir: &Path, deadline: Instant) -> Result<()> {
    loop {
        match rustix::fs::unlinkat(rustix::fs::CWD, dir, rustix::fs::AtFlags::REMOVEDIR) {
            Ok(()) | Err(Errno::NOENT) => return Ok(()),
            // Exiting processes leave the cgroup a moment after they die.
            Err(Errno::BUSY) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => return Err(Error::io("remove cgroup", dir)(e)),
        }
    }
}

/// A new v1 cpuset is empty and takes no process until it has CPUs and
/// memory nodes: give it its parent's.
fn inherit_cpuset(dir: &Path) -> Result<()> {
    let parent = dir.parent().expect("below the mount");
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let value = cpuset_of(parent, file)?;
        let path = dir.join(file);
        write_file(&path, &value).map_err(Error::io("initialise", &path))?;
    }
    Ok(())
}

/// `dir`'s `file`; when it is empty (a directory someone made without
/// filling it in), filled from the nearest ancestor that has one, as runc
/// does: a child of an empty cpuset could take no process (ENOSPC).
fn cpuset_of(dir: &Path, file: &str) -> Result<String> {
    let value = read_file(&dir.join(file))?.trim().to_string();
    if !value.is_empty() {
        return Ok(value);
    }
    let Some(parent) = dir.parent().filter(|p| p.join(file).exists()) else {
        return Ok(value);
    };
    let up = cpuset_of(parent, file)?;
    let path = dir.join(file);
    write_file(&path, &up).map_err(Error::io("initialise", &path))?;
    Ok(up)
}

/// Enable in `dir` every controller it offers to its children. Where the
/// kernel refuses some (in a cgroup with processes of its own, the domain
/// controllers), none is enabled one by one there: enabling the threaded
/// ones (cpu, cpuset, pids) in a populated cgroup turns it into a threaded
/// domain, its new child "domain invalid", and every container in it
/// fails (clone3 EOPNOTSUPP) — the caller's own cgroup (a systemd
/// service running the engine) changed for good. In an empty cgroup the
/// others are still enabled; a setting that then finds no file is
/// reported against its field.
fn enable_controllers(dir: &Path) {
    let offered = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let enabled = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    let missing: Vec<&str> = offered
        .split_whitespace()
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .collect();
    if missing.is_empty() {
        return;
    }
    let path = dir.join("cgroup.subtree_control");
    let all = missing
        .iter()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(" ");
    if let Err(e) = write_file(&path, &all) {
        let populated =
            std::fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|p| !p.trim().is_empty());
        let root = !dir.join("cgroup.type").exists();
        if populated && !root {
            log::debug!(
                "{path:?}: {e}; the cgroup has processes of its own, so no controller is \
                 enabled there (the threaded ones would make it a threaded domain)"
            );
            return;
        }
        for c in missing {
            if let Err(e) = write_file(&path, &format!("+{c}")) {
                log::debug!("enable the {c} controller in {path:?}: {e}");
            }
        }
    }
}
