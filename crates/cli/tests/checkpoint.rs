//! `checkpoint` and `restore` with CRIU, on real containers: each test
//! looks at the restored process (its memory, its pipes, its terminal,
//! its mounts, its cgroup) rather than at exit codes. CRIU must be able
//! to checkpoint on the kernel at hand: the VM lane (scripts/systemd-vm.sh,
//! Debian's 6.1 kernel) sets `CRUST_TEST_REQUIRE_CRIU=1`; elsewhere the
//! tests that need a working CRIU say so and pass, and those about
//! failures run everywhere.

mod common;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// Whether CRIU can checkpoint here (`criu check`).
fn criu_works(test: &str) -> bool {
    let ok = std::process::Command::new("criu")
        .arg("check")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CRUST_TEST_REQUIRE_CRIU").is_none(),
            "{test}: `criu check` fails here, and this lane requires CRIU"
        );
        eprintln!("{test}: CRIU cannot checkpoint on this kernel (`criu check`); see the VM lane");
    }
    ok
}

/// Three pipes for a container's stdio; the test keeps the other ends.
struct Pipes {
    stdin: std::fs::File,
    stdout: std::fs::File,
    /// crust's stderr (and the container's): read after each command
    /// without waiting for its end, which the container holds open.
    stderr: OwnedFd,
    theirs: [OwnedFd; 3],
}

impl Pipes {
    fn new() -> Pipes {
        let (in_r, in_w) = rustix::pipe::pipe().unwrap();
        let (out_r, out_w) = rustix::pipe::pipe().unwrap();
        let (err_r, err_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::NONBLOCK).unwrap();
        Pipes {
            stdin: in_w.into(),
            stdout: out_r.into(),
            stderr: err_r,
            theirs: [in_r, out_w, err_w],
        }
    }

    /// `crust ARGS` with these pipes as its (and so the container's)
    /// stdio: the container's files are pipes, which CRIU can dump, and
    /// a restore hands the new ones over in their place.
    fn crust(&self, b: &Bundle, args: &[&str]) -> std::process::Output {
        b.write();
        let [i, o, e] = &self.theirs;
        let status = b
            .command(args)
            .stdin(Stdio::from(i.try_clone().unwrap()))
            .stdout(Stdio::from(o.try_clone().unwrap()))
            .stderr(Stdio::from(e.try_clone().unwrap()))
            .status()
            .unwrap();
        let mut stderr = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = rustix::io::read(&self.stderr, &mut buf) {
            stderr.extend_from_slice(&buf[..n]);
        }
        std::process::Output {
            status,
            stdout: Vec::new(),
            stderr,
        }
    }

    /// Write a line to the container and read its answer (within 30 s:
    /// a container that is not there fails the test, not hangs it).
    fn ask(&mut self, line: &str) -> String {
        use rustix::event::{PollFd, PollFlags, Timespec};
        writeln!(self.stdin, "{line}").unwrap();
        let mut answer = Vec::new();
        while !answer.ends_with(b"\n") {
            let mut fds = [PollFd::new(&self.stdout, PollFlags::IN)];
            let timeout = Timespec {
                tv_sec: 30,
                tv_nsec: 0,
            };
            let ready = rustix::event::poll(&mut fds, Some(&timeout)).unwrap();
            assert!(
                ready > 0,
                "no answer to {line:?} within 30 s (got {answer:?})"
            );
            let mut byte = [0u8; 1];
            assert_eq!(
                self.stdout.read(&mut byte).unwrap(),
                1,
                "the container closed its stdout"
            );
            answer.push(byte[0]);
        }
        String::from_utf8_lossy(&answer).trim().to_string()
    }
}

/// A shell that keeps a counter in memory: it answers each line read with
/// `N LINE`, N counting the lines so far.
const COUNTER: &str = "n=0; while read l; do n=$((n+1)); echo \"$n $l\"; done";

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        stderr(out),
        criu_log_of(out)
    );
}

