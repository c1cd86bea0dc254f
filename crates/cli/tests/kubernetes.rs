//! What a Kubernetes node asks of the runtime through containerd's CRI
//! plugin and its runc shim, driven here with the calls the shim makes:
//! mount propagation both ways, the sequence around an exit, and the pod
//! settings the CRI plugin sends. (tests/engines runs containerd itself.)

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{alive, stderr, stdout, Bundle};
use serde_json::json;

fn ok(out: &std::process::Output) {
    assert!(out.status.success(), "{}", stderr(out));
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A directory of the host's made a shared mount, as kubelet makes its
/// pods' volume directories; unmounted (with what is below) when dropped.
struct SharedDir {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl SharedDir {
    fn new() -> SharedDir {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vol");
        std::fs::create_dir(&path).unwrap();
        for args in [
            vec!["--bind", path.to_str().unwrap(), path.to_str().unwrap()],
            vec!["--make-shared", path.to_str().unwrap()],
        ] {
            assert!(Command::new("mount")
                .args(&args)
                .status()
                .unwrap()
                .success());
        }
        SharedDir { _dir: dir, path }
    }

    /// The host mounts a tmpfs at `sub` below it.
    fn mount_from_host(&self, sub: &str) {
        assert!(Command::new("mount")
            .args(["-t", "tmpfs", "none"])
            .arg(self.path.join(sub))
            .status()
            .unwrap()
            .success());
    }

    /// Whether the host sees a mount at `sub` below it.
    fn host_sees(&self, sub: &str) -> bool {
        let want = self.path.join(sub);
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(4).is_some_and(|p| Path::new(p) == want))
    }
}

impl Drop for SharedDir {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-R").arg(&self.path).status();
    }
}

/// The process mounts: CAP_SYS_ADMIN, and no seccomp profile (not even
/// the strict lane's).
fn with_sys_admin(b: &mut Bundle) {
    b.as_configured = true;
    b.add_capability("CAP_SYS_ADMIN");
}

/// A container with a host volume (a shared mount) at /vol, bound with
/// `rbind,PROPAGATION` under `rootfsPropagation: PROPAGATION`: it mounts
/// a tmpfs at /vol/from-container, waits (10 s at most) until it sees the
/// host's mount at /vol/from-host, then runs `then`.
fn propagation_bundle(propagation: &str, then: &str) -> (SharedDir, Bundle) {
    let vol = SharedDir::new();
    std::fs::create_dir(vol.path.join("from-container")).unwrap();
    std::fs::create_dir(vol.path.join("from-host")).unwrap();
    let mut b = Bundle::new(&format!(
        "mount -t tmpfs none /vol/from-container && echo mounted; \
         i=0; while ! grep -q ' /vol/from-host ' /proc/self/mountinfo; do i=$((i+1)); [ $i -gt 200 ] && exit 9; sleep 0.05; done; {then}"
    ));
    with_sys_admin(&mut b);
    b.config["linux"]["rootfsPropagation"] = json!(propagation);
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/vol", "type": "bind", "source": vol.path, "options": ["rbind", propagation]}),
    );
    (vol, b)
}

/// Kubernetes' `Bidirectional` propagation (every CSI node plugin needs
/// it): a volume bound `rbind,rshared` with `rootfsPropagation: rshared`.
/// A mount the container makes under it appears on the host, and one the
/// host makes appears in the container; the container's own mounts (its
/// rootfs, proc, dev) never reach the host.
#[test]
fn bidirectional_propagation_reaches_the_host_and_back() {
    let (vol, b) = propagation_bundle("rshared", "touch /dev/shm/saw-host; exec sleep 1000");
    let rootfs = std::fs::canonicalize(b.rootfs()).unwrap();
    ok(&b.crust(&["run", "-d", "c1"]));
    wait_until("the container's mount on the host", || {
        vol.host_sees("from-container")
    });
    vol.mount_from_host("from-host");
    let pid = b.state("c1")["pid"].as_i64().unwrap();
    let saw = PathBuf::from(format!("/proc/{pid}/root/dev/shm/saw-host"));
    wait_until("the host's mount in the container", || saw.exists());
    let leaked: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(4)
                .is_some_and(|p| Path::new(p).starts_with(&rootfs))
        })
        .map(String::from)
        .collect();
    assert!(
        leaked.is_empty(),
        "container mounts on the host: {leaked:?}"
    );
    ok(&b.crust(&["delete", "--force", "c1"]));
}

