//! Cgroups, on whatever layout the host has (this suite also runs with the
//! unified mount hidden, for pure v1, and in a VM booted with pure v2: see
//! `scripts/cgroup2-vm.sh`). Each limit is checked in the cgroup file and
//! by its effect inside the container.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{alive, stderr, stdout, Bundle};
use serde_json::{json, Value};

/// The directory holding `controller` (`""`: the v2 directory) and
/// whether it is v2.
fn dir_of(b: &Bundle, id: &str, controller: &str) -> Option<(PathBuf, bool)> {
    let nodes = b.cgroup_nodes(id);
    let v1 = nodes.iter().find(|n| {
        n["version"] == "V1"
            && n["controllers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == controller)
    });
    let v2 = nodes.iter().find(|n| {
        n["version"] == "V2"
            && (controller.is_empty()
                || n["controllers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c == controller))
    });
    v1.or(v2).map(|n| {
        (
            PathBuf::from(n["dir"].as_str().unwrap()),
            n["version"] == "V2",
        )
    })
}

/// Read the file for `controller`: `v1` or `v2` by where it lives.
fn read(b: &Bundle, id: &str, controller: &str, v1: &str, v2: &str) -> String {
    let (dir, is_v2) = dir_of(b, id, controller).unwrap_or_else(|| panic!("no {controller}"));
    let file = dir.join(if is_v2 { v2 } else { v1 });
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{file:?}: {e}"))
        .trim()
        .to_string()
}

/// The lines of a `/proc/PID/cgroup` text for the hierarchies the
/// container has a directory in: (path in the line, that directory).
fn in_managed_hierarchies(b: &Bundle, id: &str, text: &str) -> Vec<(String, PathBuf)> {
    let nodes = b.cgroup_nodes(id);
    text.lines()
        .filter_map(|line| {
            let mut f = line.splitn(3, ':');
            let (num, controllers, path) = (f.next()?, f.next()?, f.next()?);
            let node = nodes.iter().find(|n| {
                if num == "0" {
                    n["version"] == "V2"
                } else {
                    let listed: Vec<&str> = n["controllers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    n["version"] == "V1" && listed.join(",") == controllers
                }
            })?;
            Some((path.to_string(), PathBuf::from(node["dir"].as_str()?)))
        })
        .collect()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ok(out: &std::process::Output) {
    assert!(out.status.success(), "{}", stderr(out));
}

#[test]
fn the_container_runs_in_its_cgroup_and_delete_removes_it() {
    let b = Bundle::new("exec sleep 1000");
    ok(&b.crust(&["run", "-d", "c1"]));
    let pid = b.state("c1")["pid"].as_i64().unwrap();
    let dirs = b.cgroup_dirs("c1");
    assert!(!dirs.is_empty());
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert_eq!(procs.trim(), pid.to_string(), "{d:?}");
    }
    // Seen from inside: the container's /proc/self/cgroup names the same
    // path in every hierarchy (no cgroup namespace in this config).
    let out = b.crust(&["exec", "c1", "cat", "/proc/self/cgroup"]);
    ok(&out);
    let seen = in_managed_hierarchies(&b, "c1", &stdout(&out));
    assert_eq!(seen.len(), dirs.len(), "{}", stdout(&out));
    for (path, dir) in seen {
        assert!(
            dir.ends_with(path.trim_start_matches('/')),
            "{path} vs {dir:?}"
        );
    }
    ok(&b.crust(&["delete", "--force", "c1"]));
    for d in &dirs {
        assert!(!d.exists(), "{d:?} left behind");
    }
}

/// On a v1 or hybrid host the container's `/sys/fs/cgroup` is laid out
/// as runc lays it out: a read-only tmpfs with a directory for each of the
/// host's hierarchies (`unified` for the v2 one), each showing the
/// container's own cgroup, and comounted controllers (`cpu,cpuacct` on a
/// systemd host) reached through a symlink per controller — without a
/// cgroup namespace (binds of the container's cgroup directories) and
/// with one (each hierarchy mounted afresh).
#[test]
fn the_v1_cgroup_mount_has_every_hierarchy_and_its_links() {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        return; // pure v2: one cgroup2 mount, checked elsewhere
    }
    // What the container should see: the host's hierarchies, as the test
    // process's /proc/self/cgroup names them.
    let mut want = Vec::new();
    for line in std::fs::read_to_string("/proc/self/cgroup")
        .unwrap()
        .lines()
    {
        let controllers = line.split(':').nth(1).unwrap();
        let dir = match controllers {
            "" => "unified",
            c => c.strip_prefix("name=").unwrap_or(c),
        };
        if !Path::new("/sys/fs/cgroup").join(dir).is_dir() {
            continue;
        }
        want.push(format!("{dir}/"));
        if controllers.contains(',') {
            want.extend(controllers.split(',').map(|c| format!("{c} -> {dir}")));
        }
    }
    want.sort();
    for cgroupns in [false, true] {
        let mut b = Bundle::new(
            "cd /sys/fs/cgroup; for e in *; do if [ -L $e ]; then echo \"$e -> $(readlink $e)\"; \
             else echo $e/; fi; done; echo; cat pids/pids.max; \
             mkdir x 2>/dev/null && echo tmpfs-writable; true",
        );
        b.config["linux"]["resources"]["pids"] = json!({"limit": 17});
        if cgroupns {
            b.config["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "cgroup"}));
        }
        let out = b.output_of("c1");
        let (listing, rest) = out.split_once("\n\n").unwrap_or((&out, ""));
        let mut seen: Vec<String> = listing.lines().map(String::from).collect();
        seen.sort();
        assert_eq!(seen, want, "cgroupns {cgroupns}: {out}");
        assert_eq!(
            rest.lines().next(),
            Some("17"),
            "cgroupns {cgroupns}: {out}"
        );
        assert!(
            !out.contains("tmpfs-writable"),
            "cgroupns {cgroupns}: {out}"
        );
    }
}

#[test]
fn absolute_and_relative_cgroup_paths() {
    if !common::cgroupfs_driver("absolute_and_relative_cgroup_paths") {
        return;
    }
    let mut b = Bundle::new("exec sleep 1000");
    let name = format!("crust-abs-{}", std::process::id());
    b.config["linux"]["cgroupsPath"] = json!(format!("/{name}/../{name}/c"));
    ok(&b.crust(&["run", "-d", "c1"]));
    for d in b.cgroup_dirs("c1") {
        assert!(d.ends_with(format!("{name}/c")), "{d:?}");
        // Absolute: right under the hierarchy's root (/sys/fs/cgroup on v2,
        // /sys/fs/cgroup/<hierarchy> on v1), whatever crust's own cgroup.
        let root = d.parent().unwrap().parent().unwrap();
        let cgroupfs = Path::new("/sys/fs/cgroup");
        assert!(root == cgroupfs || root.parent() == Some(cgroupfs), "{d:?}");
    }
    ok(&b.crust(&["delete", "--force", "c1"]));
    for d in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(d.path().join(&name));
    }
    let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&name));

    // Absent: the id, under crust's own cgroup (as runc does).
    let mut b = Bundle::new("exec sleep 1000");
    b.config["linux"]["cgroupsPath"] = Value::Null;
    let id = format!("default-path-{}", std::process::id());
    ok(&b.crust(&["run", "-d", &id]));
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    for d in b.cgroup_dirs(&id) {
        assert!(d.ends_with(&id), "{d:?}");
        let hierarchy_own = own
            .lines()
            .map(|l| l.splitn(3, ':').nth(2).unwrap().trim_start_matches('/'))
            .any(|p| {
                d.to_string_lossy()
                    .contains(&format!("{p}/{id}").replace("//", "/"))
            });
        assert!(hierarchy_own, "{d:?} is not under our own cgroup ({own})");
    }
    ok(&b.crust(&["delete", "--force", &id]));
}

#[test]
fn memory_limit_is_set_and_a_hog_is_oom_killed() {
    let mut b = Bundle::new("exec sleep 1000");
    let limit = 16 * 1024 * 1024;
    // No swap beyond the limit, so that the hog cannot page out.
    b.config["linux"]["resources"]["memory"] = json!({"limit": limit, "swap": limit});
    ok(&b.crust(&["run", "-d", "c1"]));
    assert_eq!(
        read(&b, "c1", "memory", "memory.limit_in_bytes", "memory.max"),
        limit.to_string()
    );
    // tail keeps a line that never ends: it grows until the kernel kills it.
    let out = b.crust(&["exec", "c1", "tail", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    let stats = b.crust(&["events", "--stats", "c1"]);
    ok(&stats);
    let event: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(event["type"], "stats");
    assert_eq!(event["id"], "c1");
    assert_eq!(event["data"]["memory"]["usage"]["limit"], limit);
    // The peak reached the limit.
    let peak = event["data"]["memory"]["usage"]["max"].as_u64().unwrap();
    assert!(peak > limit * 9 / 10, "{event}");
    ok(&b.crust(&["delete", "--force", "c1"]));
}

#[test]
fn events_reports_oom_kills_as_they_happen() {
    let mut b = Bundle::new("exec sleep 1000");
    b.config["linux"]["resources"]["memory"] = json!({"limit": 16 << 20, "swap": 16 << 20});
    ok(&b.crust(&["run", "-d", "c1"]));
    let log = b.dir.path().join("events.out");
    let mut events = b
        .command(&["events", "--interval", "1s", "c1"])
        .stdout(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Let it register before the kill.
    std::thread::sleep(Duration::from_millis(300));
    let out = b.crust(&["exec", "c1", "tail", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(137));
    wait_until("an oom event and a stats event", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains(r#""type":"oom""#) && text.contains(r#""type":"stats""#)
    });
    ok(&b.crust(&["delete", "--force", "c1"]));
    // The stream ends with the container.
    wait_until("events to exit", || events.try_wait().unwrap().is_some());
    for line in std::fs::read_to_string(&log).unwrap().lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        assert_eq!(e["id"], "c1");
    }
}

#[test]
fn a_fork_bomb_stops_at_pids_max() {
    let mut b = Bundle::new("exec sleep 1000");
    b.config["linux"]["resources"]["pids"] = json!({"limit": 10});
    ok(&b.crust(&["run", "-d", "c1"]));
    assert_eq!(read(&b, "c1", "pids", "pids.max", "pids.max"), "10");
    // Without the limit: 40 sleeps, and the shell exits 0.
    let out = b.crust(&[
        "exec",
        "c1",
        "sh",
        "-c",
        "i=0; while [ $i -lt 40 ]; do sleep 100 & i=$((i+1)); done",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("can't fork"), "{}", stderr(&out));
    let procs = dir_of(&b, "c1", "pids").unwrap().0.join("cgroup.procs");
    let procs = std::fs::read_to_string(procs).unwrap();
    assert!((9..=10).contains(&procs.lines().count()), "{procs}");
    let stats = b.crust(&["events", "--stats", "c1"]);
    let event: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(event["data"]["pids"]["limit"], 10);
    assert!(
        event["data"]["pids"]["current"].as_u64().unwrap() >= 9,
        "{event}"
    );
    ok(&b.crust(&["delete", "--force", "c1"]));
}

#[test]
fn cpu_limits_are_written() {
    let mut b = Bundle::new("grep Cpus_allowed_list /proc/self/status; exec sleep 1000");
    b.config["linux"]["resources"]["cpu"] =
        json!({"shares": 512, "quota": 20000, "period": 100000, "cpus": "0"});
    ok(&b.crust(&["run", "-d", "c1"]));
    let (_, v2) = dir_of(&b, "c1", "cpu").unwrap();
    if v2 {
        assert_eq!(read(&b, "c1", "cpu", "", "cpu.max"), "20000 100000");
        assert_eq!(read(&b, "c1", "cpu", "", "cpu.weight"), "20");
    } else {
        assert_eq!(read(&b, "c1", "cpu", "cpu.cfs_quota_us", ""), "20000");
        assert_eq!(read(&b, "c1", "cpu", "cpu.shares", ""), "512");
    }
    assert_eq!(read(&b, "c1", "cpuset", "cpuset.cpus", "cpuset.cpus"), "0");
    let out = b.crust(&[
        "exec",
        "c1",
        "grep",
        "Cpus_allowed_list",
        "/proc/self/status",
    ]);
    assert_eq!(stdout(&out).split_whitespace().last(), Some("0"));
    // A busy loop gets about 20% of one CPU: it is throttled.
    let out = b.crust(&[
        "exec",
        "c1",
        "timeout",
        "1",
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    assert!(!out.status.success());
    let stats: Value =
        serde_json::from_slice(&b.crust(&["events", "--stats", "c1"]).stdout).unwrap();
    assert!(
        stats["data"]["cpu"]["throttling"]["throttledPeriods"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{stats}"
    );
    ok(&b.crust(&["delete", "--force", "c1"]));
}

#[test]
fn a_denied_device_cannot_be_opened() {
    // runc's default config denies every device; crust allows the standard
    // ones back (null, zero, …), and nothing else unless a rule says so.
    // /dev/kmsg (1:11) exists in every kernel and opens for writing
    // without privileges when the cgroup allows it.
    let script = "mknod /dev/kmsg1 c 1 11 && (: > /dev/kmsg1); echo open=$?; \
                  head -c1 /dev/zero | wc -c";
    let mut b = Bundle::new(script);
    b.add_capability("CAP_MKNOD");
    let out = b.run("c1");
    let text = stdout(&out);
    // mknod is allowed (c *:* m), opening the node is not.
    assert!(text.contains("open=1"), "{text}");
    assert!(
        stderr(&out).contains("/dev/kmsg1: Operation not permitted"),
        "{}",
        stderr(&out)
    );
    assert!(
        text.trim().ends_with('1'),
        "/dev/zero must stay readable: {text}"
    );
    // A later rule allowing writes to 1:11 wins over the deny-all.
    let mut b = Bundle::new(script);
    b.add_capability("CAP_MKNOD");
    b.config["linux"]["resources"]["devices"]
        .as_array_mut()
        .unwrap()
        .push(json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}));
    let text = b.output_of("c2");
    assert!(text.contains("open=0"), "{text}");
    // A node in linux.devices is made, but the deny-all still holds for it
    // (runc: only the rules decide).
    let mut b = Bundle::new("(: > /dev/kmsg); echo open=$?");
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438}]);
    let out = b.run("c3");
    assert!(stdout(&out).contains("open=1"), "{}", stdout(&out));
    assert!(stderr(&out).contains("/dev/kmsg: Operation not permitted"));
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let b = Bundle::new("i=0; while :; do i=$((i+1)); echo $i > /dev/shm/count; done");
    ok(&b.crust(&["run", "-d", "c1"]));
    let pid = b.state("c1")["pid"].as_i64().unwrap();
    let count = || {
        std::fs::read_to_string(format!("/proc/{pid}/root/dev/shm/count"))
            .unwrap_or_default()
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
    };
    wait_until("the loop to run", || count() > 0);
    ok(&b.crust(&["pause", "c1"]));
    assert_eq!(b.state("c1")["status"], "paused");
    let frozen = count();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(), frozen, "a paused container made progress");
    // Exec refuses a paused container unless told otherwise.
    let out = b.crust(&["exec", "c1", "true"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("paused"), "{}", stderr(&out));
    let mut ignoring = b
        .command(&["exec", "--ignore-paused", "c1", "true"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // A second pause is refused; resume thaws.
    assert!(!b.crust(&["pause", "c1"]).status.success());
    ok(&b.crust(&["resume", "c1"]));
    assert_eq!(b.state("c1")["status"], "running");
    wait_until("progress after resume", || count() > frozen);
    // The exec ran once the container thawed.
    let status = ignoring.wait().unwrap();
    assert!(status.success());
    assert!(!b.crust(&["resume", "c1"]).status.success());
    // A paused container can be deleted with --force: it is thawed first.
    ok(&b.crust(&["pause", "c1"]));
    ok(&b.crust(&["delete", "--force", "c1"]));
    assert!(!alive(pid));
}

#[test]
fn update_changes_limits_and_keeps_them() {
    let mut b = Bundle::new("exec sleep 1000");
    b.config["linux"]["resources"]["memory"] = json!({"limit": 64 << 20});
    b.config["linux"]["resources"]["pids"] = json!({"limit": 50});
    ok(&b.crust(&["run", "-d", "c1"]));
    ok(&b.crust(&[
        "update",
        "--memory",
        "32m",
        "--pids-limit",
        "20",
        "--cpu-share",
        "256",
        "c1",
    ]));
    assert_eq!(
        read(&b, "c1", "memory", "memory.limit_in_bytes", "memory.max"),
        (32 << 20).to_string()
    );
    assert_eq!(read(&b, "c1", "pids", "pids.max", "pids.max"), "20");
    let (_, v2) = dir_of(&b, "c1", "cpu").unwrap();
    assert_eq!(
        read(&b, "c1", "cpu", "cpu.shares", "cpu.weight"),
        if v2 { "10" } else { "256" }
    );
    // -r takes linux.resources JSON; fields it leaves out keep their values.
    let file = b.dir.path().join("r.json");
    std::fs::write(&file, r#"{"pids": {"limit": 7}}"#).unwrap();
    ok(&b.crust(&["update", "-r", file.to_str().unwrap(), "c1"]));
    assert_eq!(read(&b, "c1", "pids", "pids.max", "pids.max"), "7");
    assert_eq!(
        read(&b, "c1", "memory", "memory.limit_in_bytes", "memory.max"),
        (32 << 20).to_string()
    );
    // A value the kernel refuses names the field and the file.
    let out = b.crust(&["update", "--cpuset-cpus", "99", "c1"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    let last = err.trim().lines().last().unwrap();
    assert!(
        last.contains("linux.resources.cpu.cpus") && last.contains("cpuset.cpus"),
        "{err}"
    );
    // checkBeforeUpdate: no limit below what is in use.
    std::fs::write(
        &file,
        r#"{"memory": {"limit": 4096, "checkBeforeUpdate": true}}"#,
    )
    .unwrap();
    let out = b.crust(&["update", "-r", file.to_str().unwrap(), "c1"]);
    assert!(
        stderr(&out).contains("checkBeforeUpdate"),
        "{}",
        stderr(&out)
    );
    // The new pids limit works: the container cannot fork past 7.
    let out = b.crust(&[
        "exec",
        "c1",
        "sh",
        "-c",
        "i=0; while [ $i -lt 20 ]; do sleep 100 & i=$((i+1)); done",
    ]);
    assert!(stderr(&out).contains("can't fork"), "{}", stderr(&out));
    let procs = dir_of(&b, "c1", "pids").unwrap().0.join("cgroup.procs");
    let count = std::fs::read_to_string(&procs).unwrap().lines().count();
    assert!((6..=7).contains(&count), "{count}");
    let unknown = b.crust(&["update", "--memory", "1m", "nope"]);
    assert!(stderr(&unknown).contains("does not exist"));
    ok(&b.crust(&["delete", "--force", "c1"]));
}

#[test]
fn kill_all_ps_and_delete_reach_every_process_of_the_cgroup() {
    // Without a pid namespace, processes outlive the init unless the
    // runtime finds them by cgroup.
    let mut b = Bundle::new("sleep 1001 & sleep 1002 & exec sleep 1000");
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "pid");
    ok(&b.crust(&["run", "-d", "c1"]));
    let init = b.state("c1")["pid"].as_i64().unwrap();
    common::wait_for_descendant(init, "sleep");
    wait_until("both children", || common::descendants(init).len() == 2);
    let children = common::descendants(init);
    let ps = b.crust(&["ps", "--format", "json", "c1"]);
    let mut listed: Vec<i64> = serde_json::from_slice(&ps.stdout).unwrap();
    listed.sort();
    let mut expected = children.clone();
    expected.push(init);
    expected.sort();
    assert_eq!(listed, expected);
    // Orphaned children (re-parented away from the init) are still found.
    ok(&b.crust(&["kill", "--all", "c1", "KILL"]));
    wait_until("every process to die", || {
        !alive(init) && children.iter().all(|c| !alive(*c))
    });
    ok(&b.crust(&["delete", "c1"]));

    ok(&b.crust(&["run", "-d", "c2"]));
    let init = b.state("c2")["pid"].as_i64().unwrap();
    wait_until("both children", || common::descendants(init).len() == 2);
    let children = common::descendants(init);
    ok(&b.crust(&["delete", "--force", "c2"]));
    for c in children {
        assert!(!alive(c), "{c} survived delete --force");
    }
}

/// What containerd's shim does after every exit: `state`, `kill --all ID
/// 9`, `delete`. runc's `kill --all` succeeds once the init has exited and
/// kills what is left in the cgroup (processes of a shared pid namespace
/// outlive their init); `ps` still answers; a plain `kill` says runc's
/// "container not running", which the shim maps to not-found.
#[test]
fn kill_all_after_the_init_exited_kills_what_is_left() {
    let mut b = Bundle::new("sleep 1001 & echo started; exit 0");
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "pid");
    ok(&b.crust(&["run", "-d", "c1"]));
    wait_until("the init to exit", || b.state("c1")["status"] == "stopped");
    let left: Vec<i64> =
        serde_json::from_slice(&b.crust(&["ps", "--format", "json", "c1"]).stdout).unwrap();
    assert_eq!(left.len(), 1, "the orphaned sleep is in the cgroup");
    let plain = b.crust(&["kill", "c1", "TERM"]);
    assert!(!plain.status.success());
    assert!(
        stderr(&plain).contains("container not running"),
        "{}",
        stderr(&plain)
    );
    let zero = b.crust(&["kill", "c1", "0"]);
    assert!(!zero.status.success(), "signal 0 checks the init is alive");
    ok(&b.crust(&["kill", "--all", "c1", "9"]));
    wait_until("the orphan to die", || !alive(left[0]));
    // runc's "kill KILL [host pidns + init gone]": a plain SIGKILL to a
    // container sharing its pid namespace reaches what is left too.
    let mut again = Bundle::new("sleep 1002 & exit 0");
    again.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    ok(&again.crust(&["run", "-d", "c3"]));
    wait_until("the init to exit", || {
        again.state("c3")["status"] == "stopped"
    });
    let orphans: Vec<i64> =
        serde_json::from_slice(&again.crust(&["ps", "--format", "json", "c3"]).stdout).unwrap();
    ok(&again.crust(&["kill", "c3", "KILL"]));
    wait_until("the orphan to die", || orphans.iter().all(|p| !alive(*p)));
    ok(&again.crust(&["delete", "c3"]));
    // "kill KILL [host pidns]": with the init alive, the exec'd processes
    // die with it.
    again.config["process"]["args"] = json!(["sleep", "1000"]);
    ok(&again.crust(&["run", "-d", "c4"]));
    for _ in 0..3 {
        ok(&again.crust(&["exec", "-d", "c4", "sleep", "1004"]));
    }
    let all: Vec<i64> =
        serde_json::from_slice(&again.crust(&["ps", "--format", "json", "c4"]).stdout).unwrap();
    assert_eq!(all.len(), 4, "{all:?}");
    ok(&again.crust(&["kill", "c4", "KILL"]));
    wait_until("every process to die", || all.iter().all(|p| !alive(*p)));
    ok(&again.crust(&["delete", "c4"]));
    ok(&b.crust(&["kill", "--all", "c1", "9"]));
    let ps = b.crust(&["ps", "--format", "json", "c1"]);
    ok(&ps);
    assert_eq!(stdout(&ps).trim(), "[]");
    let dirs = b.cgroup_dirs("c1");
    ok(&b.crust(&["delete", "c1"]));
    assert!(dirs.iter().all(|d| !d.exists()), "{dirs:?} left");

    // With its own pid namespace and a running init, signal 0 succeeds.
    let b = Bundle::new("exec sleep 1000");
    ok(&b.crust(&["run", "-d", "c2"]));
    ok(&b.crust(&["kill", "c2", "0"]));
    assert_eq!(b.state("c2")["status"], "running");
    ok(&b.crust(&["delete", "--force", "c2"]));
}

#[test]
fn exec_joins_the_container_cgroup_or_a_sub_cgroup() {
    let b = Bundle::new("exec sleep 1000");
    ok(&b.crust(&["run", "-d", "c1"]));
    let init = b.state("c1")["pid"].as_i64().unwrap();
    let of_init = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let out = b.crust(&["exec", "c1", "cat", "/proc/self/cgroup"]);
    assert_eq!(stdout(&out), of_init);
    for d in b.cgroup_dirs("c1") {
        let sub = d.join("sub");
        std::fs::create_dir(&sub).unwrap();
        // A v1 cpuset takes no process until it has CPUs and memory nodes
        // (a v2 one inherits them).
        if !d.join("cgroup.controllers").exists() {
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(v) = std::fs::read_to_string(d.join(f)) {
                    std::fs::write(sub.join(f), v.trim()).unwrap();
                }
            }
        }
    }
    let out = b.crust(&["exec", "--cgroup", "sub", "c1", "cat", "/proc/self/cgroup"]);
    ok(&out);
    let seen = in_managed_hierarchies(&b, "c1", &stdout(&out));
    assert_eq!(seen.len(), b.cgroup_dirs("c1").len());
    for (path, _) in seen {
        assert!(path.ends_with("/sub"), "{path}");
    }
    let out = b.crust(&["exec", "--cgroup", "missing", "c1", "true"]);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    // delete removes sub-cgroups too.
    let dirs = b.cgroup_dirs("c1");
    ok(&b.crust(&["delete", "--force", "c1"]));
    assert!(dirs.iter().all(|d| !d.exists()));
}

/// Inside a joined user namespace the child makes the pid namespace itself
/// and forks the container's init into it (a grandchild of crust): that
/// process must be in the container's cgroup in every hierarchy all the
/// same, never left in crust's. The child moves itself before anything
/// forks (`init::cgroup`); an exec'd process as a non-root user too.
#[test]
fn an_init_forked_into_a_new_pid_namespace_is_in_its_own_cgroup() {
    let mut infra = Bundle::new("exec sleep 1000");
    infra.with_user_namespace(210000);
    ok(&infra.crust(&["run", "-d", "infra"]));
    let infra_pid = infra.state("infra")["pid"].as_i64().unwrap();
    let mut b = Bundle::new("exec sleep 1000");
    b.join_namespace("user", &format!("/proc/{infra_pid}/ns/user"));
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    ok(&b.crust(&["run", "-d", "c1"]));
    let pid = b.state("c1")["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("NSpid:") && l.ends_with("\t1")),
        "the init is pid 1 of a new pid namespace: {status}"
    );
    let dirs = b.cgroup_dirs("c1");
    assert!(!dirs.is_empty());
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert_eq!(procs.trim(), pid.to_string(), "{d:?}");
    }
    let of_init = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let out = b.crust(&[
        "exec",
        "--user",
        "1000:1000",
        "c1",
        "cat",
        "/proc/self/cgroup",
    ]);
    ok(&out);
    assert_eq!(stdout(&out), of_init);
    ok(&b.crust(&["delete", "--force", "c1"]));
    ok(&infra.crust(&["delete", "--force", "infra"]));
    assert!(dirs.iter().all(|d| !d.exists()));
}

#[test]
fn a_cgroup_namespace_is_rooted_at_the_container() {
    let mut b = Bundle::new("cat /proc/self/cgroup");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "cgroup"}));
    let text = b.output_of("c1");
    for line in text.lines() {
        assert!(line.ends_with(":/"), "{line} is not the namespace root");
    }
}

#[test]
fn a_value_the_kernel_rejects_names_the_field_and_leaves_nothing() {
    if !common::cgroupfs_driver("a_value_the_kernel_rejects_names_the_field_and_leaves_nothing") {
        return;
    }
    let mut b = Bundle::new("true");
    let name = format!("crust-reject-{}", std::process::id());
    b.config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
    b.config["linux"]["resources"]["cpu"] = json!({"cpus": "99"});
    b.assert_fails_cleanly(
        &["create", "c1"],
        &["linux.resources.cpu.cpus", "cpuset.cpus"],
    );
    for d in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        assert!(
            !d.path().join(&name).exists(),
            "cgroup left in {:?}",
            d.path()
        );
    }
    assert!(!Path::new("/sys/fs/cgroup").join(&name).exists());
    let mut b = Bundle::new("true");
    b.config["linux"]["resources"]["unified"] = json!({"../escape": "1"});
    b.assert_fails_cleanly(&["create", "c1"], &["linux.resources.unified"]);
}

