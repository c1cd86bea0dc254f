//! Faults, races and bad input: nothing leaked, nothing lost, every error
//! clear (docs/reliability.md lists what is covered).

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

use common::{stderr, Bundle};
use serde_json::{json, Value};

type Edit = Box<dyn Fn(&mut Value)>;

/// At least 30 hostile or broken configs, each refused with one error line
/// that names the field, a non-zero exit, and nothing left behind.
#[test]
fn hostile_and_broken_configs_fail_cleanly() {
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|c| c["process"]["args"] = json!("sh")),
            "process.args",
        ),
        (
            Box::new(|c| c["process"]["args"] = json!([])),
            "process.args",
        ),
        (
            Box::new(|c| c["process"]["args"] = json!([1, 2])),
            "process.args[0]",
        ),
        (
            Box::new(|c| {
                c["process"].as_object_mut().unwrap().remove("args");
            }),
            "process.args",
        ),
        (
            Box::new(|c| c["process"]["user"]["uid"] = json!("root")),
            "process.user.uid",
        ),
        (
            Box::new(|c| c["process"]["user"]["uid"] = json!(-1)),
            "process.user.uid",
        ),
        (
            Box::new(|c| c["process"]["cwd"] = json!("relative/dir")),
            "process.cwd",
        ),
        (
            Box::new(|c| c["process"]["env"] = json!([1])),
            "process.env[0]",
        ),
        (
            Box::new(|c| {
                c["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}])
            }),
            "RLIMIT_BOGUS",
        ),
        (
            // An unknown name is skipped with a warning; a number is no name.
            Box::new(|c| c["process"]["capabilities"]["bounding"] = json!([7])),
            "process.capabilities.bounding",
        ),
        (Box::new(|c| c["ociVersion"] = json!(1)), "ociVersion"),
        (
            Box::new(|c| c["root"]["path"] = json!("/does/not/exist")),
            "root.path",
        ),
        (Box::new(|c| c["root"] = json!(7)), "root"),
        (
            Box::new(|c| c["linux"]["namespaces"][0]["type"] = json!("nope")),
            "linux.namespaces[0].type",
        ),
        (
            Box::new(|c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "pid"}))
            }),
            "linux.namespaces",
        ),
        (
            Box::new(|c| c["linux"]["namespaces"][1]["path"] = json!("/does/not/exist")),
            "linux.namespaces[1]",
        ),
        (
            Box::new(|c| c["mounts"][0]["destination"] = json!("proc")),
            "mounts[0].destination",
        ),
        (
            Box::new(|c| {
                c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/x", "type": "bind", "source": "/does/not/exist", "options": ["bind"]}))
            }),
            "mounts[",
        ),
        (
            Box::new(|c| c["mounts"][0]["options"] = json!(["bogus-option-xyz"])),
            "mounts[0]",
        ),
        (
            Box::new(|c| c["linux"]["resources"]["pids"] = json!({"limit": i64::MAX})),
            "linux.resources.pids.limit",
        ),
        (
            Box::new(|c| c["linux"]["resources"]["memory"] = json!({"limit": -5})),
            "linux.resources.memory.limit",
        ),
        (
            Box::new(|c| c["linux"]["resources"]["cpu"] = json!({"shares": -1})),
            "linux.resources.cpu.shares",
        ),
        (
            Box::new(|c| c["linux"]["resources"]["cpu"] = json!({"cpus": "0-99999"})),
            "linux.resources.cpu.cpus",
        ),
        (
            Box::new(|c| c["linux"]["resources"]["unified"] = json!({"../../escape": "1"})),
            "linux.resources.unified",
        ),
        (
            Box::new(|c| {
                c["linux"]["resources"]["devices"] = json!([{"allow": false, "access": "rwx"}])
            }),
            "linux.resources.devices[0]",
        ),
        (
            Box::new(|c| c["linux"]["cgroupsPath"] = json!("system.slice:crust:x")),
            "linux.cgroupsPath",
        ),
        (
            Box::new(|c| c["linux"]["sysctl"] = json!({"vm.swappiness": "1"})),
            "not namespaced",
        ),
        (
            Box::new(|c| c["linux"]["sysctl"] = json!({"../../etc/passwd": "1"})),
            "linux.sysctl",
        ),
        (
            Box::new(|c| c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_BOGUS"})),
            "linux.seccomp.defaultAction",
        ),
        (
            Box::new(|c| {
                c["linux"]["devices"] =
                    json!([{"path": "relative", "type": "c", "major": 1, "minor": 3}])
            }),
            "linux.devices[0]",
        ),
        (
            Box::new(|c| {
                c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}])
            }),
            "linux.uidMappings",
        ),
        (
            Box::new(|c| c["hooks"] = json!({"prestart": [{"path": "relative/hook"}]})),
            "hooks.prestart[0].path",
        ),
        (
            Box::new(|c| c["process"]["args"] = json!(["/no/such/binary"])),
            "process.args[0]",
        ),
        (
            Box::new(|c| c["process"]["args"] = json!(["no-such-command"])),
            "executable file not found in $PATH",
        ),
    ];
    assert!(cases.len() >= 30);
    for (i, (edit, needle)) in cases.into_iter().enumerate() {
        let mut b = Bundle::new("true");
        edit(&mut b.config);
        b.assert_fails_cleanly(&["create", &format!("bad{i}")], &[needle]);
    }
}

