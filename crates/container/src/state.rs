//! The state directory: `<root>/<id>/state.json`, written atomically
//! (write to a temporary file, then rename), under a 0700 directory, with
//! an exclusive `flock` on the directory while a command changes it.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::FlockOperation;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id;
use crate::procinfo;

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

/// The lifecycle states of runtime.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    /// Whether the container has a live init to signal, list or limit.
    pub fn has_process(self) -> bool {
        matches!(self, Status::Created | Status::Running | Status::Paused)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What crust keeps about a container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    /// The init's pid on the host; `None` until the init exists.
    pub pid: Option<i32>,
    /// The init's start time (clock ticks since boot), to detect pid reuse.
    pub init_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// The config the container was created from: `exec` starts from its
    /// process, `delete` will run its hooks.
    pub config: oci_spec::runtime::Spec,
    /// The container's cgroup directories, when it has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<cgroups::Cgroup>,
}

impl State {
    /// Whether the container's cgroup is frozen.
    pub fn is_paused(&self) -> bool {
        self.cgroup
            .as_ref()
            .and_then(cgroups::Cgroup::freezer_state)
            .unwrap_or(false)
    }

    /// The host pids of the container's processes: its cgroup's, where it
    /// has one.
    pub fn pids(&self) -> Vec<i32> {
        match &self.cgroup {
            Some(cgroup) => cgroup.procs(),
            None => self
                .pid
                .filter(|p| procinfo::is_alive(*p, self.init_start_time))
                .map(|init| procinfo::container_pids(init, self.own_pid_namespace()))
                .unwrap_or_default(),
        }
    }

    /// Whether the init has a pid namespace of its own, so that all the
    /// container's processes die with it.
    pub fn own_pid_namespace(&self) -> bool {
        crate::config::namespace_types(&self.config)
            .contains(&oci_spec::runtime::LinuxNamespaceType::Pid)
    }
}

/// A container's state directory, held open (and possibly locked).
#[derive(Debug)]
pub struct StateDir {
    pub id: String,
    pub path: PathBuf,
    dir: File,
}

