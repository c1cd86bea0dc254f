//! `linux.seccomp`: filters loaded into real containers, checked by what
//! the process can and cannot do.

mod common;

use common::{stderr, stdout, Bundle};
use serde_json::{json, Value};

fn with_filter(script: &str, seccomp: Value) -> Bundle {
    let mut b = Bundle::new(script);
    b.config["linux"]["seccomp"] = seccomp;
    b
}

#[test]
fn an_errno_rule_returns_its_errno_and_others_work() {
    let b = with_filter(
        "mkdir /tmp/x 2>&1; ls -d /tmp && echo listed",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}),
    );
    let out = b.output_of("c1");
    assert!(
        out.contains("Permission denied") && out.contains("listed"),
        "{out}"
    );
}

#[test]
fn kill_process_kills_with_sigsys() {
    let b = with_filter(
        "pwd",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_KILL_PROCESS"}]}),
    );
    // Without a pid namespace the shell is not an init the kernel protects.
    let mut b = b;
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    assert_eq!(b.run("c1").status.code(), Some(128 + libc::SIGSYS));
}

#[test]
fn argument_conditions_select_calls() {
    // personality(PER_LINUX32 = 8) is refused, personality(PER_LINUX) is not.
    let b = with_filter(
        "linux64 true && echo linux64-ok; linux32 true 2>&1 || echo linux32-refused",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
        ]}),
    );
    let out = b.output_of("c1");
    assert!(
        out.contains("linux64-ok") && out.contains("linux32-refused"),
        "{out}"
    );
}

#[test]
fn the_default_errno_applies_to_unlisted_calls() {
    let b = with_filter(
        "echo start; mkdir /tmp/y 2>&1",
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [{"names": [
            "read", "write", "open", "openat", "close", "fstat", "newfstatat", "stat", "lstat", "mmap", "munmap", "brk",
            "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "ioctl", "execve", "exit", "exit_group", "arch_prctl",
            "set_tid_address", "getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "uname", "fcntl", "wait4",
            "clone", "fork", "vfork", "dup2", "dup3", "access", "faccessat", "faccessat2", "prlimit64", "getcwd",
            "sigaltstack", "set_robust_list", "rseq", "mprotect", "pipe", "pipe2", "getpgrp", "setpgid", "getrandom", "lseek"
        ], "action": "SCMP_ACT_ALLOW"}]}),
    );
    let out = b.run("c1");
    let text = stdout(&out);
    assert!(
        text.contains("start") && text.contains("Function not implemented"),
        "{text} {}",
        stderr(&out)
    );
}

#[test]
fn exec_gets_the_containers_filter() {
    let b = with_filter(
        "exec sleep 1000",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}),
    );
    assert!(b.crust(&["run", "-d", "c1"]).status.success());
    let out = b.crust(&[
        "exec",
        "c1",
        "sh",
        "-c",
        "mkdir /tmp/z 2>&1; grep Seccomp: /proc/self/status",
    ]);
    let text = stdout(&out);
    assert!(
        text.contains("Operation not permitted") && text.contains("Seccomp:\t2"),
        "{text}"
    );
}