#[test]
fn unified_and_hugetlb_where_the_host_has_them() {
    let mut b = Bundle::new("exec sleep 1000");
    b.config["linux"]["resources"]["unified"] = json!({"cgroup.max.descendants": "3"});
    let has_v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
        || Path::new("/sys/fs/cgroup/unified/cgroup.controllers").exists();
    let hugetlb = Path::new("/sys/fs/cgroup/hugetlb/cgroup.procs").exists()
        || [
            "/sys/fs/cgroup/cgroup.controllers",
            "/sys/fs/cgroup/unified/cgroup.controllers",
        ]
        .iter()
        .any(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .contains("hugetlb")
        });
    if hugetlb {
        b.config["linux"]["resources"]["hugepageLimits"] =
            json!([{"pageSize": "2MB", "limit": 4194304}]);
    }
    if !has_v2 {
        b.assert_fails_cleanly(&["create", "c1"], &["linux.resources.unified"]);
        return;
    }
    ok(&b.crust(&["run", "-d", "c1"]));
    assert_eq!(read(&b, "c1", "", "", "cgroup.max.descendants"), "3");
    if hugetlb {
        assert_eq!(
            read(
                &b,
                "c1",
                "hugetlb",
                "hugetlb.2MB.limit_in_bytes",
                "hugetlb.2MB.max"
            ),
            "4194304"
        );
    }
    ok(&b.crust(&["delete", "--force", "c1"]));
}