/// The end of the CRIU log an error names, for the test's failure message
/// (as runc's tests print `grep -B5 Error dump.log`).
fn criu_log_of(out: &std::process::Output) -> String {
    let err = stderr(out).replace("\\\"", "\"");
    let Some(rest) = err.split("CRIU's log \"").nth(1) else {
        return String::new();
    };
    let log = rest.split('"').next().unwrap_or_default();
    let text = std::fs::read_to_string(log).unwrap_or_default();
    // Without the long listing of every mount's sharing.
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("Inspecting sharing") && !l.contains("external slavery"))
        .collect();
    let tail = lines[lines.len().saturating_sub(150)..].join("\n");
    format!("\n--- {log} (end) ---\n{tail}")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_restored_process_continues_where_it_stopped_and_gets_the_new_pipes() {
    if !criu_works("continues") {
        return;
    }
    let b = Bundle::new(COUNTER);
    let images = b.dir.path().join("images");
    let mut first = Pipes::new();
    ok(&first.crust(&b, &["run", "-d", "c1"]), "run -d");
    assert_eq!(first.ask("a"), "1 a");
    assert_eq!(first.ask("b"), "2 b");
    let out = first.crust(&b, &["checkpoint", "--image-path", path(&images), "c1"]);
    ok(&out, "checkpoint");
    // The container is gone, as runc leaves it: no state, nothing running.
    assert!(!b.crust(&["state", "c1"]).status.success());
    assert!(images.join("inventory.img").exists());
    assert!(images.join("descriptors.json").exists());
    // Restored with other pipes: the counter goes on from 2, and answers
    // on the new stdout.
    let mut second = Pipes::new();
    let out = second.crust(&b, &["restore", "-d", "--image-path", path(&images), "c1"]);
    ok(&out, "restore");
    let state = b.state("c1");
    assert_eq!(state["status"], "running");
    assert_eq!(second.ask("c"), "3 c");
    // Twice over, as runc's test does.
    ok(
        &second.crust(&b, &["checkpoint", "--image-path", path(&images), "c1"]),
        "checkpoint 2",
    );
    let mut third = Pipes::new();
    ok(
        &third.crust(&b, &["restore", "-d", "--image-path", path(&images), "c1"]),
        "restore 2",
    );
    assert_eq!(third.ask("d"), "4 d");
    // exec works in the restored container, and sees the restored tree.
    let out = b.crust(&["exec", "c1", "cat", "/proc/1/comm"]);
    ok(&out, "exec");
    assert_eq!(stdout(&out).trim(), "sh");
    ok(&b.crust(&["delete", "-f", "c1"]), "delete");
}

#[test]
fn leave_running_then_restore_into_a_new_id_after_the_original_is_deleted() {
    if !criu_works("leave-running") {
        return;
    }
    let b = Bundle::new(COUNTER);
    let images = b.dir.path().join("images");
    let mut first = Pipes::new();
    ok(&first.crust(&b, &["run", "-d", "orig"]), "run -d");
    assert_eq!(first.ask("a"), "1 a");
    let out = first.crust(
        &b,
        &[
            "checkpoint",
            "--leave-running",
            "--image-path",
            path(&images),
            "orig",
        ],
    );
    ok(&out, "checkpoint --leave-running");
    // Still running, and still counting.
    assert_eq!(b.state("orig")["status"], "running");
    assert_eq!(first.ask("b"), "2 b");
    ok(&b.crust(&["delete", "-f", "orig"]), "delete");
    let mut second = Pipes::new();
    let out = second.crust(
        &b,
        &["restore", "-d", "--image-path", path(&images), "copy"],
    );
    ok(&out, "restore as copy");
    assert_eq!(b.state("copy")["status"], "running");
    // From the checkpoint: one line counted, not two.
    assert_eq!(second.ask("c"), "2 c");
    ok(&b.crust(&["delete", "-f", "copy"]), "delete copy");
}

