//! Harness for integration tests: real containers, run as root by the
//! `crust` binary from a busybox-static rootfs, observed from inside.
#![allow(dead_code)] // each test binary uses part of the harness

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::{json, Value};
use tempfile::TempDir;

pub const CRUST: &str = env!("CARGO_BIN_EXE_crust");

/// The five capability sets of `process.capabilities`.
pub const ALL_SETS: [&str; 5] = [
    "bounding",
    "effective",
    "permitted",
    "inheritable",
    "ambient",
];

/// Integration tests create namespaces and mounts: they need root.
pub fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "integration tests run real containers and need root; `cargo test --lib` runs the unit tests"
    );
}

/// Where `busybox` comes from (Debian's busybox-static).
fn busybox() -> PathBuf {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("busybox not found: install busybox-static (tests/fixtures/README)");
}

/// Fill `dir` with a busybox rootfs: the static binary and one symlink per
/// applet, plus /etc/passwd and /etc/group.
pub fn make_rootfs(dir: &Path) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(busybox(), bin.join("busybox")).unwrap();
    let list = Command::new(busybox()).arg("--list").output().unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", bin.join(applet));
        }
    }
    for d in ["etc", "proc", "sys", "dev", "tmp", "root"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000:user:/home/user:/bin/sh\n").unwrap();
    std::fs::write(
        dir.join("etc/group"),
        "root:x:0:\nnogroup:x:65534:\nuser:x:1000:\n",
    )
    .unwrap();
}

/// `CRUST_TEST_CGROUP_DRIVER=systemd` (the systemd VM lane): every crust
/// command gets `--systemd-cgroup`, and the default cgroupsPath is a unit
/// in system.slice.
pub fn systemd_driver() -> bool {
    std::env::var("CRUST_TEST_CGROUP_DRIVER").as_deref() == Ok("systemd")
}

/// For tests of the cgroupfs driver's own path rules: false (and a note)
/// under the systemd driver, where cgroupsPath names a unit instead.
pub fn cgroupfs_driver(test: &str) -> bool {
    if systemd_driver() {
        eprintln!("{test}: a cgroupfs path rule; not for the systemd driver");
        return false;
    }
    true
}

/// One shared read-only rootfs for tests that do not change it.
pub fn shared_rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("rootfs-{}", std::process::id()));
        make_rootfs(&dir);
        dir
    })
}

/// A bundle in a temporary directory, with its own state root.
pub struct Bundle {
    pub dir: TempDir,
    pub root: PathBuf,
    pub config: Value,
    /// Written exactly as the test set it, also in the strict seccomp
    /// lane (for tests that look at the filter or `noNewPrivileges`).
    pub as_configured: bool,
}

impl Bundle {
    /// runc's default config (from `crust spec`), without a terminal,
    /// running `sh -c script` on the shared rootfs.
    pub fn new(script: &str) -> Bundle {
        require_root();
        let dir = TempDir::new().unwrap();
        let out = Command::new(CRUST)
            .arg("spec")
            .arg("--bundle")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "crust spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap())
                .unwrap();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(["sh", "-c", script]);
        config["root"]["path"] = json!(shared_rootfs());
        let root = dir.path().join("state");
        Bundle {
            dir,
            root,
            config,
            as_configured: false,
        }
    }

    /// Like `new`, with a rootfs of its own that the test may change.
    pub fn with_own_rootfs(script: &str) -> Bundle {
        let mut b = Bundle::new(script);
        let rootfs = b.dir.path().join("rootfs");
        make_rootfs(&rootfs);
        b.config["root"]["path"] = json!("rootfs");
        b.config["root"]["readonly"] = json!(false);
        b
    }

    /// Join the namespace of `kind` at `path` instead of making one.
    pub fn join_namespace(&mut self, kind: &str, path: &str) {
        let list = self.config["linux"]["namespaces"].as_array_mut().unwrap();
        list.retain(|n| n["type"] != kind);
        list.push(json!({"type": kind, "path": path}));
    }