/// The fields not covered by an effect test above, each read back from the
/// file its layout puts it in (`None`: that layout has no such file, and
/// crust says so in a warning).
#[test]
fn every_other_resource_field_reaches_its_file() {
    let mut b = Bundle::new("exec sleep 1000");
    let r = &mut b.config["linux"]["resources"];
    r["memory"] = json!({"limit": 128 << 20, "reservation": 32 << 20, "swappiness": 10,
                         "disableOOMKiller": true, "kernelTCP": 64 << 20});
    r["cpu"] = json!({"quota": 50000, "period": 100000, "burst": 1000, "idle": 1, "mems": "0"});
    r["blockIO"] = json!({"weight": 500});
    // A throttle needs a real block device; the VM has none.
    let device = std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .filter(|d| !d.file_name().to_string_lossy().starts_with("loop"))
        .find_map(|d| std::fs::read_to_string(d.path().join("dev")).ok())
        .map(|d| d.trim().to_string());
    if let Some(dev) = &device {
        let (major, minor) = dev.split_once(':').unwrap();
        r["blockIO"]["throttleReadBpsDevice"] = json!([{
            "major": major.parse::<i64>().unwrap(),
            "minor": minor.parse::<i64>().unwrap(),
            "rate": 1048576
        }]);
    }
    ok(&b.crust(&["run", "-d", "c1"]));
    let cases: Vec<(&str, Option<&str>, Option<&str>, String)> = vec![
        (
            "memory",
            Some("memory.soft_limit_in_bytes"),
            Some("memory.low"),
            (32 << 20).to_string(),
        ),
        ("memory", Some("memory.swappiness"), None, "10".into()),
        (
            "memory",
            Some("memory.oom_control"),
            None,
            "oom_kill_disable 1".into(),
        ),
        (
            "memory",
            Some("memory.kmem.tcp.limit_in_bytes"),
            None,
            (64 << 20).to_string(),
        ),
        (
            "cpu",
            Some("cpu.cfs_burst_us"),
            Some("cpu.max.burst"),
            "1000".into(),
        ),
        ("cpu", Some("cpu.idle"), Some("cpu.idle"), "1".into()),
        (
            "cpuset",
            Some("cpuset.mems"),
            Some("cpuset.mems"),
            "0".into(),
        ),
    ];
    for (controller, v1, v2, expected) in cases {
        let (dir, is_v2) = dir_of(&b, "c1", controller).unwrap();
        let Some(file) = (if is_v2 { v2 } else { v1 }) else {
            continue;
        };
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            text.contains(&expected),
            "{file}: {text:?}, want {expected}"
        );
    }
    if let Some((dir, is_v2)) = dir_of(&b, "c1", "blkio").or_else(|| dir_of(&b, "c1", "io")) {
        let weight = [
            "blkio.weight",
            "blkio.bfq.weight",
            "io.bfq.weight",
            "io.weight",
        ]
        .iter()
        .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .unwrap();
        // bfq takes the weight as is; io.weight the converted 4950.
        assert!(
            weight.contains("500") || weight.contains("4950"),
            "{weight}"
        );
        if let Some(dev) = &device {
            let (file, want) = if is_v2 {
                ("io.max", format!("{dev} rbps=1048576"))
            } else {
                ("blkio.throttle.read_bps_device", format!("{dev} 1048576"))
            };
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            assert!(text.contains(&want), "{file}: {text:?}");
        }
    }
    ok(&b.crust(&["delete", "--force", "c1"]));
}