#[test]
fn pre_dump_then_dump_with_the_parent() {
    if !criu_works("pre-dump") {
        return;
    }
    let b = Bundle::new(COUNTER);
    let parent = b.dir.path().join("parent");
    let images = b.dir.path().join("images");
    let mut first = Pipes::new();
    ok(&first.crust(&b, &["run", "-d", "c1"]), "run -d");
    assert_eq!(first.ask("a"), "1 a");
    ok(
        &first.crust(
            &b,
            &[
                "checkpoint",
                "--pre-dump",
                "--image-path",
                path(&parent),
                "c1",
            ],
        ),
        "pre-dump",
    );
    assert_eq!(b.state("c1")["status"], "running");
    assert_eq!(first.ask("b"), "2 b");
    // runc's checks of --parent-path first: relative, and a directory.
    let out = b.crust(&[
        "checkpoint",
        "--parent-path",
        path(&parent),
        "--image-path",
        path(&images),
        "c1",
    ]);
    assert!(!out.status.success());
    assert!(
        last_error_line(&out).contains("--parent-path"),
        "{}",
        stderr(&out)
    );
    let out = b.crust(&[
        "checkpoint",
        "--parent-path",
        "../nothing",
        "--image-path",
        path(&images),
        "c1",
    ]);
    assert!(
        last_error_line(&out).contains("--parent-path"),
        "{}",
        stderr(&out)
    );
    assert_eq!(b.state("c1")["status"], "running");
    let work = b.dir.path().join("work");
    let out = first.crust(
        &b,
        &[
            "checkpoint",
            "--parent-path",
            "../parent",
            "--work-path",
            path(&work),
            "--image-path",
            path(&images),
            "c1",
        ],
    );
    ok(&out, "dump with a parent");
    assert!(
        images.join("parent").exists(),
        "no parent link in the images"
    );
    assert!(
        work.join("dump.log").exists(),
        "the log is not in --work-path"
    );
    let mut second = Pipes::new();
    ok(
        &second.crust(
            &b,
            &[
                "restore",
                "-d",
                "--work-path",
                path(&work),
                "--image-path",
                path(&images),
                "c1",
            ],
        ),
        "restore",
    );
    assert_eq!(second.ask("c"), "3 c");
    assert!(work.join("restore.log").exists());
    ok(&b.crust(&["delete", "-f", "c1"]), "delete");
}

#[test]
fn binds_and_tmpfs_come_back_nested_binds_included() {
    if !criu_works("mounts") {
        return;
    }
    let b = &mut Bundle::with_own_rootfs(COUNTER);
    let outer = b.dir.path().join("outer");
    let nested = b.dir.path().join("nested");
    std::fs::create_dir_all(&outer).unwrap();
    std::fs::create_dir_all(&nested).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/data", "type": "bind", "source": path(&outer), "options": ["rbind", "rw"]}));
    mounts.push(json!({"destination": "/data/in/nested", "type": "bind", "source": path(&nested), "options": ["bind"]}));
    mounts.push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}));
    let images = b.dir.path().join("images");
    let mut first = Pipes::new();
    ok(&first.crust(b, &["run", "-d", "m1"]), "run -d");
    // A file only in the tmpfs (its content is in memory, dumped by CRIU).
    ok(
        &b.crust(&["exec", "m1", "sh", "-c", "echo kept > /scratch/f"]),
        "exec",
    );
    assert_eq!(first.ask("a"), "1 a");
    ok(
        &first.crust(b, &["checkpoint", "--image-path", path(&images), "m1"]),
        "checkpoint",
    );
    // The nested mount point inside the outer bind's source goes: the
    // restore makes it again (runc#2748).
    std::fs::remove_dir_all(outer.join("in")).unwrap();
    std::fs::write(nested.join("later"), "host\n").unwrap();
    let mut second = Pipes::new();
    ok(
        &second.crust(b, &["restore", "-d", "--image-path", path(&images), "m1"]),
        "restore",
    );
    assert_eq!(second.ask("b"), "2 b");
    let out = b.crust(&[
        "exec",
        "m1",
        "sh",
        "-c",
        "cat /scratch/f /data/in/nested/later; grep -c ' /data' /proc/self/mounts",
    ]);
    ok(&out, "exec after restore");
    assert_eq!(
        stdout(&out).split_whitespace().collect::<Vec<_>>(),
        ["kept", "host", "2"]
    );
    ok(&b.crust(&["delete", "-f", "m1"]), "delete");
}