#[test]
fn unknown_actions_and_notify_without_a_listener_are_refused_at_create() {
    let b = with_filter("true", json!({"defaultAction": "SCMP_ACT_NOPE"}));
    b.assert_fails_cleanly(&["run", "c1"], &["linux.seccomp.defaultAction"]);
    let b = with_filter(
        "true",
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    b.assert_fails_cleanly(&["run", "c2"], &["linux.seccomp.listenerPath"]);
}

/// What a seccomp agent receives: the process state and the listener fd.
fn agent(socket: &std::path::Path) -> std::thread::JoinHandle<(Value, std::os::fd::OwnedFd)> {
    let listener = std::os::unix::net::UnixListener::bind(socket).unwrap();
    std::thread::spawn(move || {
        let (payload, fd) = common::receive_fd(&listener);
        (serde_json::from_slice(&payload).unwrap(), fd)
    })
}

/// SCMP_ACT_NOTIFY: the listener fd reaches the agent at listenerPath with
/// runc's ContainerProcessState; once the agent closes it, the notified call
/// fails with ENOSYS, which shows the fd was the filter's listener.
#[test]
fn notify_hands_the_listener_to_the_agent() {
    let mut b = Bundle::new("mkdir /tmp/n 2> /out/result; echo done >> /out/result");
    let out_dir = b.dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/out", "type": "bind", "source": out_dir, "options": ["bind"]}),
    );
    let socket = b.dir.path().join("agent.sock");
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": socket,
        "listenerMetadata": "hello-agent",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    let agent = agent(&socket);
    let out = b.crust(&["create", "c1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (state, fd) = agent.join().unwrap();
    let pid = b.state("c1")["pid"].clone();
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "hello-agent");
    assert_eq!(state["pid"], pid);
    assert_eq!(state["state"]["id"], "c1");
    assert_eq!(state["state"]["pid"], pid);
    drop(fd);
    assert!(b.crust(&["start", "c1"]).status.success());
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while b.state("c1")["status"] != "stopped" {
        assert!(std::time::Instant::now() < end);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let result = std::fs::read_to_string(out_dir.join("result")).unwrap();
    assert!(
        result.contains("Function not implemented") && result.contains("done"),
        "{result}"
    );
}

/// podman's default profile blocks sethostname with EPERM for a container
/// without CAP_SYS_ADMIN. The container here holds CAP_SYS_ADMIN in its
/// capability sets, so the kernel alone would allow the call: the EPERM can
/// only come from the filter.
#[test]
fn podmans_default_profile_blocks_and_allows() {
    let default_caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let script = "ls / >/dev/null && echo allowed-works; hostname changed 2>&1; hostname";
    let mut b = with_filter(script, common::engine_default_profile(&default_caps));
    b.add_capability("CAP_SYS_ADMIN");
    let out = b.output_of("c1");
    assert!(out.contains("allowed-works"), "{out}");
    assert!(
        out.contains("Operation not permitted") && out.trim_end().ends_with("crust"),
        "{out}"
    );

    let mut control = Bundle::new(script);
    control.as_configured = true;
    control.add_capability("CAP_SYS_ADMIN");
    assert!(
        control.output_of("c2").trim_end().ends_with("changed"),
        "without the filter the call works"
    );
}

/// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV reaches the kernel (crust loads
/// the program itself, whatever libseccomp knows): once the agent has
/// received the notification, a signal the process handles no longer
/// interrupts the call, which goes back to sleep killable ('D'); without
/// the flag the call is interrupted (cd fails and the shell exits).
/// The agent is a few lines of Python that receives
/// (SECCOMP_IOCTL_NOTIF_RECV) and never answers.
#[test]
fn wait_killable_recv_makes_the_notified_wait_killable() {
    use std::os::fd::AsRawFd;
    for (flags, expected) in [
        (json!(["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]), true),
        (json!([]), false),
    ] {
        let mut b = Bundle::new("unused");
        b.config["process"]["args"] =
            json!(["sh", "-c", "trap 'echo usr1' USR1; cd /tmp; echo after"]);
        let socket = b.dir.path().join("agent.sock");
        b.config["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": socket,
            "flags": flags,
            "syscalls": [{"names": ["chdir"], "action": "SCMP_ACT_NOTIFY"}]
        });
        let agent = agent(&socket);
        let out = b.crust(&["create", "c1"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let (_, listener) = agent.join().unwrap();
        // The descriptor came without close-on-exec: python inherits it.
        let mut receiver = std::process::Command::new("python3")
            .arg("-c")
            .arg("import fcntl, sys, time\nfcntl.ioctl(int(sys.argv[1]), 0xC0502100, bytearray(80))\nprint('received', flush=True)\ntime.sleep(60)")
            .arg(listener.as_raw_fd().to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(listener);
        assert!(b.crust(&["start", "c1"]).status.success());
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(receiver.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "received");
        let pid = b.state("c1")["pid"].as_i64().unwrap();
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap(),
            rustix::process::Signal::USR1,
        )
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let state = stat[stat.rfind(')').unwrap() + 2..].chars().next().unwrap();
        assert_eq!(state == 'D', expected, "flags {flags}: state {state}");
        receiver.kill().unwrap();
        receiver.wait().unwrap();
        assert!(b.crust(&["delete", "--force", "c1"]).status.success());
    }
}

/// The deny-by-default profile of the strict lane (an allow list of a
/// 2019 kernel's calls: no close_range, openat2, clone3...).
fn strict_profile() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/seccomp-strict.json"
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A profile that does not list what crust itself calls after the
/// filter would be loaded early (close_range, fcntl on the runtime's
/// descriptors, capset...) starts containers, with and without
/// `noNewPrivileges`, for `run`, `create` + `start` and `exec`; and the
/// filter is really in force in each (a call outside the list fails).
#[test]
fn a_deny_by_default_profile_without_crusts_own_calls_starts_containers() {
    let script = "ls / >/dev/null && cat /etc/passwd >/dev/null && echo ran; \
                  grep Seccomp: /proc/self/status; hostname x 2>&1; true";
    for nnp in [true, false] {
        let mut b = with_filter(script, strict_profile());
        b.as_configured = true;
        b.config["process"]["noNewPrivileges"] = json!(nnp);
        b.config["process"]["capabilities"]["bounding"]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_ADMIN"));
        let out = b.output_of("c1");
        assert!(out.starts_with("ran\nSeccomp:\t2\n"), "nnp {nnp}: {out}");
        assert!(out.contains("Operation not permitted"), "nnp {nnp}: {out}");

        b.config["process"]["args"] = json!(["sleep", "1000"]);
        let created = b.crust(&["create", "c2"]);
        assert!(created.status.success(), "nnp {nnp}: {}", stderr(&created));
        let started = b.crust(&["start", "c2"]);
        assert!(started.status.success(), "nnp {nnp}: {}", stderr(&started));
        let exec = b.crust(&["exec", "c2", "sh", "-c", script]);
        assert!(
            stdout(&exec).starts_with("ran\nSeccomp:\t2\n"),
            "exec, nnp {nnp}: {}{}",
            stdout(&exec),
            stderr(&exec)
        );
        b.crust(&["delete", "--force", "c2"]);
    }
}

/// runc's "syscall compatibility after seccomp enforcement": the calls a
/// modern runtime uses for its setup, refused with ENOSYS, change nothing.
#[test]
fn refusing_the_new_mount_and_fd_calls_changes_nothing() {
    let names = [
        "close_range",
        "fsopen",
        "fsconfig",
        "fspick",
        "openat2",
        "open_tree",
        "move_mount",
        "mount_setattr",
    ];
    for nnp in [true, false] {
        let mut b = with_filter(
            "echo ok",
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}),
        );
        b.config["process"]["noNewPrivileges"] = json!(nnp);
        assert_eq!(b.output_of("c1"), "ok\n", "nnp {nnp}");
    }
}

/// Compile `source` (C) statically into the rootfs of `b` as /prog.
fn compile_into(b: &Bundle, source: &str) {
    let dir = tempfile::TempDir::new().unwrap();
    let c = dir.path().join("prog.c");
    std::fs::write(&c, source).unwrap();
    let out = std::process::Command::new("cc")
        .arg("-static")
        .arg("-o")
        .arg(b.rootfs().join("prog"))
        .arg(&c)
        .output()
        .expect("cc (gcc) compiles the test program");
    assert!(out.status.success(), "cc: {}", stderr(&out));
}

/// runc's "-ENOSYS handling": a call newer than every call the profile
/// names returns ENOSYS (so that the C library falls back); an older one
/// the profile does not name gets the default action.
#[test]
fn calls_newer_than_the_profile_return_enosys() {
    let mut b = Bundle::with_own_rootfs("/prog");
    compile_into(
        &b,
        r#"#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(void) {
    long r1 = syscall(SYS_close_range, 1000, 1001, 0);
    int e1 = errno;
    long r2 = syscall(SYS_setns, -1, 0);
    int e2 = errno;
    printf("%ld %d %ld %d\n", r1, e1, r2, e2);
    return 0;
}
"#,
    );
    let mut profile = strict_profile();
    profile["syscalls"][0]["names"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n != "setns");
    b.config["linux"]["seccomp"] = profile;
    let out = b.output_of("c1");
    assert_eq!(
        out,
        format!("-1 {} -1 {}\n", libc::ENOSYS, libc::EPERM),
        "close_range (436, newer than the profile) ENOSYS, setns (308) EPERM"
    );

    // With a default action that allows, nothing is turned into ENOSYS.
    b.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]});
    assert_eq!(b.output_of("c2"), format!("0 0 -1 {}\n", libc::EBADF));
}