/// Where a test can make a cgroup of its own holding the freezer (v1's
/// freezer hierarchy, else the v2 root) and cpuset (v1 only).
fn v1_hierarchy(controller: &str) -> Option<PathBuf> {
    let dir = Path::new("/sys/fs/cgroup").join(controller);
    dir.join("tasks").exists().then_some(dir)
}

/// runc refuses to create a container in a frozen cgroup; a runtime that
/// placed its init there would hang before the init's first instruction,
/// and `create` with it. The frozen cgroup, not crust's, is left as it was.
#[test]
fn create_in_a_frozen_cgroup_is_refused_not_hung() {
    if !common::cgroupfs_driver("create_in_a_frozen_cgroup_is_refused_not_hung") {
        return;
    }
    let name = format!("crust-test-frozen-{}", std::process::id());
    let (dir, freeze, thaw) = match v1_hierarchy("freezer") {
        Some(h) => (h.join(&name), ("freezer.state", "FROZEN"), "THAWED"),
        None => (
            Path::new("/sys/fs/cgroup").join(&name),
            ("cgroup.freeze", "1"),
            "0",
        ),
    };
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join(freeze.0), freeze.1).unwrap();
    let mut b = Bundle::new("true");
    b.config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
    let started = Instant::now();
    b.assert_fails_cleanly(&["create", "c1"], &["frozen"]);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(dir.exists(), "the pre-existing cgroup was removed");
    std::fs::write(dir.join(freeze.0), thaw).unwrap();
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(h.path().join(&name));
    }
    let _ = std::fs::remove_dir(&dir);
}