#[test]
fn a_terminal_container_gets_its_pty_back_through_the_console_socket() {
    if !criu_works("terminal") {
        return;
    }
    let mut b = Bundle::new("");
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["args"] = json!(["sh"]);
    let images = b.dir.path().join("images");
    let sock = b.dir.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let out = b.crust(&["run", "-d", "--console-socket", path(&sock), "t1"]);
    ok(&out, "run -d with a terminal");
    let (_, master) = receive_fd(&listener);
    let mut pty: std::fs::File = master.into();
    talk(&mut pty, "x=41");
    ok(
        &b.crust(&["checkpoint", "--image-path", path(&images), "t1"]),
        "checkpoint",
    );
    drop(pty);
    let sock2 = b.dir.path().join("console2.sock");
    let listener2 = std::os::unix::net::UnixListener::bind(&sock2).unwrap();
    let out = b.crust(&[
        "restore",
        "-d",
        "--console-socket",
        path(&sock2),
        "--image-path",
        path(&images),
        "t1",
    ]);
    ok(&out, "restore with a console socket");
    let (_, master) = receive_fd(&listener2);
    let mut pty: std::fs::File = master.into();
    // The shell's variable survived: it is the same shell, on a pty again.
    let seen = talk(&mut pty, "echo value=$((x+1)); tty");
    assert!(seen.contains("value=42"), "{seen}");
    assert!(seen.contains("/dev/pts/"), "{seen}");
    // Without a console socket, a detached restore of a terminal is refused.
    ok(
        &b.crust(&["checkpoint", "--image-path", path(&images), "t1"]),
        "checkpoint 2",
    );
    let out = b.crust(&["restore", "-d", "--image-path", path(&images), "t1"]);
    assert!(!out.status.success());
    assert!(
        last_error_line(&out).contains("console"),
        "{}",
        stderr(&out)
    );
    assert_eq!(b.state_dirs(), 0);
}

/// Send a command line to a shell on a pty and collect what it prints
/// for a moment.
fn talk(pty: &mut std::fs::File, line: &str) -> String {
    writeln!(pty, "{line}").unwrap();
    let fd = rustix::fs::fcntl_getfl(&*pty).unwrap();
    rustix::fs::fcntl_setfl(&*pty, fd | rustix::fs::OFlags::NONBLOCK).unwrap();
    let mut seen = String::new();
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end {
        let mut buf = [0u8; 4096];
        match pty.read(&mut buf) {
            Ok(n) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    seen
}

#[test]
fn restore_runs_the_prestart_hooks_and_limits_the_new_cgroup() {
    if !criu_works("hooks") {
        return;
    }
    let mut b = Bundle::new(COUNTER);
    let log = b.dir.path().join("hooks.log");
    b.config["hooks"] = json!({
        "prestart": [{"path": "/bin/sh", "args": ["sh", "-c", format!("cat >> {}; echo >> {}", path(&log), path(&log))]}],
        "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", format!("echo createRuntime >> {}", path(&log))]}]
    });
    b.config["linux"]["resources"] = json!({"pids": {"limit": 42}});
    let images = b.dir.path().join("images");
    let mut first = Pipes::new();
    ok(&first.crust(&b, &["run", "-d", "h1"]), "run -d");
    assert_eq!(first.ask("a"), "1 a");
    ok(
        &first.crust(&b, &["checkpoint", "--image-path", path(&images), "h1"]),
        "checkpoint",
    );
    std::fs::remove_file(&log).unwrap();
    let mut second = Pipes::new();
    ok(
        &second.crust(&b, &["restore", "-d", "--image-path", path(&images), "h1"]),
        "restore",
    );
    let state = b.state("h1");
    let pid = state["pid"].as_i64().unwrap();
    // Both hooks ran once, the prestart one told the restored init's pid.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(&format!("\"pid\":{pid}")), "{text}");
    assert_eq!(text.matches("createRuntime").count(), 1, "{text}");
    // The init is in the new container's cgroup, with its limit.
    let dirs = b.cgroup_dirs("h1");
    let pids_dir = dirs
        .iter()
        .find(|d| d.join("pids.max").exists())
        .expect("a pids cgroup");
    assert_eq!(
        std::fs::read_to_string(pids_dir.join("pids.max"))
            .unwrap()
            .trim(),
        "42"
    );
    let procs = std::fs::read_to_string(pids_dir.join("cgroup.procs")).unwrap();
    assert!(
        procs.split_whitespace().any(|p| p == pid.to_string()),
        "{procs} lacks {pid}"
    );
    assert_eq!(second.ask("b"), "2 b");
    ok(&b.crust(&["delete", "-f", "h1"]), "delete");
    for d in dirs {
        assert!(!d.exists(), "{d:?} left behind");
    }
}