/// `HostToContainer` (`rbind,rslave`, `rootfsPropagation: rslave`): what
/// the host mounts later appears inside; what the container mounts stays
/// inside.
#[test]
fn host_to_container_propagation_is_one_way() {
    let (vol, b) = propagation_bundle("rslave", "echo saw-host");
    b.write();
    let runner = b
        .command(&["run", "c1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the container", || {
        b.command(&["state", "c1"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    std::thread::sleep(Duration::from_millis(200));
    vol.mount_from_host("from-host");
    let out = runner.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "mounted\nsaw-host\n", "{}", stderr(&out));
    assert!(!vol.host_sees("from-container"));
}

/// After every exit the shim calls `state`, then `kill --all ID 9`, then
/// `delete` (`--force` on its cleanup path): all succeed and leave no state
/// and no cgroup, whether the init exited by itself, was OOM-killed, or was
/// killed from outside, in a pod that shares its pid namespace or not.
#[test]
fn the_shims_calls_after_an_exit_succeed_and_leave_nothing() {
    let cases: [(&str, &str); 3] = [
        ("exited", "sleep 1001 & exit 3"),
        (
            "oom",
            "sleep 1001 & head -c 64m /dev/zero | tail > /dev/null",
        ),
        ("killed", "sleep 1001 & exec sleep 1000"),
    ];
    for shared_pid in [false, true] {
        for (i, (case, script)) in cases.iter().enumerate() {
            for force in [false, true] {
                let mut b = Bundle::new(script);
                if shared_pid {
                    b.config["linux"]["namespaces"]
                        .as_array_mut()
                        .unwrap()
                        .retain(|n| n["type"] != "pid");
                }
                if *case == "oom" {
                    b.config["linux"]["resources"]["memory"] =
                        json!({"limit": 16777216, "swap": 16777216});
                }
                let id = format!("c{i}{}", u8::from(force));
                ok(&b.crust(&["run", "-d", &id]));
                if *case == "killed" {
                    let pid = b.state(&id)["pid"].as_i64().unwrap();
                    common::wait_for_descendant(pid, "sleep");
                    unsafe_free_kill(pid);
                }
                wait_until("the exit", || b.state(&id)["status"] == "stopped");
                let dirs = b.cgroup_dirs(&id);
                let what = format!("{case}, shared pid {shared_pid}, force {force}");
                let kill = b.crust(&["kill", "--all", &id, "9"]);
                assert!(
                    kill.status.success(),
                    "{what}: kill --all: {}",
                    stderr(&kill)
                );
                let mut delete = vec!["delete"];
                if force {
                    delete.push("--force");
                }
                delete.push(&id);
                let del = b.crust(&delete);
                assert!(del.status.success(), "{what}: delete: {}", stderr(&del));
                assert_eq!(b.state_dirs(), 0, "{what}");
                assert!(dirs.iter().all(|d| !d.exists()), "{what}: {dirs:?} left");
                assert!(stderr(&b.crust(&["state", &id])).contains("does not exist"));
            }
        }
    }
}

/// SIGKILL from the host, as an OOM killer or an operator would.
fn unsafe_free_kill(pid: i64) {
    assert!(Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap()
        .success());
}

/// The shim's own `kill` racing an exit: each call either signals the
/// container or says runc's "container not running" (mapped to not-found),
/// never anything else; the cleanup after it succeeds.
#[test]
fn a_kill_racing_the_exit_says_only_runcs_words() {
    for i in 0..20 {
        let b = Bundle::new("sleep 0.0$((RANDOM % 5))");
        let id = format!("r{i}");
        ok(&b.crust(&["run", "-d", &id]));
        for _ in 0..5 {
            let out = b.crust(&["kill", &id, "TERM"]);
            if !out.status.success() {
                let err = stderr(&out);
                assert!(err.contains("container not running"), "{err}");
            }
        }
        ok(&b.crust(&["kill", "--all", &id, "9"]));
        ok(&b.crust(&["delete", "--force", &id]));
        assert_eq!(b.state_dirs(), 0);
    }
}

/// A pod as the CRI plugin builds it: a sandbox (pause) container with
/// new net, ipc, uts and pid namespaces and the pod's sysctls, and an app
/// container joining them by path, with a read-only rootfs, runAsUser and
/// runAsGroup, supplementalGroups, /etc/hosts, /etc/resolv.conf and
/// /etc/hostname bound from the pod's directory, the CRI plugin's masked
/// and read-only paths and the engines' default seccomp profile — with
/// noNewPrivileges either way.
#[test]
fn a_pod_sandbox_and_an_app_container_joining_it() {
    let pod = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("hosts", "127.0.0.1 localhost\n10.0.0.5 my-pod\n"),
        (
            "resolv.conf",
            "nameserver 10.96.0.10\nsearch default.svc.cluster.local\n",
        ),
        ("hostname", "my-pod\n"),
    ] {
        std::fs::write(pod.path().join(name), text).unwrap();
    }
    let mut sandbox = Bundle::new("exec sleep 1000");
    sandbox.config["hostname"] = json!("my-pod");
    sandbox.config["linux"]["sysctl"] = json!({"net.ipv4.ip_unprivileged_port_start": "0"});
    ok(&sandbox.crust(&["run", "-d", "pause"]));
    let pause = sandbox.state("pause")["pid"].as_i64().unwrap();

    for (i, nnp) in [true, false].into_iter().enumerate() {
        for shared_pid in [false, true] {
            let script = "id -u; id -g; id -G; hostname; cat /etc/resolv.conf | head -1; \
                          grep my-pod /etc/hosts; cat /proc/sys/net/ipv4/ip_unprivileged_port_start; \
                          touch /x 2>&1; wc -c < /proc/keys; \
                          (echo 1 > /proc/sys/kernel/domainname) 2>&1; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; \
                          ps -o pid,comm | grep -c sleep; true";
            let mut app = Bundle::new(script);
            app.config["root"]["readonly"] = json!(true);
            app.config["process"]["user"] =
                json!({"uid": 1000, "gid": 3000, "additionalGids": [3000, 4000, 5000]});
            app.config["process"]["noNewPrivileges"] = json!(nnp);
            app.config["linux"]["seccomp"] = common::engine_default_profile(&[
                "CAP_CHOWN",
                "CAP_DAC_OVERRIDE",
                "CAP_FSETID",
                "CAP_FOWNER",
                "CAP_MKNOD",
                "CAP_NET_RAW",
                "CAP_SETGID",
                "CAP_SETUID",
                "CAP_SETFCAP",
                "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE",
                "CAP_SYS_CHROOT",
                "CAP_KILL",
                "CAP_AUDIT_WRITE",
            ]);
            let mut joined = vec!["network", "ipc", "uts"];
            if shared_pid {
                joined.push("pid");
            }
            let ns_file = |t: &str| {
                if t == "network" {
                    "net".to_string()
                } else {
                    t.to_string()
                }
            };
            for n in app.config["linux"]["namespaces"].as_array_mut().unwrap() {
                let t = n["type"].as_str().unwrap().to_string();
                if joined.contains(&t.as_str()) {
                    n["path"] = json!(format!("/proc/{pause}/ns/{}", ns_file(&t)));
                }
            }
            app.config.as_object_mut().unwrap().remove("hostname");
            for name in ["hosts", "resolv.conf", "hostname"] {
                app.config["mounts"].as_array_mut().unwrap().push(json!({
                    "destination": format!("/etc/{name}"), "type": "bind",
                    "source": pod.path().join(name), "options": ["rbind", "rprivate", "ro"]}));
            }
            let id = format!("app{i}{}", u8::from(shared_pid));
            let out = app.run(&id);
            let what = format!("nnp {nnp}, shared pid {shared_pid}");
            assert!(out.status.success(), "{what}: {}", stderr(&out));
            let text = stdout(&out);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(
                lines[..7],
                [
                    "1000",
                    "3000",
                    "3000 4000 5000",
                    "my-pod",
                    "nameserver 10.96.0.10",
                    "10.0.0.5 my-pod",
                    "0",
                ],
                "{what}: {text}"
            );
            assert!(lines[7].contains("Read-only file system"), "{what}: {text}");
            assert_eq!(lines[8], "0", "/proc/keys is masked: {what}: {text}");
            assert!(
                lines[9].contains("Read-only file system")
                    || lines[9].contains("Permission denied"),
                "{what}: {text}"
            );
            assert!(text.contains("Seccomp:\t2"), "{what}: {text}");
            assert!(
                text.contains(&format!("NoNewPrivs:\t{}", u8::from(nnp))),
                "{what}: {text}"
            );
            let sleeps: u32 = lines.last().unwrap().trim().parse().unwrap();
            assert_eq!(
                sleeps,
                u32::from(shared_pid),
                "the pause process is seen only in a shared pid namespace: {what}: {text}"
            );
        }
    }
    ok(&sandbox.crust(&["delete", "--force", "pause"]));
    assert!(!alive(pause));
}

/// The texts engines match in a runtime's errors (containerd's shim:
/// "container not running", "does not exist", ESRCH's "no such process";
/// CRI-O and podman: "does not exist", "already exists"), each said by
/// crust where runc says it.
#[test]
fn the_error_texts_engines_match() {
    let b = Bundle::new("exec sleep 1000");
    let missing = |args: &[&str]| {
        let out = b.crust(args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains("does not exist"),
            "{args:?}: {}",
            stderr(&out)
        );
    };
    missing(&["state", "nope"]);
    missing(&["kill", "nope", "KILL"]);
    missing(&["delete", "nope"]);
    missing(&["exec", "nope", "true"]);
    ok(&b.crust(&["run", "-d", "c1"]));
    let again = b.crust(&["create", "c1"]);
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    ok(&b.crust(&["kill", "c1", "KILL"]));
    wait_until("the exit", || b.state("c1")["status"] == "stopped");
    for args in [vec!["kill", "c1", "TERM"], vec!["exec", "c1", "true"]] {
        let out = b.crust(&args);
        assert!(
            stderr(&out).contains("container not running"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    ok(&b.crust(&["delete", "c1"]));
}