/// A v1 cpuset parent made without its cpus and mems (mkdir alone leaves
/// them empty): crust fills the chain from the nearest ancestor that has
/// them, as runc does, instead of failing with ENOSPC.
#[test]
fn a_cpuset_under_an_empty_parent_is_filled_from_above() {
    if !common::cgroupfs_driver("a_cpuset_under_an_empty_parent_is_filled_from_above") {
        return;
    }
    let Some(cpuset) = v1_hierarchy("cpuset") else {
        return; // v2 has no such thing
    };
    let name = format!("crust-test-empty-{}", std::process::id());
    let parent = cpuset.join(&name);
    std::fs::create_dir(&parent).unwrap();
    std::fs::write(parent.join("cgroup.clone_children"), "0").unwrap();
    let mut b = Bundle::new("grep Cpus_allowed_list /proc/self/status");
    b.config["linux"]["cgroupsPath"] = json!(format!("/{name}/c1"));
    let out = b.run("c1");
    assert!(out.status.success(), "{}", stderr(&out));
    let want = std::fs::read_to_string(cpuset.join("cpuset.cpus")).unwrap();
    assert_eq!(
        std::fs::read_to_string(parent.join("cpuset.cpus"))
            .unwrap()
            .trim(),
        want.trim()
    );
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(h.path().join(&name).join("c1"));
        let _ = std::fs::remove_dir(h.path().join(&name));
    }
}

