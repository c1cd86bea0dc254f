//! `crust exec`: a new process in every namespace of a running container.

mod common;

use std::time::{Duration, Instant};

use common::{stderr, stdout, Bundle};
use serde_json::json;

/// A running container to exec into.
fn running(b: &Bundle) -> i64 {
    let out = b.crust(&["run", "-d", "c1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    b.state("c1")["pid"].as_i64().unwrap()
}

fn exec(b: &Bundle, args: &[&str]) -> std::process::Output {
    let mut all = vec!["exec"];
    all.extend_from_slice(args);
    b.crust(&all)
}

#[test]
fn exec_joins_every_namespace_of_the_container() {
    let b = Bundle::new("exec sleep 1000");
    running(&b);
    let script = "for n in mnt net ipc uts pid cgroup; do [ \"$(readlink /proc/1/ns/$n)\" = \"$(readlink /proc/self/ns/$n)\" ] && echo same-$n; done; hostname; ls /bin/busybox";
    let out = exec(&b, &["c1", "sh", "-c", script]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for n in ["mnt", "net", "ipc", "uts", "pid", "cgroup"] {
        assert!(text.contains(&format!("same-{n}")), "{n}: {text}");
    }
    assert!(
        text.contains("crust") && text.contains("/bin/busybox"),
        "{text}"
    );
}

#[test]
fn exit_code_env_user_cwd_groups() {
    let b = Bundle::new("exec sleep 1000");
    running(&b);
    let out = exec(
        &b,
        &[
            "-e",
            "FOO=bar",
            "-e",
            "PATH=/bin",
            "--user",
            "1000:1001",
            "-g",
            "44",
            "--cwd",
            "/tmp",
            "c1",
            "sh",
            "-c",
            "echo $FOO $PATH; id -u; id -g; id -G; pwd; exit 7",
        ],
    );
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(String::from).collect();
    assert_eq!(lines, ["bar /bin", "1000", "1001", "1001 44", "/tmp"]);
}

#[test]
fn exec_takes_the_containers_process_settings() {
    let mut b = Bundle::new("exec sleep 1000");
    b.as_configured = true;
    b.config["process"]["env"] = json!(["PATH=/bin", "FROM_CONFIG=yes"]);
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 321}]);
    running(&b);
    let out = exec(
        &b,
        &[
            "c1",
            "sh",
            "-c",
            "echo $FROM_CONFIG; ulimit -n; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status",
        ],
    );
    let text = stdout(&out);
    assert!(text.starts_with("yes\n321\n"), "{text}");
    assert!(
        text.contains("CapEff:\t0000000020000420") && text.contains("NoNewPrivs:\t1"),
        "{text}"
    );
}