    /// A new user namespace mapping 65536 ids from `host_id` to 0.
    pub fn with_user_namespace(&mut self, host_id: u32) {
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        let map = json!([{"containerID": 0, "hostID": host_id, "size": 65536}]);
        self.config["linux"]["uidMappings"] = map.clone();
        self.config["linux"]["gidMappings"] = map;
    }

    /// Take the mount at `destination` out of the config.
    pub fn remove_mount(&mut self, destination: &str) {
        self.config["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != destination);
    }

    /// Grant `cap` in the bounding, effective and permitted sets.
    pub fn add_capability(&mut self, cap: &str) {
        for set in ["bounding", "effective", "permitted"] {
            self.config["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!(cap));
        }
    }

    /// Set each capability set in `sets` to exactly `caps`.
    pub fn set_capabilities(&mut self, sets: &[&str], caps: &[&str]) {
        for set in sets {
            self.config["process"]["capabilities"][set] = json!(caps);
        }
    }

    /// The directories of container `id`'s cgroup, from crust's state file.
    pub fn cgroup_dirs(&self, id: &str) -> Vec<PathBuf> {
        self.cgroup_nodes(id)
            .iter()
            .map(|n| PathBuf::from(n["dir"].as_str().unwrap()))
            .collect()
    }

    /// The nodes of container `id`'s cgroup, as crust's state file has them.
    pub fn cgroup_nodes(&self, id: &str) -> Vec<Value> {
        let text = std::fs::read(self.root.join(id).join("state.json")).unwrap();
        let state: Value = serde_json::from_slice(&text).unwrap();
        state["cgroup"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// `crust exec -d --pid-file … FLAGS… ID CMD…`; the process's pid, as
    /// the pid file holds it (digits alone, as runc writes it).
    pub fn exec_detached(&self, flags: &[&str], id: &str, cmd: &[&str]) -> i64 {
        let pid_file = self.dir.path().join(format!("exec-{id}.pid"));
        let mut args = vec!["exec", "-d", "--pid-file", pid_file.to_str().unwrap()];
        args.extend_from_slice(flags);
        args.push(id);
        args.extend_from_slice(cmd);
        let out = self.crust(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        std::fs::read_to_string(&pid_file).unwrap().parse().unwrap()
    }

    pub fn rootfs(&self) -> PathBuf {
        let p = PathBuf::from(self.config["root"]["path"].as_str().unwrap());
        if p.is_absolute() {
            p
        } else {
            self.dir.path().join(p)
        }
    }

    /// Write config.json atomically: a crust running in the background may
    /// be reading it.
    ///
    /// Unless the test chose a `linux.cgroupsPath` (`null` for crust's
    /// default), each write names a cgroup of its own: tests running at the
    /// same time use the same container ids, and the default cgroup path is
    /// made from the id.
    pub fn write(&self) {
        // A name per write: tests run crust from several threads at once.
        static WRITES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut config = self.config.clone();
        if !self.as_configured {
            strict_profile(&mut config);
        }
        if config["linux"].get("cgroupsPath").is_none() {
            config["linux"]["cgroupsPath"] = if systemd_driver() {
                json!(format!(
                    "system.slice:crust-test:{}-{n}",
                    std::process::id()
                ))
            } else {
                json!(format!("crust-test-{}-{n}", std::process::id()))
            };
        }
        let tmp = self.dir.path().join(format!(".config.json.{n}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        std::fs::rename(&tmp, self.dir.path().join("config.json")).unwrap();
    }

    /// `crust --root <state> ARGS…` in the bundle directory. Its output
    /// goes to files, not pipes: a detached container inherits crust's
    /// stdio and would keep a pipe open forever.
    pub fn crust(&self, args: &[&str]) -> Output {
        self.write();
        output_via_files(&mut self.command(args))
    }

    /// `crust ARGS…` bounded by `secs` seconds (`timeout`): for calls a
    /// broken runtime would hang in.
    pub fn crust_within(&self, secs: u32, args: &[&str]) -> Output {
        self.write();
        let inner = self.command(args);
        output_via_files(
            Command::new("timeout")
                .arg(secs.to_string())
                .arg(inner.get_program())
                .args(inner.get_args())
                .current_dir(self.dir.path()),
        )
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(CRUST);
        if systemd_driver() {
            c.arg("--systemd-cgroup");
        }
        c.arg("--root")
            .arg(&self.root)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        c
    }

    /// `crust run ID` in the foreground.
    pub fn run(&self, id: &str) -> Output {
        self.crust(&["run", id])
    }

    /// Run to completion and return stdout, failing the test on a non-zero
    /// exit.
    pub fn output_of(&self, id: &str) -> String {
        let out = self.run(id);
        assert!(
            out.status.success(),
            "crust run failed ({:?}): {}",
            out.status,
            stderr(&out)
        );
        stdout(&out)
    }

    /// `crust ARGS…` must fail with one error line, last on stderr, that
    /// says each of `needles`, and leave no state directory and no process.
    pub fn assert_fails_cleanly(&self, args: &[&str], needles: &[&str]) {
        let out = self.crust(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = stderr(&out);
        let last = err.trim().lines().last().unwrap_or_default().to_string();
        for n in needles {
            assert!(
                last.contains(n),
                "{n:?} missing from the last stderr line: {err}"
            );
        }
        assert_eq!(self.state_dirs(), 0, "state left behind after {args:?}");
        let left = processes_naming(&self.root);
        assert!(
            left.is_empty(),
            "processes left behind after {args:?}: {left:?}"
        );
    }

    /// The ids of the container directories under the state root (not
    /// crust's own entries there, such as the seccomp cache `#seccomp`).
    pub fn container_ids(&self) -> Vec<String> {
        std::fs::read_dir(&self.root)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .filter(|n| !n.starts_with('#'))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The number of container directories under the state root.
    pub fn state_dirs(&self) -> usize {
        self.container_ids().len()
    }

    pub fn state(&self, id: &str) -> Value {
        let out = self.crust(&["state", id]);
        assert!(out.status.success(), "crust state: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        // Best effort: leave no container behind if a test failed midway.
        for id in self.container_ids() {
            let _ = self.command(&["delete", "--force", &id]).output();
        }
    }
}

/// With `CRUST_TEST_SECCOMP=strict` (a lane of `scripts/test.sh`), every
/// container a test writes without a seccomp profile of its own gets a
/// deny-by-default one (EPERM) that allows the system calls of a 2019
/// kernel only, as old engines' profiles do (runtime-tools' `generate`):
/// nothing crust does may depend on a newer one (close_range, openat2,
/// clone3...) once the filter is loaded. The lane also runs without
/// `noNewPrivileges`, the other way to load a filter.
fn strict_profile(config: &mut Value) {
    static PROFILE: OnceLock<Option<Value>> = OnceLock::new();
    let profile = PROFILE.get_or_init(|| {
        (std::env::var("CRUST_TEST_SECCOMP").as_deref() == Ok("strict")).then(|| {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/fixtures/seccomp-strict.json"
            );
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
        })
    });
    if let Some(profile) = profile {
        if config["linux"].get("seccomp").is_none() {
            config["linux"]["seccomp"] = profile.clone();
            config["process"]["noNewPrivileges"] = json!(false);
        }
    }
}

/// Run `cmd` with its output in files, not pipes: a detached container
/// inherits the runtime's stdio and would keep a pipe open forever.
pub fn output_via_files(cmd: &mut Command) -> Output {
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let status = cmd
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .status()
        .unwrap();
    Output {
        status,
        stdout: read_all(out),
        stderr: read_all(err),
    }
}

fn read_all(mut f: std::fs::File) -> Vec<u8> {
    use std::io::{Read, Seek};
    let mut v = Vec::new();
    f.rewind().unwrap();
    f.read_to_end(&mut v).unwrap();
    v
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The last line of stderr: where crust's one error line, root cause
/// last, is (what containerd keeps).
pub fn last_error_line(o: &Output) -> String {
    stderr(o)
        .trim()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// Whether a process is alive (and not a zombie).
pub fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s[s.rfind(')').unwrap() + 2..].chars().next().unwrap();
            state != 'Z' && state != 'X'
        })
        .unwrap_or(false)
}

/// The pids of `pid`'s descendants.
pub fn descendants(pid: i64) -> Vec<i64> {
    let children: Vec<i64> = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    children
        .iter()
        .flat_map(|c| std::iter::once(*c).chain(descendants(*c)))
        .collect()
}

/// Wait until a descendant of `pid` runs the program `comm`: a shell
/// script has then passed the commands before it (a `trap`, say).
pub fn wait_for_descendant(pid: i64, comm: &str) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found = descendants(pid).iter().any(|d| {
            std::fs::read_to_string(format!("/proc/{d}/comm")).is_ok_and(|c| c.trim() == comm)
        });
        if found {
            return;
        }
        assert!(
            std::time::Instant::now() < end,
            "no descendant of {pid} runs {comm}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Accept one connection on `listener` and receive what an engine gets
/// from a runtime there: a payload and one descriptor (SCM_RIGHTS).
pub fn receive_fd(listener: &std::os::unix::net::UnixListener) -> (Vec<u8>, std::os::fd::OwnedFd) {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let (conn, _) = listener.accept().unwrap();
    let mut buf = vec![0u8; 65536];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let n = rustix::net::recvmsg(
        &conn,
        &mut [std::io::IoSliceMut::new(&mut buf)],
        &mut control,
        RecvFlags::empty(),
    )
    .unwrap()
    .bytes;
    let fd = control
        .drain()
        .find_map(|m| match m {
            RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
            _ => None,
        })
        .expect("a descriptor");
    (buf[..n].to_vec(), fd)
}

/// Live processes whose command line names `root` (a state root): a
/// container init keeps crust's command line until it execs.
pub fn processes_naming(root: &Path) -> Vec<i64> {
    let root = root.to_string_lossy().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i64>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmd).contains(&root) && alive(*pid)
        })
        .collect()
}

/// How many of those are named `comm`.
pub fn count_processes_named(comm: &str, root: &Path) -> usize {
    processes_naming(root)
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .count()
}

/// The default seccomp profile engines send (containers-common's
/// seccomp.json, which podman uses; containerd's and Docker's default is the
/// same moby profile) turned into an OCI `linux.seccomp` for a process with
/// `caps`, as the engines do.
pub fn engine_default_profile(caps: &[&str]) -> Value {
    let profile: Value = serde_json::from_str(
        &std::fs::read_to_string("/usr/share/containers/seccomp.json").unwrap(),
    )
    .unwrap();
    let on_this_arch = |c: &Value| {
        c["arches"]
            .as_array()
            .is_none_or(|a| a.iter().any(|x| x == "amd64" || x == "x86_64"))
    };
    let has_caps = |c: &Value| {
        c["caps"]
            .as_array()
            .is_some_and(|l| l.iter().all(|x| caps.contains(&x.as_str().unwrap())))
    };
    let mut syscalls = Vec::new();
    for s in profile["syscalls"].as_array().unwrap() {
        let inc = &s["includes"];
        let exc = &s["excludes"];
        let included = on_this_arch(inc) && (inc["caps"].is_null() || has_caps(inc));
        let excluded = exc["arches"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "amd64"))
            || (!exc["caps"].is_null()
                && exc["caps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| caps.contains(&x.as_str().unwrap())));
        if included && !excluded {
            let mut rule = json!({"names": s["names"], "action": s["action"]});
            for k in ["errnoRet", "args"] {
                if !s[k].is_null() {
                    rule[k] = s[k].clone();
                }
            }
            syscalls.push(rule);
        }
    }
    let arch = profile["archMap"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["architecture"] == "SCMP_ARCH_X86_64")
        .unwrap();
    let mut archs = vec![arch["architecture"].clone()];
    archs.extend(arch["subArchitectures"].as_array().unwrap().iter().cloned());
    json!({"defaultAction": profile["defaultAction"], "defaultErrnoRet": profile["defaultErrnoRet"], "architectures": archs, "syscalls": syscalls})
}