/// config-linux.md: `pids.limit` 0 is a limit ("SHOULD be treated as
/// such"), -1 or no `limit` is none; on v1, `update --memory -1` lifts the
/// memory+swap limit too, as runc does.
#[test]
fn pids_zero_is_a_limit_and_lifting_memory_lifts_swap() {
    let mut b = Bundle::new("exec sleep 1000");
    b.config["linux"]["resources"]["pids"] = json!({});
    ok(&b.crust(&["run", "-d", "c1"]));
    assert_eq!(read(&b, "c1", "pids", "pids.max", "pids.max"), "max");
    ok(&b.crust(&["update", "--pids-limit", "0", "c1"]));
    assert_eq!(read(&b, "c1", "pids", "pids.max", "pids.max"), "0");
    let forked = b.crust(&["exec", "c1", "sh", "-c", "true & wait"]);
    assert!(
        !forked.status.success() || !stderr(&forked).is_empty(),
        "a fork went through pids.max 0"
    );
    ok(&b.crust(&["delete", "--force", "c1"]));

    let mut b = Bundle::new("exec sleep 1000");
    b.config["linux"]["resources"]["memory"] = json!({"limit": 67108864, "swap": 134217728});
    ok(&b.crust(&["run", "-d", "c2"]));
    let v1_swap = dir_of(&b, "c2", "memory")
        .is_some_and(|(d, v2)| !v2 && d.join("memory.memsw.limit_in_bytes").exists());
    ok(&b.crust(&["update", "--memory", "-1", "c2"]));
    if v1_swap {
        let memsw = read(&b, "c2", "memory", "memory.memsw.limit_in_bytes", "");
        let limit = read(&b, "c2", "memory", "memory.limit_in_bytes", "");
        assert_eq!(memsw, limit, "memsw lifted with the limit");
        assert!(memsw.parse::<u64>().unwrap() > 1 << 60, "{memsw}");
    } else {
        assert_eq!(read(&b, "c2", "memory", "", "memory.max"), "max");
    }
    ok(&b.crust(&["delete", "--force", "c2"]));
}