/// As in runc, a startContainer hook runs under the container's filter.
#[test]
fn a_start_container_hook_runs_under_the_filter() {
    let mut b = with_filter(
        "true",
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}),
    );
    b.config["hooks"] = json!({"startContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", "mkdir /tmp/hooked"]}
    ]});
    let out = b.run("c1");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("startContainer"), "{}", stderr(&out));
    assert!(!b.rootfs().join("tmp/hooked").exists());
}

/// Without noNewPrivileges the process keeps CAP_SYS_ADMIN only until the
/// filter is in; after it crust makes one `capset` and nothing else: a
/// profile refusing prctl (and so every ambient or no_new_privs change)
/// still starts the container, with exactly the configured capabilities.
#[test]
fn only_one_capset_follows_a_filter_loaded_without_no_new_privileges() {
    let mut b = with_filter(
        "grep -E '^Cap(Eff|Prm|Amb)' /proc/self/status",
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["prctl"], "action": "SCMP_ACT_ERRNO"}]}),
    );
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.config["process"]["capabilities"]["inheritable"] = json!(["CAP_KILL"]);
    b.config["process"]["capabilities"]["ambient"] = json!(["CAP_KILL"]);
    let out = b.output_of("c1");
    let want = format!("{:016x}", (1u64 << 29) | (1 << 5) | (1 << 10));
    assert_eq!(
        out,
        format!(
            "CapPrm:\t{want}\nCapEff:\t{want}\nCapAmb:\t{:016x}\n",
            1u64 << 5
        ),
        "no CAP_SYS_ADMIN left, the ambient KILL raised before the filter"
    );
}