/// Every cgroup directory named `name` (an absolute cgroupsPath) on this
/// host, in whatever hierarchy.
fn cgroup_dirs_named(name: &str) -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let mut found: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .map(|h| h.path().join(name))
        .filter(|p| p.exists())
        .collect();
    if root.join(name).exists() {
        found.push(root.join(name));
    }
    found
}

/// crust killed with SIGKILL at each phase of create, start, exec and
/// delete (a debug build stops at `CRUST_FAULT`): `state` still answers,
/// `delete --force` removes every trace (state directory, cgroups,
/// processes), and a container next to it is not affected.
#[test]
fn a_kill_at_any_phase_is_cleaned_up_by_delete_force() {
    let points = [
        ("create", "create:recorded"),
        ("create", "create:cgroup"),
        ("create", "create:spawned"),
        ("create", "create:saved"),
        ("start", "start:released"),
        ("exec", "exec:forked"),
        ("delete", "delete:killed"),
        ("delete", "delete:cgroup"),
        ("delete", "delete:renamed"),
    ];
    let mut b = Bundle::new("exec sleep 1000");
    let bystander = format!("crust-bystander-{}", std::process::id());
    b.config["linux"]["cgroupsPath"] = json!(format!("/{bystander}"));
    assert!(b.crust(&["run", "-d", "by"]).status.success());
    for (i, (command, point)) in points.iter().enumerate() {
        let name = format!("crust-fault-{}-{i}", std::process::id());
        b.config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
        b.write();
        let id = format!("v{i}");
        let prepare: &[&str] = match *command {
            "create" => &[],
            "start" => &["create", &id],
            _ => &["run", "-d", &id],
        };
        if !prepare.is_empty() {
            assert!(b.crust(prepare).status.success(), "{point}: prepare");
        }
        let args: Vec<&str> = match *command {
            "create" => vec!["create", &id],
            "start" => vec!["start", &id],
            "exec" => vec!["exec", &id, "sleep", "1000"],
            _ => vec!["delete", "--force", &id],
        };
        let out = common::output_via_files(b.command(&args).env("CRUST_FAULT", point));
        assert_eq!(
            out.status.signal(),
            Some(9),
            "{point} was not reached: {}",
            stderr(&out)
        );
        // state answers: a status, or a clear error.
        let st = b.crust(&["state", &id]);
        if st.status.success() {
            let v: Value = serde_json::from_slice(&st.stdout).unwrap();
            assert!(v["status"].is_string(), "{point}: {v}");
        } else {
            let err = stderr(&st);
            assert!(
                err.contains("does not exist") || err.contains("unreadable"),
                "{point}: {err}"
            );
        }
        let del = b.crust(&["delete", "--force", &id]);
        assert!(del.status.success(), "{point}: {}", stderr(&del));
        assert!(!b.root.join(&id).exists(), "{point}: state left");
        let left: Vec<String> = b
            .container_ids()
            .into_iter()
            .filter(|n| n != "by")
            .collect();
        assert!(left.is_empty(), "{point}: {left:?} left in the state root");
        assert_eq!(
            cgroup_dirs_named(&name),
            Vec::<PathBuf>::new(),
            "{point}: cgroup left"
        );
        assert!(
            common::processes_naming(&b.root).is_empty(),
            "{point}: process left"
        );
        assert_eq!(
            b.state("by")["status"],
            "running",
            "{point}: the bystander suffered"
        );
    }
    assert!(b.crust(&["delete", "--force", "by"]).status.success());
    assert!(cgroup_dirs_named(&bystander).is_empty());
}