/// runtime.md: delete removes what create made, and resources associated
/// with the container but not created by it MUST NOT be deleted. A
/// cgroup the engine made before `create` is emptied (the container's
/// processes and the sub-cgroups it made are gone) but stays.
#[test]
fn a_cgroup_that_was_there_before_is_left_after_delete() {
    if !common::cgroupfs_driver("a_cgroup_that_was_there_before_is_left_after_delete") {
        return;
    }
    let name = format!("crust-test-pre-{}", std::process::id());
    let mut b = Bundle::new("sleep 1001 & exec sleep 1000");
    b.config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
    // The unified hierarchy, or on v1 the pids one: a directory made first.
    let pre = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        Path::new("/sys/fs/cgroup").join(&name)
    } else {
        Path::new("/sys/fs/cgroup/pids").join(&name)
    };
    std::fs::create_dir(&pre).unwrap();
    ok(&b.crust(&["run", "-d", "c1"]));
    let dirs = b.cgroup_dirs("c1");
    assert!(dirs.contains(&pre), "{dirs:?}");
    let init = b.state("c1")["pid"].as_i64().unwrap();
    // A sub-cgroup, as the container's own processes may make.
    std::fs::create_dir(pre.join("sub")).unwrap();
    ok(&b.crust(&["delete", "--force", "c1"]));
    assert!(!alive(init));
    assert!(pre.exists(), "the engine's cgroup was removed");
    assert!(
        !pre.join("sub").exists(),
        "the container's sub-cgroup was left"
    );
    assert!(std::fs::read_to_string(pre.join("cgroup.procs"))
        .unwrap()
        .trim()
        .is_empty());
    for d in dirs.iter().filter(|d| **d != pre) {
        assert!(!d.exists(), "{d:?}: made by crust, left behind");
    }
    std::fs::remove_dir(&pre).unwrap();
}

