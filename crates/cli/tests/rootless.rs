//! Rootless containers: crust run by an ordinary user, with the config
//! `crust spec --rootless` writes.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::{stderr, stdout};
use serde_json::{json, Value};

const USER: &str = "crust-rootless";
/// The subordinate ids the test user may map with newuidmap/newgidmap.
const SUBIDS: &str = "crust-rootless:300000:65536\n";

/// The test user (created once), as (uid, gid).
fn user() -> (u32, u32) {
    common::require_root();
    if Command::new("id")
        .arg(USER)
        .output()
        .is_ok_and(|o| !o.status.success())
    {
        let _ = Command::new("useradd")
            .args(["-M", "-s", "/usr/sbin/nologin", USER])
            .status();
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if !text.contains(SUBIDS) {
            std::fs::write(file, text + SUBIDS).unwrap();
        }
    }
    let id = |flag: &str| -> u32 {
        String::from_utf8(
            Command::new("id")
                .args([flag, USER])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim()
        .parse()
        .unwrap()
    };
    (id("-u"), id("-g"))
}

/// A bundle the test user can read, with a runtime dir it owns.
struct Rootless {
    dir: tempfile::TempDir,
    uid: u32,
    gid: u32,
}

impl Rootless {
    fn new(script: &str, edit: impl FnOnce(&mut Value, u32, u32)) -> Rootless {
        let (uid, gid) = user();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        let r = Rootless { dir, uid, gid };
        let runtime = r.runtime_dir();
        std::fs::create_dir(&runtime).unwrap();
        std::os::unix::fs::chown(&runtime, Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        // The user writes its own rootless config, as a user would.
        let out = r.as_user(&[
            "spec",
            "--rootless",
            "--bundle",
            r.dir.path().to_str().unwrap(),
        ]);
        assert!(out.status.success(), "spec: {}", stderr(&out));
        let path = r.dir.path().join("config.json");
        let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(["sh", "-c", script]);
        config["root"]["path"] = json!(common::shared_rootfs());
        edit(&mut config, uid, gid);
        std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
        r
    }

    fn runtime_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("xdg")
    }

    /// `crust ARGS…` as the test user, with XDG_RUNTIME_DIR set and no
    /// --root: the default state root must be the user's.
    fn as_user(&self, args: &[&str]) -> Output {
        common::output_via_files(
            Command::new("setpriv")
                .args([
                    format!("--reuid={}", self.uid),
                    format!("--regid={}", self.gid),
                    "--clear-groups".into(),
                ])
                .arg(common::CRUST)
                .args(args)
                .env("XDG_RUNTIME_DIR", self.runtime_dir())
                .current_dir(self.dir.path()),
        )
    }
}

impl Drop for Rootless {
    fn drop(&mut self) {
        let _ = self.as_user(&["delete", "--force", "c1"]);
    }
}

#[test]
fn an_ordinary_user_runs_a_container() {
    let r = Rootless::new("id -u; cat /proc/self/uid_map; cat /proc/self/gid_map; echo x > /dev/shm/y && echo writable", |_, _, _| {});
    let out = r.as_user(&["run", "c1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "0", "{text}");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", &r.uid.to_string(), "1"]
    );
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["0", &r.gid.to_string(), "1"]
    );
    assert_eq!(lines[3], "writable");
}

#[test]
fn rootless_state_lives_in_the_users_runtime_dir() {
    let r = Rootless::new("exec sleep 1000", |_, _, _| {});
    let out = r.as_user(&["run", "-d", "c1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let state_dir = r.runtime_dir().join("crust/c1");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(&state_dir).unwrap().uid(),
        r.uid,
        "{state_dir:?}"
    );
    let state: Value = serde_json::from_slice(&r.as_user(&["state", "c1"]).stdout).unwrap();
    assert_eq!(state["status"], "running");
    assert!(r.as_user(&["delete", "--force", "c1"]).status.success());
    assert!(!state_dir.exists());
    assert!(!Path::new("/run/crust/c1").exists());
}

/// More than the user's own id: newuidmap/newgidmap map the subordinate
/// ranges of /etc/subuid and /etc/subgid.
#[test]
fn subordinate_ids_are_mapped_through_the_helpers() {
    let r = Rootless::new(
        "cat /proc/self/uid_map /proc/self/gid_map",
        |c, uid, gid| {
            c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}, {"containerID": 1, "hostID": 300000, "size": 65536}]);
            c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}, {"containerID": 1, "hostID": 300000, "size": 65536}]);
        },
    );
    let out = r.as_user(&["run", "c1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        text.lines()
            .filter(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "300000", "65536"])
            .count(),
        2,
        "{text}"
    );
}