impl StateDir {
    /// Create the directory of a new container and lock it. Fails with
    /// `Exists` if the id is taken, leaving the existing one untouched.
    pub fn create(root: &Path, id: &str) -> Result<StateDir> {
        id::validate(id)?;
        ensure_root(root)?;
        let path = root.join(id);
        match std::fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists(id.into()))
            }
            Err(e) => return Err(Error::io("create state directory", &path)(e)),
        }
        let dir = Self::open_at(root, id)?;
        dir.lock(FlockOperation::LockExclusive)?;
        Ok(dir)
    }

    /// Open an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<StateDir> {
        id::validate(id)?;
        Self::open_at(root, id)
    }

    fn open_at(root: &Path, id: &str) -> Result<StateDir> {
        let path = root.join(id);
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::NotFound(id.into()),
                _ if path.is_symlink() => Error::Symlink { path: path.clone() },
                _ => Error::io("open state directory", &path)(e),
            })?;
        Ok(StateDir {
            id: id.to_string(),
            path,
            dir,
        })
    }

    /// Take the exclusive lock: commands that change a container never
    /// interleave. Released when the `StateDir` is dropped (or the process
    /// dies).
    pub fn lock_exclusive(&self) -> Result<()> {
        self.lock(FlockOperation::LockExclusive)
    }

    /// Give the lock up while keeping the directory open: a foreground
    /// `run` waiting on its container must not block `delete --force`,
    /// `kill` or `state` (engines clean up that way).
    pub fn unlock(&self) -> Result<()> {
        self.lock(FlockOperation::Unlock)
    }

    fn lock(&self, op: FlockOperation) -> Result<()> {
        rustix::fs::flock(&self.dir, op).map_err(Error::sys(format!("lock {:?}", self.path)))
    }

    /// Whether another process holds the exclusive lock right now. Probed
    /// through a descriptor of its own: flock on our own descriptor would
    /// convert a lock we hold instead of testing it.
    fn is_locked_by_other(&self) -> bool {
        let Ok(probe) = File::open(&self.path) else {
            return false;
        };
        matches!(
            rustix::fs::flock(&probe, FlockOperation::NonBlockingLockShared),
            Err(rustix::io::Errno::WOULDBLOCK)
        )
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// Read `state.json` through the directory descriptor held since
    /// `open`, never following a symlink there.
    pub fn load(&self) -> Result<State> {
        use std::io::Read;
        let file = self.path.join(STATE_FILE);
        let opened = rustix::fs::openat(
            &self.dir,
            STATE_FILE,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC | rustix::fs::OFlags::NOFOLLOW,
            rustix::fs::Mode::empty(),
        );
        let fd = match opened {
            Ok(fd) => fd,
            // Gone with its directory: deleted meanwhile.
            Err(rustix::io::Errno::NOENT) if !self.path.exists() => {
                return Err(Error::NotFound(self.id.clone()))
            }
            // A directory without state is one whose create is under way
            // or was interrupted before its first write.
            Err(rustix::io::Errno::NOENT) => {
                return Err(Error::CorruptState {
                    id: self.id.clone(),
                    path: file,
                    detail: "no state file".into(),
                })
            }
            Err(rustix::io::Errno::LOOP) => return Err(Error::Symlink { path: file }),
            Err(e) => return Err(Error::sys(format!("open {file:?}"))(e)),
        };
        let mut text = Vec::new();
        std::fs::File::from(fd)
            .read_to_end(&mut text)
            .map_err(Error::io("read", &file))?;
        serde_json::from_slice(&text).map_err(|e| Error::CorruptState {
            id: self.id.clone(),
            path: file,
            detail: e.to_string(),
        })
    }

    /// Replace `state.json` atomically: a crash leaves the old or the new
    /// file, never a mix.
    pub fn save(&self, state: &State) -> Result<()> {
        let file = self.path.join(STATE_FILE);
        let bytes = serde_json::to_vec(state).expect("state serializes");
        write_atomically(&self.path.join(".state.json.tmp"), &file, &bytes)
            .map_err(Error::io("write", &file))
    }

    /// The container's status, read from the state and the live process.
    pub fn status(&self, state: &State) -> Status {
        match state.pid {
            None if self.is_locked_by_other() => Status::Creating,
            // The command creating it died before the init existed.
            None => Status::Stopped,
            Some(pid) if !procinfo::is_alive(pid, state.init_start_time) => Status::Stopped,
            Some(_) if self.fifo_path().exists() => Status::Created,
            Some(_) if state.is_paused() => Status::Paused,
            Some(_) => Status::Running,
        }
    }

    /// Remove the directory and everything in it.
    /// The directory is first renamed out of the way (to a name no id can
    /// have), so that from then on the container does not exist for any
    /// other command, even while its files are being removed.
    pub fn remove(self) -> Result<()> {
        let parent = self.path.parent().unwrap_or(Path::new("/"));
        let tombstone = parent.join(format!("#deleting-{}-{}", self.id, std::process::id()));
        std::fs::rename(&self.path, &tombstone)
            .map_err(Error::io("rename state directory", &self.path))?;
        crate::fault::point("delete:renamed");
        std::fs::remove_dir_all(&tombstone).map_err(Error::io("remove state directory", &tombstone))
    }

    /// Remove what deletes of `id` interrupted after their rename left
    /// (`#deleting-<id>-<pid>` whose deleting process is gone).
    pub fn sweep_tombstones(root: &Path, id: &str) {
        let prefix = format!("#deleting-{id}-");
        let Ok(entries) = std::fs::read_dir(root) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let Some(pid) = name
                .strip_prefix(&prefix)
                .and_then(|p| p.parse::<i32>().ok())
            else {
                continue;
            };
            if procinfo::start_time(pid).is_none() {
                if let Err(err) = std::fs::remove_dir_all(e.path()) {
                    log::warn!("remove {:?} left by an interrupted delete: {err}", e.path());
                }
            }
        }
    }
}