#[test]
fn a_failed_restore_leaves_nothing_behind() {
    if !criu_works("failed restore") {
        return;
    }
    let b = Bundle::new(COUNTER);
    let images = b.dir.path().join("images");
    let first = Pipes::new();
    ok(&first.crust(&b, &["run", "-d", "f1"]), "run -d");
    ok(
        &first.crust(&b, &["checkpoint", "--image-path", path(&images), "f1"]),
        "checkpoint",
    );
    // Images without the process tree's.
    for e in std::fs::read_dir(&images).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("pstree") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let second = Pipes::new();
    let out = second.crust(&b, &["restore", "-d", "--image-path", path(&images), "f1"]);
    assert!(!out.status.success());
    let last = last_error_line(&out);
    assert!(last.contains("criu restore"), "{}", stderr(&out));
    assert!(last.contains("restore.log"), "{last}");
    assert_eq!(b.state_dirs(), 0, "state left behind");
    assert!(processes_naming(&b.root).is_empty());
    assert!(!b.dir.path().join("state/f1/criu-root").exists());
}

#[test]
fn a_joined_network_namespace_is_the_same_after_restore() {
    if !criu_works("netns") {
        return;
    }
    let name = format!("crust-cr-{}", std::process::id());
    let status = std::process::Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .unwrap();
    assert!(status.success());
    let ns_path = PathBuf::from("/run/netns").join(&name);
    let ino = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap()
    };
    let mut b = Bundle::new(COUNTER);
    for ns in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "network" {
            ns["path"] = json!(path(&ns_path));
        }
    }
    let images = b.dir.path().join("images");
    let first = Pipes::new();
    ok(&first.crust(&b, &["run", "-d", "n1"]), "run -d");
    for round in 0..2 {
        ok(
            &first.crust(&b, &["checkpoint", "--image-path", path(&images), "n1"]),
            "checkpoint",
        );
        ok(
            &first.crust(&b, &["restore", "-d", "--image-path", path(&images), "n1"]),
            "restore",
        );
        let pid = b.state("n1")["pid"].as_i64().unwrap();
        let inside = PathBuf::from(format!("/proc/{pid}/ns/net"));
        assert_eq!(ino(&inside), ino(&ns_path), "round {round}");
    }
    ok(&b.crust(&["delete", "-f", "n1"]), "delete");
    let _ = std::process::Command::new("ip")
        .args(["netns", "del", &name])
        .status();
}

/// Where CRIU cannot work (missing, or this kernel): one error line that
/// says why, and the container is left as it was.
#[test]
fn without_a_working_criu_checkpoint_fails_clearly_and_the_container_runs_on() {
    let b = Bundle::new("sleep 1000");
    ok(&b.crust(&["run", "-d", "w1"]), "run -d");
    let out = b.crust(&["--criu", "/nonexistent/criu", "checkpoint", "w1"]);
    assert!(!out.status.success());
    assert!(
        last_error_line(&out).contains("not found"),
        "{}",
        stderr(&out)
    );
    let out = b.crust(&["--criu", "/bin/true", "checkpoint", "w1"]);
    assert!(!out.status.success());
    assert!(
        last_error_line(&out).contains("/bin/true"),
        "{}",
        stderr(&out)
    );
    if !criu_works("kernel") {
        // This kernel: CRIU starts, then fails; its log is named and its
        // last error line quoted.
        let work = b.dir.path().join("work");
        let out = b.crust(&["checkpoint", "--work-path", path(&work), "w1"]);
        assert!(!out.status.success());
        let last = last_error_line(&out);
        assert!(last.contains("criu dump"), "{last}");
        assert!(last.contains(path(&work.join("dump.log"))), "{last}");
        assert!(last.contains("Error ("), "{last}");
    }
    assert_eq!(b.state("w1")["status"], "running");
    // A created container cannot be checkpointed (runc's rule).
    ok(&b.crust(&["create", "w2"]), "create");
    let out = b.crust(&["checkpoint", "w2"]);
    assert!(
        last_error_line(&out).contains("created"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn restore_from_nothing_fails_before_making_anything() {
    let b = Bundle::new("true");
    let missing = b.dir.path().join("no-images");
    b.assert_fails_cleanly(
        &["restore", "-d", "--image-path", path(&missing), "r1"],
        &["--image-path", "no-images"],
    );
    let empty = b.dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    b.assert_fails_cleanly(
        &["restore", "-d", "--image-path", path(&empty), "r1"],
        &["descriptors.json"],
    );
    b.assert_fails_cleanly(
        &["restore", "-d", "--manage-cgroups-mode", "bogus", "r1"],
        &["--manage-cgroups-mode"],
    );
}