/// Without a cgroup it may write, an unprivileged crust runs the container
/// without one (as runc does), but refuses limits it cannot apply.
#[test]
fn limits_without_a_delegated_cgroup_are_refused() {
    let r = Rootless::new("true", |c, _, _| {
        c["linux"]["resources"] = json!({"pids": {"limit": 10}});
    });
    let out = r.as_user(&["run", "c1"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    let last = err.trim().lines().last().unwrap();
    assert!(
        last.contains("create cgroup") && last.contains("Permission denied"),
        "{err}"
    );
    assert!(!r.runtime_dir().join("crust/c1").exists());
}

/// The cgroup directories a delegation gives `uid`: one per hierarchy the
/// test runs in, chowned with the files in it.
fn delegate(name: &str, uid: u32, gid: u32) -> Vec<std::path::PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mut mounts: Vec<std::path::PathBuf> = own
        .lines()
        .filter_map(|l| l.split(':').nth(1).filter(|c| !c.is_empty()))
        .map(|c| Path::new("/sys/fs/cgroup").join(c.replace("name=", "")))
        .filter(|p| p.exists())
        .collect();
    for v2 in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
        if Path::new(v2).join("cgroup.controllers").exists() {
            mounts.push(v2.into());
            break;
        }
    }
    mounts
        .into_iter()
        .map(|m| {
            let d = m.join(name);
            std::fs::create_dir(&d).unwrap();
            std::os::unix::fs::chown(&d, Some(uid), Some(gid)).unwrap();
            for f in std::fs::read_dir(&d).unwrap().flatten() {
                std::os::unix::fs::chown(f.path(), Some(uid), Some(gid)).unwrap();
            }
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(v) = std::fs::read_to_string(m.join(f)) {
                    if !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
                        let _ = std::fs::write(d.join(f), v.trim());
                    }
                }
            }
            d
        })
        .collect()
}

/// As root: move a shell into the delegated cgroups `dirs`, then become
/// the user and run crust there (what systemd does for a user session).
fn in_delegated(r: &Rootless, dirs: &[std::path::PathBuf], args: &[&str]) -> Output {
    let procs: Vec<String> = dirs
        .iter()
        .map(|d| d.join("cgroup.procs").display().to_string())
        .collect();
    let script = format!(
        "for f in {}; do echo $$ > $f; done; exec setpriv --reuid={} --regid={} --clear-groups {} {}",
        procs.join(" "),
        r.uid,
        r.gid,
        common::CRUST,
        args.join(" ")
    );
    common::output_via_files(
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("XDG_RUNTIME_DIR", r.runtime_dir())
            .current_dir(r.dir.path()),
    )
}

/// CVE-2023-25809: without a cgroup namespace, a rootless container's
/// /sys/fs/cgroup is a bind of its host cgroup directories, which its user
/// owns when the cgroup is delegated. Mounted read-write (the config's
/// cgroup mount here has no "ro"), the container could raise its own
/// limits, as with runc before the fix; crust makes that mount read-only.
#[test]
fn cve_2023_25809_a_rootless_container_cannot_write_its_cgroup() {
    let r = Rootless::new(
        "for f in /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max; do \
         [ -e $f ] && { echo 1000 > $f && echo WROTE $f; }; done; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
        |c, _, _| {
            c["linux"]["resources"] = json!({"pids": {"limit": 10}});
            for m in c["mounts"].as_array_mut().unwrap() {
                if m["type"] == "cgroup" {
                    m["options"] = json!(["nosuid", "noexec", "nodev", "relatime"]);
                }
            }
        },
    );
    let name = format!("crust-cve-2023-25809-{}", std::process::id());
    let dirs = delegate(&name, r.uid, r.gid);
    let out = in_delegated(&r, &dirs, &["run", "c1"]);
    for d in &dirs {
        let _ = std::fs::remove_dir(d.join("c1"));
        std::fs::remove_dir(d).unwrap();
    }
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("WROTE"), "{text}");
    assert_eq!(text.trim(), "10", "{text}");
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
}

/// With a delegated cgroup (crust started inside a subtree the user owns),
/// the container gets its cgroup there, with its limits.
#[test]
fn a_delegated_cgroup_is_used() {
    let r = Rootless::new("exec sleep 1000", |c, _, _| {
        c["linux"]["resources"] = json!({"pids": {"limit": 10}});
    });
    let name = format!("crust-delegated-{}", std::process::id());
    let dirs = delegate(&name, r.uid, r.gid);
    let out = in_delegated(&r, &dirs, &["run", "-d", "c1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid = {
        let state: Value = serde_json::from_slice(&r.as_user(&["state", "c1"]).stdout).unwrap();
        state["pid"].as_i64().unwrap()
    };
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("c1/cgroup.procs")).unwrap();
        assert_eq!(procs.trim(), pid.to_string(), "{d:?}");
        if let Ok(max) = std::fs::read_to_string(d.join("c1/pids.max")) {
            assert_eq!(max.trim(), "10");
        }
    }
    assert!(r.as_user(&["delete", "--force", "c1"]).status.success());
    for d in dirs {
        assert!(!d.join("c1").exists());
        std::fs::remove_dir(d).unwrap();
    }
}