/// The disk fills up while crust writes a state: the write fails with a
/// clear error and the previous state stays whole (written to a temporary
/// file, then renamed over it).
#[test]
fn a_full_disk_keeps_the_previous_state() {
    let mut b = Bundle::new("exec sleep 1000");
    b.config["linux"]["resources"]["pids"] = json!({"limit": 50});
    std::fs::create_dir_all(&b.root).unwrap();
    let root = b.root.to_str().unwrap().to_string();
    // A small filesystem of its own for the state root.
    assert!(std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs", &root])
        .status()
        .unwrap()
        .success());
    struct Unmount(String);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .args(["-l", &self.0])
                .status();
        }
    }
    let _unmount = Unmount(root.clone());
    assert!(b.crust(&["run", "-d", "c1"]).status.success());
    let before = std::fs::read(b.root.join("c1/state.json")).unwrap();
    // Fill what is left.
    let filler = b.root.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 128 * 1024]);
    let out = b.crust(&["update", "--pids-limit", "20", "c1"]);
    assert!(!out.status.success());
    assert!(
        common::last_error_line(&out).contains("No space left on device"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(b.root.join("c1/state.json")).unwrap(), before);
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(b.state("c1")["status"], "running");
    assert!(b.crust(&["delete", "--force", "c1"]).status.success());
}

/// The exec fifo removed behind crust's back: `start` cannot tell the
/// init to run and says the container is not in a startable state;
/// `delete --force` still cleans up.
#[test]
fn a_missing_exec_fifo_is_reported_and_cleaned_up() {
    let b = Bundle::new("exec sleep 1000");
    assert!(b.crust(&["create", "c1"]).status.success());
    let pid = b.state("c1")["pid"].as_i64().unwrap();
    std::fs::remove_file(b.root.join("c1/exec.fifo")).unwrap();
    let out = b.crust(&["start", "c1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot start"), "{}", stderr(&out));
    assert!(b.crust(&["delete", "--force", "c1"]).status.success());
    assert!(!common::alive(pid));
    assert_eq!(b.state_dirs(), 0);
}

/// The state directory removed under a running container: crust no longer
/// knows it (a clear "does not exist"), and the container's cgroup, named
/// in the config, is where to clean up from: killing it ends everything.
#[test]
fn a_removed_state_directory_is_reported() {
    let mut b = Bundle::new("exec sleep 1000");
    let name = format!("crust-orphan-{}", std::process::id());
    b.config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
    assert!(b.crust(&["run", "-d", "c1"]).status.success());
    let pid = b.state("c1")["pid"].as_i64().unwrap();
    std::fs::remove_dir_all(b.root.join("c1")).unwrap();
    let out = b.crust(&["state", "c1"]);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert!(b.crust(&["delete", "--force", "c1"]).status.success());
    // The way out: the cgroup.
    for d in cgroup_dirs_named(&name) {
        if let Ok(procs) = std::fs::read_to_string(d.join("cgroup.procs")) {
            for p in procs.split_whitespace() {
                let _ = std::process::Command::new("kill").args(["-9", p]).status();
            }
        }
    }
    let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while common::alive(pid) {
        assert!(std::time::Instant::now() < end);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for d in cgroup_dirs_named(&name) {
        let _ = std::fs::remove_dir(d);
    }
}