/// Write `bytes` to `path` through `tmp` (0600, never through a symlink),
/// renamed into place: a crash or a full disk leaves the old file or the
/// new one, never a mix.
pub(crate) fn write_atomically(tmp: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(tmp)?;
    f.write_all(bytes)?;
    std::fs::rename(tmp, path)
}

/// The state root is created 0700 on first use; a root that exists but is
/// not a directory is an error.
pub fn ensure_root(root: &Path) -> Result<()> {
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
    {
        Ok(()) => Ok(()),
        Err(e) => Err(Error::io("create state root", root)(e)),
    }
}

/// The ids of every container under `root`, sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", root)(e)),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| id::validate(id).is_ok())
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str) -> State {
        State {
            oci_version: "1.3.0".into(),
            id: id.into(),
            pid: Some(std::process::id() as i32),
            init_start_time: procinfo::start_time(std::process::id() as i32).unwrap(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00Z".into(),
            annotations: HashMap::new(),
            config: oci_spec::runtime::Spec::default(),
            cgroup: None,
        }
    }

    #[test]
    fn create_save_load_round_trip() {
        let root = tempfile::tempdir().unwrap();
        let dir = StateDir::create(root.path(), "c1").unwrap();
        let st = sample("c1");
        dir.save(&st).unwrap();
        assert_eq!(
            StateDir::open(root.path(), "c1").unwrap().load().unwrap(),
            st
        );
        let mode = std::fs::metadata(&dir.path).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700
        );
        let file_mode = std::fs::metadata(dir.path.join(STATE_FILE))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&file_mode) & 0o777,
            0o600
        );
    }

    #[test]
    fn a_second_create_fails_and_keeps_the_first() {
        let root = tempfile::tempdir().unwrap();
        let dir = StateDir::create(root.path(), "c1").unwrap();
        dir.save(&sample("c1")).unwrap();
        assert!(matches!(
            StateDir::create(root.path(), "c1"),
            Err(Error::Exists(_))
        ));
        assert_eq!(dir.load().unwrap().id, "c1");
    }

    #[test]
    fn status_follows_the_process_and_the_fifo() {
        let root = tempfile::tempdir().unwrap();
        let dir = StateDir::create(root.path(), "c1").unwrap();
        let mut st = sample("c1");
        std::fs::write(dir.fifo_path(), b"").unwrap();
        assert_eq!(dir.status(&st), Status::Created);
        std::fs::remove_file(dir.fifo_path()).unwrap();
        assert_eq!(dir.status(&st), Status::Running);
        st.init_start_time += 1; // the pid now belongs to another process
        assert_eq!(dir.status(&st), Status::Stopped);
    }

    #[test]
    fn creating_until_the_creator_lets_go() {
        let root = tempfile::tempdir().unwrap();
        let creator = StateDir::create(root.path(), "c1").unwrap();
        let st = State {
            pid: None,
            ..sample("c1")
        };
        creator.save(&st).unwrap();
        let observer = StateDir::open(root.path(), "c1").unwrap();
        assert_eq!(observer.status(&st), Status::Creating);
        drop(creator);
        let observer = StateDir::open(root.path(), "c1").unwrap();
        assert_eq!(observer.status(&st), Status::Stopped);
    }

    #[test]
    fn corrupt_state_is_reported() {
        let root = tempfile::tempdir().unwrap();
        let dir = StateDir::create(root.path(), "c1").unwrap();
        std::fs::write(dir.path.join(STATE_FILE), b"{not json").unwrap();
        assert!(matches!(dir.load(), Err(Error::CorruptState { .. })));
    }

    #[test]
    fn unknown_and_invalid_ids() {
        let root = tempfile::tempdir().unwrap();
        assert!(matches!(
            StateDir::open(root.path(), "nope"),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            StateDir::open(root.path(), "../etc"),
            Err(Error::InvalidId { .. })
        ));
    }
}