/// A cgroupsPath below a cgroup that has processes of its own (the
/// engine's own service cgroup, under systemd): crust enables no
/// controller there. Enabling the threaded ones (cpu, cpuset, pids) in a
/// populated cgroup would turn it into a threaded domain for good, and
/// every container below it would fail (clone3 EOPNOTSUPP: "domain
/// invalid"), as the systemd VM's cgroupfs runs did. Pure v2 only.
#[test]
fn a_populated_parent_cgroup_is_not_made_threaded() {
    if !common::cgroupfs_driver("populated parent")
        || !Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
    {
        eprintln!("populated parent: pure cgroup v2 only (the VM lanes)");
        return;
    }
    let parent = PathBuf::from(format!(
        "/sys/fs/cgroup/crust-test-populated-{}",
        std::process::id()
    ));
    std::fs::create_dir(&parent).unwrap();
    let mut sleeper = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    std::fs::write(parent.join("cgroup.procs"), sleeper.id().to_string()).unwrap();
    let mut b = Bundle::new("cat /proc/self/cgroup");
    let name = parent.file_name().unwrap().to_string_lossy().to_string();
    b.config["linux"]["cgroupsPath"] = json!(format!("/{name}/child"));
    let out = b.run("p1");
    let parent_type = std::fs::read_to_string(parent.join("cgroup.type")).unwrap();
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    let _ = std::fs::remove_dir(parent.join("child"));
    std::fs::remove_dir(&parent).unwrap();
    assert_eq!(
        parent_type.trim(),
        "domain",
        "the parent became {parent_type}"
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("/{name}/child")),
        "{}",
        stdout(&out)
    );
}