/// An oomScoreAdj below the runtime's own needs CAP_SYS_RESOURCE: a
/// rootless runtime cannot set it and says so, naming the field (the CRI
/// plugin sends pod-level values), instead of running with another score.
#[test]
fn an_oom_score_adj_the_runtime_may_not_set_is_a_clear_error() {
    let r = Rootless::new("cat /proc/self/oom_score_adj", |c, _, _| {
        c["process"]["oomScoreAdj"] = json!(-500);
    });
    let out = r.as_user(&["run", "c1"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    let err = stderr(&out);
    let last = err.trim().lines().last().unwrap();
    assert!(
        last.contains("process.oomScoreAdj") && last.contains("CAP_SYS_RESOURCE"),
        "{err}"
    );
    let r = Rootless::new("cat /proc/self/oom_score_adj", |c, _, _| {
        c["process"]["oomScoreAdj"] = json!(500);
    });
    let out = r.as_user(&["run", "c1"]);
    assert_eq!(stdout(&out).trim(), "500", "{}", stderr(&out));
}

/// With `--systemd-cgroup`, an ordinary user's container is a scope of
/// the user's own systemd manager (`$XDG_RUNTIME_DIR/systemd/private`),
/// as with runc: below user@UID.service, and gone after delete. Under
/// systemd only (scripts/systemd-vm.sh); lingering starts the manager.
#[test]
fn the_systemd_driver_uses_the_users_own_manager() {
    if !common::systemd_driver() || !std::path::Path::new("/run/systemd/private").exists() {
        eprintln!("needs systemd as PID 1 (scripts/systemd-vm.sh)");
        return;
    }
    let r = Rootless::new("exec sleep 1000", |c, _, _| {
        c["linux"]["cgroupsPath"] = Value::Null;
    });
    let ok = |o: &Output| assert!(o.status.success(), "{}", stderr(o));
    ok(&Command::new("loginctl")
        .args(["enable-linger", USER])
        .output()
        .unwrap());
    let manager = format!("user@{}.service", r.uid);
    let started = Command::new("systemctl")
        .args(["start", &manager])
        .output()
        .unwrap();
    if !started.status.success() {
        let journal = Command::new("journalctl")
            .args(["-u", &manager, "--no-pager", "-n", "20"])
            .output()
            .unwrap();
        panic!("{manager}: {}{}", stderr(&started), stdout(&journal));
    }
    let runtime = format!("/run/user/{}", r.uid);
    let state = r.dir.path().join("state");
    let as_user = |args: &[&str]| {
        common::output_via_files(
            Command::new("setpriv")
                .args([
                    format!("--reuid={}", r.uid),
                    format!("--regid={}", r.gid),
                    "--clear-groups".into(),
                ])
                .arg(common::CRUST)
                .arg("--systemd-cgroup")
                .arg("--root")
                .arg(&state)
                .args(args)
                .env("XDG_RUNTIME_DIR", &runtime)
                .env_remove("DBUS_SESSION_BUS_ADDRESS")
                .current_dir(r.dir.path()),
        )
    };
    if !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        // v1 or hybrid: a user's manager cannot delegate v1 controllers.
        let out = as_user(&["run", "-d", "c1"]);
        assert!(!out.status.success());
        assert!(
            common::last_error_line(&out).contains("can delegate only cgroup v2"),
            "{}",
            stderr(&out)
        );
        assert!(!state.join("c1").exists());
        return;
    }
    // Once the manager runs (crust's first call used to come in the same
    // read as its authentication's BEGIN, which an idle user manager left
    // unanswered: crust now waits for the server's OK first).
    let ready = Command::new("setpriv")
        .args([
            format!("--reuid={}", r.uid),
            format!("--regid={}", r.gid),
            "--clear-groups".into(),
        ])
        .args([
            "timeout",
            "60",
            "systemctl",
            "--user",
            "is-system-running",
            "--wait",
        ])
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .unwrap();
    eprintln!("user manager: {}", stdout(&ready).trim());
    ok(&as_user(&["--debug", "run", "-d", "c1"]));
    let st: Value = serde_json::from_slice(&as_user(&["state", "c1"]).stdout).unwrap();
    let pid = st["pid"].as_i64().unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let scope = format!("/user@{}.service/user.slice/crust-c1.scope", r.uid);
    assert!(cg.contains(&scope), "{cg}");
    let dir = cg
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| format!("/sys/fs/cgroup{p}"))
        .unwrap_or_else(|| {
            format!(
                "/sys/fs/cgroup/systemd{}",
                cg.lines()
                    .find_map(|l| l.split("name=systemd:").nth(1))
                    .unwrap()
            )
        });
    assert!(std::path::Path::new(&dir).exists(), "{dir}");
    ok(&as_user(&["delete", "--force", "c1"]));
    assert!(
        !std::path::Path::new(&dir).exists(),
        "{dir} left after delete"
    );
    let _ = Command::new("loginctl")
        .args(["disable-linger", USER])
        .output();
}
