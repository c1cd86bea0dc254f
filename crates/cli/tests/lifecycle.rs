//! The lifecycle of runtime.md, driven through the CLI.

mod common;

use std::time::{Duration, Instant};

use common::{alive, stderr, stdout, Bundle};
use serde_json::Value;

/// Every property state-schema.json requires, with the types and enum it
/// gives.
fn assert_valid_state(state: &Value) {
    let schema: Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/state-schema.json")).unwrap();
    for key in schema["required"].as_array().unwrap() {
        assert!(
            state.get(key.as_str().unwrap()).is_some(),
            "state lacks {key}: {state}"
        );
    }
    let statuses = schema["properties"]["status"]["enum"].as_array().unwrap();
    assert!(statuses.contains(&state["status"]), "bad status in {state}");
    assert!(state["pid"].as_i64().unwrap() >= 0);
    assert!(
        state["id"].is_string() && state["bundle"].is_string() && state["ociVersion"].is_string()
    );
}

fn wait_until(mut f: impl FnMut() -> bool) {
    wait_until_or(&mut f, String::new);
}

fn wait_until_or(f: impl FnMut() -> bool, why: impl Fn() -> String) {
    wait_within(Duration::from_secs(10), f, why);
}

fn wait_within(bound: Duration, mut f: impl FnMut() -> bool, why: impl Fn() -> String) {
    let end = Instant::now() + bound;
    while !f() {
        assert!(Instant::now() < end, "timed out: {}", why());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn create_start_kill_delete() {
    let b = Bundle::new("echo started > /dev/shm/x; exec sleep 1000");
    let out = b.crust(&["create", "c1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let st = b.state("c1");
    assert_valid_state(&st);
    assert_eq!(st["status"], "created");
    let pid = st["pid"].as_i64().unwrap();
    assert!(alive(pid));
    // Blocked before execve: still crust's code, not sleep.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "crust:[INIT]");

    assert!(b.crust(&["start", "c1"]).status.success());
    wait_until(|| {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap_or_default()
            .trim()
            == "sleep"
    });
    let st = b.state("c1");
    assert_eq!(st["status"], "running");
    assert_eq!(st["pid"].as_i64().unwrap(), pid);
    assert_valid_state(&st);

    let again = b.crust(&["start", "c1"]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("running"), "{}", stderr(&again));

    assert!(b.crust(&["kill", "c1", "KILL"]).status.success());
    wait_until(|| b.state("c1")["status"] == "stopped");
    assert_eq!(b.state("c1")["pid"], 0);
    let out = b.crust(&["kill", "c1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not running"), "{}", stderr(&out));

    assert!(b.crust(&["delete", "c1"]).status.success());
    assert_eq!(b.state_dirs(), 0);
    let out = b.crust(&["state", "c1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[test]
fn state_sees_a_container_that_exits_on_its_own() {
    let b = Bundle::new("exit 0");
    assert!(b.crust(&["run", "-d", "c1"]).status.success());
    wait_until(|| b.state("c1")["status"] == "stopped");
    assert!(b.crust(&["delete", "c1"]).status.success());
}

#[test]
fn delete_refuses_a_running_container_unless_forced() {
    let b = Bundle::new("exec sleep 1000");
    assert!(b.crust(&["run", "-d", "c1"]).status.success());
    let pid = b.state("c1")["pid"].as_i64().unwrap();
    let out = b.crust(&["delete", "c1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("running"), "{}", stderr(&out));
    assert!(alive(pid));
    assert!(b.crust(&["delete", "--force", "c1"]).status.success());
    assert!(!alive(pid));
    assert_eq!(b.state_dirs(), 0);
    // --force on a missing container succeeds, as in runc.
    assert!(b.crust(&["delete", "--force", "c1"]).status.success());
}

#[test]
fn delete_kills_a_created_container() {
    let b = Bundle::new("exec sleep 1000");
    assert!(b.crust(&["create", "c1"]).status.success());
    let pid = b.state("c1")["pid"].as_i64().unwrap();
    assert!(b.crust(&["delete", "c1"]).status.success());
    assert!(!alive(pid));
}

#[test]
fn a_second_create_with_the_same_id_fails_and_keeps_the_first() {
    let b = Bundle::new("exec sleep 1000");
    assert!(b.crust(&["create", "c1"]).status.success());
    let first = b.state("c1");
    let out = b.crust(&["create", "c1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let after = b.state("c1");
    assert_eq!(first["pid"], after["pid"]);
    assert_eq!(after["status"], "created");
    assert!(alive(after["pid"].as_i64().unwrap()));
}

#[test]
fn run_exits_with_the_containers_code() {
    let b = Bundle::new("exit 3");
    assert_eq!(b.run("c1").status.code(), Some(3));
    assert_eq!(
        b.state_dirs(),
        0,
        "run without --keep deletes the container"
    );
    // Without a pid namespace of its own the shell is not an init, which
    // the kernel would protect from its own SIGKILL.
    let mut b = Bundle::new("kill -9 $$");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    assert_eq!(b.run("c2").status.code(), Some(137));
}

#[test]
fn run_keep_leaves_a_stopped_container() {
    let b = Bundle::new("true");
    assert!(b.crust(&["run", "--keep", "c1"]).status.success());
    assert_eq!(b.state("c1")["status"], "stopped");
}

#[test]
fn run_forwards_signals() {
    let b =
        Bundle::new("trap 'exit 42' TERM; echo ready > /dev/shm/r; while :; do sleep 0.05; done");
    b.write();
    let log = b.dir.path().join("run.err");
    let child = b
        .command(&["run", "c1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_until_or(
        || b.crust(&["state", "c1"]).status.success() && b.state("c1")["status"] == "running",
        || {
            format!(
                "{} / {}",
                stdout(&b.crust(&["state", "c1"])),
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        },
    );
    common::wait_for_descendant(child.id().into(), "sleep");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(42));
}

#[test]
fn pid_file_holds_the_init_pid() {
    let b = Bundle::new("exec sleep 1000");
    let pid_file = b.dir.path().join("init.pid");
    assert!(b
        .crust(&["create", "--pid-file", pid_file.to_str().unwrap(), "c1"])
        .status
        .success());
    let written: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert_eq!(written, b.state("c1")["pid"].as_i64().unwrap());
}

#[test]
fn kill_accepts_names_and_numbers() {
    let b = Bundle::new("trap 'echo usr1 > /dev/shm/got' USR1; while :; do sleep 0.05; done");
    assert!(b.crust(&["run", "-d", "c1"]).status.success());
    for sig in ["SIGCONT", "CONT", "18"] {
        let out = b.crust(&["kill", "c1", sig]);
        assert!(out.status.success(), "{sig}: {}", stderr(&out));
    }
    let out = b.crust(&["kill", "c1", "SIGNOPE"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("invalid signal"), "{}", stderr(&out));
    assert!(b.crust(&["kill", "c1", "9"]).status.success());
    wait_until(|| b.state("c1")["status"] == "stopped");
}

#[test]
fn kill_all_reaches_every_process() {
    let b = Bundle::new("sleep 1000 & sleep 1000 & wait");
    assert!(b.crust(&["run", "-d", "c1"]).status.success());
    let init = b.state("c1")["pid"].as_i64().unwrap();
    wait_until(|| {
        std::fs::read_to_string(format!("/proc/{init}/task/{init}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .count()
            == 2
    });
    let children: Vec<i64> = std::fs::read_to_string(format!("/proc/{init}/task/{init}/children"))
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    // The shell waits, so only the sleeps die of TERM (and the shell may
    // exit before its own TERM reaches it: still a success).
    let out = b.crust(&["kill", "--all", "c1", "TERM"]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_until(|| children.iter().all(|p| !alive(*p)));
    assert!(b.crust(&["delete", "-f", "c1"]).status.success());
}

#[test]
fn list_shows_containers_in_runcs_shapes() {
    let b = Bundle::new("exec sleep 1000");
    assert!(b.crust(&["create", "c1"]).status.success());
    assert!(b.crust(&["run", "-d", "c2"]).status.success());
    let out = stdout(&b.crust(&["list"]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("STATUS") && lines[0].contains("OWNER")
    );
    assert!(
        lines[1].starts_with("c1") && lines[1].contains("created"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("c2") && lines[2].contains("running"),
        "{out}"
    );
    assert_eq!(stdout(&b.crust(&["list", "-q"])), "c1\nc2\n");
    let json: Value =
        serde_json::from_str(&stdout(&b.crust(&["list", "--format", "json"]))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert_eq!(json[0]["owner"], "root");
    assert_valid_state(&json[1]);
}

#[test]
fn ps_lists_the_containers_processes() {
    let b = Bundle::new("sleep 1000 & exec sleep 1001");
    assert!(b.crust(&["run", "-d", "c1"]).status.success());
    let init = b.state("c1")["pid"].as_i64().unwrap();
    common::wait_for_descendant(init, "sleep");
    let pids: Vec<i64> =
        serde_json::from_str(&stdout(&b.crust(&["ps", "--format", "json", "c1"]))).unwrap();
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(pids.contains(&init));
    let table = stdout(&b.crust(&["ps", "c1"]));
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].contains("PID") && lines[0].contains("CMD"),
        "{table}"
    );
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        table.contains("sleep 1000") && table.contains("sleep 1001"),
        "{table}"
    );
    let custom = stdout(&b.crust(&["ps", "c1", "-o", "pid,comm"]));
    assert_eq!(
        custom
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["PID", "COMMAND"],
        "{custom}"
    );
    assert_eq!(custom.lines().count(), 3, "{custom}");
    let out = b.crust(&["ps", "c1", "-o", "comm"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no PID column"), "{}", stderr(&out));
}

/// Many `create`s of one id at once: exactly one wins, the others fail
/// with "already exists", and nothing of theirs is left.
#[test]
fn concurrent_creates_of_one_id() {
    let b = Bundle::new("exec sleep 1000");
    b.write();
    let results: Vec<std::process::Output> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|_| s.spawn(|| b.crust(&["create", "same"])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won = results.iter().filter(|o| o.status.success()).count();
    assert_eq!(
        won,
        1,
        "{:?}",
        results.iter().map(stderr).collect::<Vec<_>>()
    );
    for o in results.iter().filter(|o| !o.status.success()) {
        assert!(stderr(o).contains("already exists"), "{}", stderr(o));
    }
    assert_eq!(b.state_dirs(), 1);
    let pid = b.state("same")["pid"].as_i64().unwrap();
    assert!(alive(pid));
    // Only one init: every other one was killed with its create.
    assert_eq!(common::count_processes_named("crust:[INIT]", &b.root), 1);
}

/// Many containers created, started and deleted at once, all distinct.
#[test]
fn concurrent_lifecycles_of_distinct_ids() {
    let mut b = Bundle::new("true");
    // One config for all: the default cgroup path, made from each id.
    b.config["linux"]["cgroupsPath"] = serde_json::Value::Null;
    b.write();
    // What failed, if anything: the step and its stderr.
    let run = |i: usize| -> Result<(), String> {
        let id = format!("concurrent-{}-{i}", std::process::id());
        let step = |args: &[&str]| {
            let out = b.crust(args);
            match out.status.success() {
                true => Ok(()),
                false => Err(format!("{args:?}: {}", stderr(&out))),
            }
        };
        step(&["create", &id])?;
        step(&["start", &id])?;
        // `true` stops at once on a host; under QEMU without KVM, 100 of
        // them at once can take many seconds (the bound only ends a hang).
        wait_within(
            Duration::from_secs(60),
            || b.state(&id)["status"] == "stopped",
            || format!("{id} to stop: {}", b.state(&id)["status"]),
        );
        step(&["delete", &id])
    };
    let failed: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..100).map(|i| s.spawn(move || run(i))).collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap().err())
            .collect()
    });
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(b.state_dirs(), 0);
}

/// kill, state and delete racing a container that exits on its own: each
/// either works or says the container is not running / does not exist.
#[test]
fn commands_racing_an_exiting_container() {
    for round in 0..5 {
        let b = Bundle::new("true");
        let id = format!("r{round}");
        assert!(b.crust(&["run", "-d", &id]).status.success());
        let cmds = [
            vec!["kill", id.as_str(), "KILL"],
            vec!["state", &id],
            vec!["delete", "--force", &id],
            vec!["kill", &id],
        ];
        let outcomes: Vec<std::process::Output> = std::thread::scope(|s| {
            let handles: Vec<_> = cmds.iter().map(|c| s.spawn(|| b.crust(c))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for o in outcomes.iter().filter(|o| !o.status.success()) {
            let err = stderr(o);
            assert!(
                err.contains("not running") || err.contains("does not exist"),
                "{err}"
            );
        }
        assert!(b.crust(&["delete", "--force", &id]).status.success());
        assert_eq!(b.state_dirs(), 0);
    }
}

/// An init killed before `start`: start says so, delete cleans up.
#[test]
fn an_init_that_died_before_start() {
    let b = Bundle::new("true");
    assert!(b.crust(&["create", "c1"]).status.success());
    let pid = b.state("c1")["pid"].as_i64().unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while alive(pid) {
        assert!(Instant::now() < end);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(b.state("c1")["status"], "stopped");
    let out = b.crust(&["start", "c1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("stopped"), "{}", stderr(&out));
    assert!(b.crust(&["delete", "c1"]).status.success());
    assert_eq!(b.state_dirs(), 0);
}

/// A state file that is not JSON: `state` says so (naming the file),
/// `list` skips it with a warning, `delete --force` clears it.
#[test]
fn a_corrupt_state_file_is_reported_and_can_be_cleared() {
    let b = Bundle::new("exec sleep 1000");
    assert!(b.crust(&["run", "-d", "c1"]).status.success());
    assert!(b.crust(&["run", "-d", "c2"]).status.success());
    let pid = b.state("c1")["pid"].as_i64().unwrap();
    let saved: Value =
        serde_json::from_slice(&std::fs::read(b.root.join("c1/state.json")).unwrap()).unwrap();
    std::fs::write(b.root.join("c1/state.json"), "{trunc").unwrap();
    let out = b.crust(&["state", "c1"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("c1/state.json") && stderr(&out).contains("unreadable"),
        "{}",
        stderr(&out)
    );
    let listed = b.crust(&["list", "-q"]);
    assert_eq!(stdout(&listed), "c2\n");
    assert!(
        stderr(&listed).contains("skipping c1"),
        "{}",
        stderr(&listed)
    );
    assert!(b.crust(&["delete", "--force", "c1"]).status.success());
    assert!(!b.root.join("c1").exists());
    // Without its state crust cannot know the process: it is left running,
    // as runc leaves it, in its cgroup (docs/reliability.md: the way out).
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap(),
        rustix::process::Signal::KILL,
    );
    wait_until(|| !alive(pid));
    for node in saved["cgroup"]["nodes"].as_array().into_iter().flatten() {
        let dir = std::path::Path::new(node["dir"].as_str().unwrap());
        wait_until(|| std::fs::remove_dir(dir).is_ok() || !dir.exists());
    }
}

/// Engines and scripts clean up a container whose foreground `crust run`
/// is still waiting on it with `delete --force`: that must not wait on
/// the runner (which held the state lock for the container's whole life),
/// and the runner then exits with the container's signal, leaving nothing.
#[test]
fn delete_force_while_a_foreground_run_waits() {
    let b = Bundle::new("exec sleep 1000");
    b.write();
    let mut runner = b
        .command(&["run", "c1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(|| {
        let out = b.command(&["state", "c1"]).output().unwrap();
        out.status.success()
            && serde_json::from_slice::<Value>(&out.stdout).unwrap()["status"] == "running"
    });
    let deleted = b.crust_within(20, &["delete", "--force", "c1"]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    let status = runner.wait().unwrap();
    assert_eq!(status.code(), Some(137), "the runner reports the SIGKILL");
    assert_eq!(b.state_dirs(), 0);
}

/// The pid a pidfd refers to, from its fdinfo.
fn pid_of_pidfd(fd: &std::os::fd::OwnedFd) -> i64 {
    use std::os::fd::AsRawFd;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// runc 1.2's `--pidfd-socket`: create, run and exec send a pidfd of the
/// init (or of the exec'd process) over the socket.
#[test]
fn pidfd_socket_receives_the_processs_pidfd() {
    let b = Bundle::new("exec sleep 1000");
    for (i, cmd) in ["create", "run"].iter().enumerate() {
        let sock = b.dir.path().join(format!("pidfd-{i}.sock"));
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let engine = std::thread::spawn(move || common::receive_fd(&listener));
        let id = format!("c{i}");
        let mut args = vec![*cmd, "--pidfd-socket", sock.to_str().unwrap()];
        if *cmd == "run" {
            args.push("-d");
        }
        args.push(&id);
        let out = b.crust(&args);
        assert!(out.status.success(), "{cmd}: {}", stderr(&out));
        let (_, pidfd) = engine.join().unwrap();
        assert_eq!(
            pid_of_pidfd(&pidfd),
            b.state(&id)["pid"].as_i64().unwrap(),
            "{cmd}"
        );
    }
    let sock = b.dir.path().join("pidfd-exec.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let engine = std::thread::spawn(move || common::receive_fd(&listener));
    let pid = b.exec_detached(
        &["--pidfd-socket", sock.to_str().unwrap()],
        "c1",
        &["sleep", "1000"],
    );
    let (_, pidfd) = engine.join().unwrap();
    assert_eq!(pid_of_pidfd(&pidfd), pid);
}

/// runc's `exec` exits 255 when the runtime fails (the process's own codes
/// stay below), saying "exec failed"; `--debug` logs the exec's phases.
#[test]
fn exec_failures_exit_255_and_debug_logs_the_phases() {
    let b = Bundle::new("exec sleep 1000");
    assert!(b.crust(&["run", "-d", "c1"]).status.success());
    let missing = b.dir.path().join("missing/dir/pid");
    for args in [
        vec![
            "exec",
            "--pid-file",
            missing.to_str().unwrap(),
            "c1",
            "true",
        ],
        vec!["exec", "c1", "/no/such/program"],
        vec!["exec", "nope", "true"],
    ] {
        let out = b.crust(&args);
        assert_eq!(out.status.code(), Some(255), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("exec failed"), "{}", stderr(&out));
    }
    assert_eq!(
        b.crust(&["exec", "c1", "sh", "-c", "exit 3"]).status.code(),
        Some(3)
    );
    let out = b.crust(&["--debug", "exec", "c1", "true"]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("level=debug") && stderr(&out).contains("exec phase"),
        "{}",
        stderr(&out)
    );
}

/// runc's "kill detached busybox": a container started with `run -d` is
/// killed, seen stopped, deleted; `kill --all` works on it the same way.
#[test]
fn kill_of_a_detached_container() {
    for all in [false, true] {
        let b = Bundle::new("exec sleep 1000");
        assert!(b.crust(&["run", "-d", "c1"]).status.success());
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        args.extend(["c1", "KILL"]);
        let out = b.crust(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        wait_until(|| b.state("c1")["status"] == "stopped");
        assert!(b.crust(&["delete", "c1"]).status.success());
        assert_eq!(b.state_dirs(), 0);
    }
}