/// CVE-2022-29162: `exec --cap` must not put the capability in the
/// inheritable set, from which a program with file capabilities could
/// raise it. A naive implementation adding it to all five sets would show
/// it in CapInh.
#[test]
fn exec_cap_never_grants_inheritable_capabilities() {
    let b = Bundle::new("exec sleep 1000");
    running(&b);
    let out = exec(
        &b,
        &[
            "--cap",
            "CAP_SYS_ADMIN",
            "c1",
            "grep",
            "-E",
            "^Cap(Inh|Eff|Bnd|Amb)",
            "/proc/self/status",
        ],
    );
    let text = stdout(&out);
    let field = |k: &str| {
        text.lines()
            .find(|l| l.starts_with(k))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    let sys_admin = 1u64 << 21;
    for k in ["CapEff:", "CapBnd:"] {
        assert_ne!(
            u64::from_str_radix(&field(k), 16).unwrap() & sys_admin,
            0,
            "{k}: {text}"
        );
    }
    assert_eq!(field("CapInh:"), "0000000000000000", "{text}");
}

#[test]
fn detached_exec_with_a_pid_file() {
    let b = Bundle::new("exec sleep 1000");
    running(&b);
    let pid = b.exec_detached(&[], "c1", &["sleep", "1000"]);
    assert!(common::alive(pid));
    // `exec -d` returns once the process runs through the exec trampoline;
    // the program itself follows a moment later.
    let end = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap()
        .trim()
        != "sleep"
    {
        assert!(
            Instant::now() < end,
            "the exec'd process never became sleep"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(b.crust(&["delete", "-f", "c1"]).status.success());
    let end = Instant::now() + Duration::from_secs(5);
    while common::alive(pid) {
        assert!(
            Instant::now() < end,
            "the exec'd process outlived its container's pid namespace"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_process_file_replaces_the_process() {
    let b = Bundle::new("exec sleep 1000");
    running(&b);
    let file = b.dir.path().join("process.json");
    let process = json!({"args": ["sh", "-c", "echo from-file $X; id -u"], "env": ["X=1", "PATH=/bin"], "cwd": "/", "user": {"uid": 5, "gid": 5}});
    std::fs::write(&file, process.to_string()).unwrap();
    let out = exec(&b, &["--process", file.to_str().unwrap(), "c1"]);
    assert_eq!(stdout(&out), "from-file 1\n5\n", "{}", stderr(&out));
    std::fs::write(&file, json!({"args": "sh", "cwd": "/"}).to_string()).unwrap();
    let out = exec(&b, &["--process", file.to_str().unwrap(), "c1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("args"), "{}", stderr(&out));
}

#[test]
fn exec_errors_are_clear() {
    let b = Bundle::new("exec sleep 1000");
    let out = exec(&b, &["ghost", "true"]);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    running(&b);
    let out = exec(&b, &["c1", "no-such-command"]);
    assert_eq!(
        out.status.code(),
        Some(255),
        "runc's code for a failed exec"
    );
    assert!(
        stderr(&out)
            .trim()
            .ends_with("executable file not found in $PATH\""),
        "{}",
        stderr(&out)
    );
    assert!(b.crust(&["kill", "c1", "KILL"]).status.success());
    let end = Instant::now() + Duration::from_secs(5);
    while b.state("c1")["status"] != "stopped" {
        assert!(Instant::now() < end);
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = exec(&b, &["c1", "true"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not running"), "{}", stderr(&out));
}

#[test]
fn exec_with_a_terminal() {
    let b = Bundle::new("exec sleep 1000");
    running(&b);
    let out = exec(
        &b,
        &["-t", "c1", "sh", "-c", "tty; [ -t 0 ] && echo tty-stdin"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("/dev/pts/") && text.contains("tty-stdin"),
        "{text}"
    );
}

#[test]
fn exec_into_a_user_namespace() {
    let mut b = Bundle::new("exec sleep 1000");
    b.with_user_namespace(100000);
    running(&b);
    let out = exec(&b, &["c1", "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("0\n") && text.contains("100000"), "{text}");
}

#[test]
fn exec_forwards_signals_and_reports_them() {
    let b = Bundle::new("exec sleep 1000");
    running(&b);
    b.write();
    let child = b
        .command(&[
            "exec",
            "c1",
            "sh",
            "-c",
            "trap 'exit 9' TERM; while :; do sleep 0.05; done",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for_descendant(child.id().into(), "sleep");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(9));
}

#[test]
fn exec_gets_the_containers_oom_score_adj() {
    let mut b = Bundle::new("exec sleep 1000");
    b.config["process"]["oomScoreAdj"] = json!(123);
    running(&b);
    let out = exec(&b, &["c1", "cat", "/proc/self/oom_score_adj"]);
    assert_eq!(stdout(&out).trim(), "123", "{}", stderr(&out));
}

/// Neither AppArmor nor SELinux runs on the test machines: a label is
/// refused clearly rather than silently not applied (as runc does).
#[test]
fn labels_for_an_absent_security_module_are_refused() {
    let b = Bundle::new("exec sleep 1000");
    running(&b);
    let out = exec(&b, &["--apparmor", "docker-default", "c1", "true"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("process.apparmorProfile: AppArmor is not enabled"),
        "{}",
        stderr(&out)
    );
    let out = exec(
        &b,
        &[
            "--process-label",
            "system_u:system_r:container_t:s0",
            "c1",
            "true",
        ],
    );
    assert!(
        stderr(&out).contains("process.selinuxLabel: SELinux is not enabled"),
        "{}",
        stderr(&out)
    );
    let mut b2 = Bundle::new("true");
    b2.config["process"]["apparmorProfile"] = json!("docker-default");
    b2.assert_fails_cleanly(&["run", "c2"], &["AppArmor is not enabled on this host"]);
}

/// An exec'd process shares the container's `linux.personality` and
/// `linux.memoryPolicy`, as runc gives it.
#[test]
fn exec_applies_the_containers_personality_and_memory_policy() {
    let mut b = Bundle::new("exec sleep 1000");
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
    running(&b);
    let out = exec(
        &b,
        &["c1", "sh", "-c", "uname -m; head -1 /proc/self/numa_maps"],
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&"i686"), "{text}{}", stderr(&out));
    assert_eq!(lines[1].split_whitespace().nth(1), Some("bind:0"), "{text}");
}

/// `exec -p`: the schema requires only `cwd`; without `user` the process
/// is root. Its consoleSize, ioPriority, scheduler and execCPUAffinity
/// apply as they do to the init.
#[test]
fn exec_process_json_takes_what_the_schema_allows() {
    let b = Bundle::new("exec sleep 1000");
    running(&b);
    let file = b.dir.path().join("process.json");
    std::fs::write(
        &file,
        json!({"cwd": "/tmp", "args": ["sh", "-c", "id -u; pwd; ionice -p $$; grep Cpus_allowed_list /proc/self/status"],
               "env": ["PATH=/bin"],
               "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 5},
               "execCPUAffinity": {"initial": "0"}})
        .to_string(),
    )
    .unwrap();
    let out = exec(&b, &["-p", file.to_str().unwrap(), "c1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..3], ["0", "/tmp", "best-effort: prio 5"], "{text}");
    assert!(lines[3].ends_with("\t0"), "{text}");
}

/// `exec -p` checks the process as `create` checks the config's: a CPU
/// list that is not one (oci-spec's pattern, served by regex-lite:
/// crates/regex) is refused naming the field, nothing runs, and the
/// container goes on.
#[test]
fn exec_process_json_with_a_bad_cpu_list_is_refused_naming_the_field() {
    let b = Bundle::new("exec sleep 1000");
    let pid = running(&b);
    for list in ["0-x", "1,,2", "٣"] {
        let file = b.dir.path().join("process.json");
        std::fs::write(
            &file,
            json!({"cwd": "/", "args": ["touch", "/dev/shm/ran"], "env": ["PATH=/bin"],
                   "execCPUAffinity": {"initial": list}})
            .to_string(),
        )
        .unwrap();
        let out = exec(&b, &["-p", file.to_str().unwrap(), "c1"]);
        assert!(!out.status.success(), "{list}");
        let err = common::last_error_line(&out);
        assert!(err.contains("execCPUAffinity"), "{list}: {err}");
    }
    let ls = exec(&b, &["c1", "ls", "/dev/shm"]);
    assert!(ls.status.success(), "{}", stderr(&ls));
    assert!(!stdout(&ls).contains("ran"), "{}", stdout(&ls));
    assert!(common::alive(pid));
    assert_eq!(b.state("c1")["status"], "running");
}

/// runc accepts `--cgroup /` (the container's own cgroup) and refuses a
/// path climbing out with "bad sub cgroup path", said once.
#[test]
fn exec_cgroup_root_is_the_containers_and_dotdot_is_refused() {
    let b = Bundle::new("exec sleep 1000");
    running(&b);
    let own = exec(&b, &["c1", "cat", "/proc/self/cgroup"]);
    let root = exec(&b, &["--cgroup", "/", "c1", "cat", "/proc/self/cgroup"]);
    assert!(root.status.success(), "{}", stderr(&root));
    assert_eq!(stdout(&root), stdout(&own));
    let up = exec(&b, &["--cgroup", "..", "c1", "true"]);
    assert!(!up.status.success());
    let err = stderr(&up);
    assert!(err.contains("bad sub cgroup path"), "{err}");
    assert_eq!(err.matches("bad sub cgroup path").count(), 1, "{err}");
}

/// What `exec` shares with the init's setup, on the exec path: the
/// environment built as runc builds it (each variable once, an empty HOME
/// replaced by the exec user's home: runc's "exec check default home"),
/// a script with a missing interpreter refused with ENOENT (exit 255), and
/// CAP_DAC_OVERRIDE (in all five sets) letting a user other than root run
/// a root-only program. (`exec --cap` alone does not: see
/// docs/conformance.md.)
#[test]
fn exec_builds_the_process_as_the_init_is_built() {
    use std::os::unix::fs::PermissionsExt;
    let b = Bundle::with_own_rootfs("exec sleep 1000");
    let rootfs = b.rootfs();
    std::fs::write(rootfs.join("run.sh"), "#!/mmnnttbb\n").unwrap();
    std::fs::set_permissions(
        rootfs.join("run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::create_dir_all(rootfs.join("opt")).unwrap();
    std::fs::copy(rootfs.join("bin/busybox"), rootfs.join("opt/echo")).unwrap();
    std::fs::set_permissions(
        rootfs.join("opt/echo"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    running(&b);
    let out = exec(
        &b,
        &[
            "-e", "ONE=a", "-e", "ONE=b", "-e", "HOME=", "--user", "1000", "c1", "env",
        ],
    );
    let text = stdout(&out);
    assert_eq!(text.matches("ONE=").count(), 1, "{text}");
    assert!(
        text.contains("ONE=b\n") && text.contains("HOME=/home/user\n"),
        "{text}"
    );

    let out = exec(&b, &["c1", "/run.sh"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        common::last_error_line(&out).contains("/run.sh")
            && stderr(&out).contains("No such file or directory"),
        "{}",
        stderr(&out)
    );

    // As runc's start_hello test grants it: in all five sets.
    let file = b.dir.path().join("dac.json");
    let dac = ["CAP_DAC_OVERRIDE"];
    std::fs::write(
        &file,
        json!({"cwd": "/", "args": ["/opt/echo", "ran"], "user": {"uid": 1000, "gid": 1000},
               "capabilities": {"bounding": dac, "effective": dac, "permitted": dac,
                                "inheritable": dac, "ambient": dac}})
        .to_string(),
    )
    .unwrap();
    let out = exec(&b, &["-p", file.to_str().unwrap(), "c1"]);
    assert_eq!(stdout(&out), "ran\n", "{}", stderr(&out));
    let out = exec(&b, &["--user", "1000", "c1", "/opt/echo", "ran"]);
    assert_eq!(out.status.code(), Some(255), "{}", stdout(&out));
}
