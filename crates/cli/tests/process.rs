//! `process` and namespace settings, checked from inside the container.

mod common;

use common::{stderr, stdout, Bundle};
use serde_json::json;

fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("{key} missing"))
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn user_groups_umask_cwd_env() {
    let mut b = Bundle::new("id -u; id -g; id -G; umask; pwd; echo $FOO; echo $HOME");
    b.config["process"]["user"] =
        json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 63});
    b.config["process"]["cwd"] = json!("/tmp");
    b.config["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!("FOO=bar baz"));
    let out = b.output_of("c1");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000");
    assert_eq!(lines[1], "1000");
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["1000", "10", "20"]
    );
    assert_eq!(lines[3], "0077");
    assert_eq!(lines[4], "/tmp");
    assert_eq!(lines[5], "bar baz");
    assert_eq!(
        lines[6], "/home/user",
        "HOME comes from the container's /etc/passwd"
    );
}

#[test]
fn capabilities_and_no_new_privileges() {
    let mut b = Bundle::new("cat /proc/self/status");
    b.as_configured = true;
    let status = b.output_of("c1");
    // runc's default: AUDIT_WRITE(29), KILL(5), NET_BIND_SERVICE(10).
    let expected = format!("{:016x}", (1u64 << 29) | (1 << 5) | (1 << 10));
    assert_eq!(status_field(&status, "CapEff:"), expected);
    assert_eq!(status_field(&status, "CapPrm:"), expected);
    assert_eq!(status_field(&status, "CapBnd:"), expected);
    assert_eq!(status_field(&status, "CapInh:"), "0000000000000000");
    assert_eq!(status_field(&status, "NoNewPrivs:"), "1");

    let mut b = Bundle::new("cat /proc/self/status");
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.set_capabilities(&common::ALL_SETS, &["CAP_SYS_ADMIN", "CAP_CHOWN"]);
    let status = b.output_of("c2");
    let expected = format!("{:016x}", (1u64 << 21) | 1);
    for key in ["CapEff:", "CapPrm:", "CapBnd:", "CapInh:", "CapAmb:"] {
        assert_eq!(status_field(&status, key), expected, "{key}");
    }
    assert_eq!(status_field(&status, "NoNewPrivs:"), "0");
}

#[test]
fn rlimits_and_oom_score_adj() {
    let mut b = Bundle::new("cat /proc/self/limits; cat /proc/self/oom_score_adj");
    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456},
        {"type": "RLIMIT_NPROC", "soft": 77, "hard": 88}
    ]);
    b.config["process"]["oomScoreAdj"] = json!(345);
    let out = b.output_of("c1");
    let files = out
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        files.split_whitespace().collect::<Vec<_>>()[3..5],
        ["123", "456"]
    );
    let procs = out
        .lines()
        .find(|l| l.starts_with("Max processes"))
        .unwrap();
    assert_eq!(
        procs.split_whitespace().collect::<Vec<_>>()[2..4],
        ["77", "88"]
    );
    assert_eq!(out.lines().last().unwrap(), "345");
}

#[test]
fn hostname_domainname_and_new_namespaces() {
    let mut b = Bundle::new("hostname; cat /proc/sys/kernel/domainname; for n in net ipc uts mnt pid; do readlink /proc/self/ns/$n; done; echo $$");
    b.config["hostname"] = json!("box");
    b.config["domainname"] = json!("example.org");
    let out = b.output_of("c1");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "box");
    assert_eq!(lines[1], "example.org");
    for (i, ns) in ["net", "ipc", "uts", "mnt", "pid"].iter().enumerate() {
        let host = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        assert_ne!(
            lines[2 + i],
            host.to_str().unwrap(),
            "{ns} namespace is not new"
        );
    }
    assert_eq!(lines[7], "1", "the process is pid 1 of its pid namespace");
}

#[test]
fn joins_a_network_namespace_by_path() {
    let holder = std::process::Command::new("unshare")
        .args(["--net", "sleep", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let path = format!("/proc/{}/ns/net", holder.id());
    let expected = std::fs::read_link(&path).unwrap();
    let mut b = Bundle::new("readlink /proc/self/ns/net");
    for ns in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "network" {
            ns["path"] = json!(path);
        }
    }
    let out = b.output_of("c1");
    let mut holder = holder;
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(out.trim(), expected.to_str().unwrap());
}

#[test]
fn a_namespace_path_of_the_wrong_type_is_refused() {
    let mut b = Bundle::new("true");
    for ns in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "network" {
            ns["path"] = json!("/proc/self/ns/ipc");
        }
    }
    b.assert_fails_cleanly(&["run", "c1"], &["is not a network namespace"]);
}

#[test]
fn user_namespace_with_mappings() {
    let mut b = Bundle::new(
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; readlink /proc/self/ns/user; ls -l /dev/null /dev/net/tun | awk '{print $1, $5, $6, $NF}'; grep -c /dev/net/tun /proc/self/mountinfo",
    );
    b.with_user_namespace(100000);
    // mknod is not allowed in a user namespace: devices are bound from the
    // host.
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200}]);
    // sysfs needs the network namespace to be owned by the user namespace,
    // which it is; the shared rootfs is owned by host root (unmapped), which
    // only matters for writes.
    let out = b.output_of("c1");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_eq!(lines[2], "0");
    // ls sorts its operands: /dev/net/tun comes first.
    assert!(
        lines[4].starts_with("crw") && lines[4].contains("10, 200 /dev/net/tun"),
        "{out}"
    );
    assert!(
        lines[5].starts_with("crw") && lines[5].contains("1, 3 /dev/null"),
        "{out}"
    );
    assert_eq!(lines[6], "1", "/dev/net/tun is a bind mount: {out}");
    assert_ne!(
        lines[3],
        std::fs::read_link("/proc/self/ns/user")
            .unwrap()
            .to_str()
            .unwrap()
    );
}

#[test]
fn time_namespace_with_offsets() {
    let mut b = Bundle::new("cat /proc/self/timens_offsets; cut -d. -f1 /proc/uptime");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    b.config["linux"]["timeOffsets"] =
        json!({"boottime": {"secs": 86400, "nanosecs": 0}, "monotonic": {"secs": 3600}});
    let out = b.output_of("c1");
    assert!(out.contains("monotonic") && out.contains("3600"), "{out}");
    assert!(out.contains("boottime") && out.contains("86400"), "{out}");
    let host_uptime: u64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let inside: u64 = out.lines().last().unwrap().parse().unwrap();
    assert!(
        inside >= host_uptime + 86400 - 5,
        "uptime {inside} vs host {host_uptime}"
    );
}

#[test]
fn only_stdio_and_preserved_fds_reach_the_container() {
    let b = Bundle::new("ls /proc/self/fd | sort -n | tr '\\n' ' '; cat <&3");
    b.write();
    let payload = b.dir.path().join("payload");
    std::fs::write(&payload, "from fd 3").unwrap();
    // fd 3 is preserved; fds 4 and 5 are open in crust's caller too and
    // must not leak (CVE-2024-21626).
    let script = format!(
        "exec 3<{p} 4<{p} 5</; exec {crust} --root {root} run --preserve-fds 1 c1",
        p = payload.display(),
        crust = common::CRUST,
        root = b.root.display()
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(b.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = common::stdout(&out);
    // ls itself opens one more descriptor for /proc/self/fd.
    assert!(text.starts_with("0 1 2 3 4 "), "{text}");
    assert!(!text.starts_with("0 1 2 3 4 5"), "{text}");
    assert!(text.ends_with("from fd 3"), "{text}");
}

#[test]
fn session_keyring_is_the_containers_own() {
    // /proc/keys lists the keyrings the process possesses, by name.
    let script = "grep -o ' keyring-id-[0-9a-z]*:' /proc/keys || echo none";
    let mut b = Bundle::new(script);
    b.config["linux"]["maskedPaths"] = json!([]);
    assert_eq!(b.output_of("keyring-id-a").trim(), "keyring-id-a:");
    let mut b = Bundle::new(script);
    b.config["linux"]["maskedPaths"] = json!([]);
    let out = b.crust(&["run", "--no-new-keyring", "keyring-id-b"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !common::stdout(&out).contains("keyring-id-b"),
        "{}",
        common::stdout(&out)
    );
}

/// A long-lived holder of namespaces, like a pod's infra container.
struct Holder(std::process::Child);

impl Holder {
    fn spawn(args: &[&str]) -> Holder {
        let child = std::process::Command::new("unshare")
            .args(args)
            .args(["sleep", "60"])
            .spawn()
            .unwrap();
        // unshare execs sleep once its namespaces exist.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::read_to_string(format!("/proc/{}/comm", child.id()))
            .unwrap_or_default()
            .trim()
            != "sleep"
        {
            assert!(
                std::time::Instant::now() < deadline,
                "unshare did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Holder(child)
    }

    fn ns(&self, kind: &str) -> String {
        format!("/proc/{}/ns/{kind}", self.0.id())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn new_namespaces_inside_a_joined_user_namespace() {
    // The pod's infra container: a user namespace of its own.
    let mut infra = Bundle::new("exec sleep 60");
    infra.with_user_namespace(200000);
    assert!(infra.crust(&["run", "-d", "infra"]).status.success());
    let user_ns = format!("/proc/{}/ns/user", infra.state("infra")["pid"]);
    let mut b = Bundle::new("cat /proc/self/uid_map; readlink /proc/self/ns/user; echo $$; id -u");
    b.join_namespace("user", &user_ns);
    let out = b.output_of("c1");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["0", "200000", "65536"]
    );
    assert_eq!(
        lines[1],
        std::fs::read_link(&user_ns).unwrap().to_str().unwrap()
    );
    assert_eq!(
        lines[2], "1",
        "a new pid namespace, made inside the joined user namespace"
    );
    assert_eq!(lines[3], "0");
}

#[test]
fn a_new_user_namespace_with_a_joined_network_namespace() {
    let holder = Holder::spawn(&["--net"]);
    let mut b = Bundle::new("cat /proc/self/uid_map; readlink /proc/self/ns/net; echo $$");
    b.with_user_namespace(300000);
    b.join_namespace("network", &holder.ns("net"));
    // sysfs belongs to the network namespace's owner (the host): bind it.
    for m in b.config["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "bind", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        }
    }
    let out = b.output_of("c1");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["0", "300000", "65536"]
    );
    assert_eq!(
        lines[1],
        std::fs::read_link(holder.ns("net"))
            .unwrap()
            .to_str()
            .unwrap()
    );
    assert_eq!(lines[2], "1");

    // With the config's own sysfs mount: the kernel refuses a new sysfs
    // there (the host owns the network namespace); crust binds the host's,
    // as runc does.
    let mut b =
        Bundle::new("ls /sys/kernel >/dev/null && echo sys-there; readlink /proc/self/ns/net");
    b.with_user_namespace(300000);
    b.join_namespace("network", &holder.ns("net"));
    let out = b.output_of("c2");
    assert!(out.starts_with("sys-there\n"), "{out}");
}

/// runc's "userns with inaccessible mounts": a bind source only the host's
/// root may enter (mode 0700) is reachable by the runtime, not by the
/// init once it is root only in its user namespace. crust opens it before
/// the user namespace exists, and the container sees its files (as their
/// unmapped owner, nobody).
#[test]
fn userns_bind_sources_only_the_runtime_can_reach() {
    use std::os::unix::fs::PermissionsExt;
    let outer = tempfile::tempdir().unwrap();
    std::fs::set_permissions(outer.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let src = outer.path().join("volume");
    std::fs::create_dir(&src).unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(src.join("f"), "inside\n").unwrap();
    std::fs::set_permissions(src.join("f"), std::fs::Permissions::from_mode(0o644)).unwrap();
    // On a directory the image has: the rootfs belongs to the host's root,
    // unmapped in there, so the init could not make one.
    let mut b = Bundle::new("cat /root/f");
    b.with_user_namespace(100000);
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/root", "type": "bind", "source": src, "options": ["bind", "ro"]}),
    );
    assert_eq!(b.output_of("c1"), "inside\n");
}

/// CVE-2024-21626: a cwd naming one of the runtime's descriptors through
/// /proc/self/fd must not leave the process outside the container. A naive
/// runtime that kept a host directory fd open at chdir time would start the
/// process in the host's filesystem.
#[test]
fn a_cwd_through_proc_self_fd_stays_inside() {
    for fd in 3..12 {
        let mut b = Bundle::new("pwd; ls /proc/self/cwd/ >/dev/null && echo listed");
        b.config["process"]["cwd"] = json!(format!("/proc/self/fd/{fd}"));
        let out = b.run("c1");
        if out.status.success() {
            let pwd = common::stdout(&out);
            assert!(
                pwd.starts_with('/') && !pwd.contains("unreachable"),
                "fd {fd}: {pwd}"
            );
        } else {
            assert!(
                stderr(&out).contains("process.cwd"),
                "fd {fd}: {}",
                stderr(&out)
            );
        }
        assert_eq!(b.state_dirs(), 0);
    }
}

/// /proc/self/stat fields (1-based, as proc(5) numbers them) of the
/// container's shell.
fn stat_field(stat: &str, n: usize) -> String {
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split_whitespace().nth(n - 3).unwrap().to_string()
}

#[test]
fn io_priority_scheduler_affinity_and_personality() {
    let mut b = Bundle::new(
        "ionice -p $$; cat /proc/self/stat; grep Cpus_allowed_list /proc/self/status; uname -m",
    );
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    b.config["process"]["execCPUAffinity"] = json!({"initial": "0", "final": "0"});
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    let out = b.output_of("c1");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "best-effort: prio 6", "{out}");
    assert_eq!(stat_field(lines[1], 19), "7", "nice: {out}");
    assert_eq!(stat_field(lines[1], 41), "3", "policy SCHED_BATCH: {out}");
    assert!(lines[2].ends_with("\t0"), "{out}");
    assert_eq!(lines[3], "i686", "{out}");

    let mut b = Bundle::new("ionice -p $$; cat /proc/self/stat");
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_IDLE"});
    let out = b.output_of("c2");
    assert!(out.starts_with("idle"), "{out}");
    assert_eq!(
        stat_field(out.lines().nth(1).unwrap(), 41),
        "5",
        "policy SCHED_IDLE: {out}"
    );

    let mut b = Bundle::new("true");
    b.config["process"]["execCPUAffinity"] = json!({"final": "x-1"});
    b.assert_fails_cleanly(&["run", "c3"], &["process.execCPUAffinity.final"]);
}

#[test]
fn memory_policy_is_the_processes() {
    let mut b = Bundle::new("head -1 /proc/self/numa_maps");
    b.config["linux"]["memoryPolicy"] =
        json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]});
    let out = b.output_of("c1");
    assert_eq!(
        out.split_whitespace().nth(1),
        Some("bind=static:0"),
        "{out}"
    );
    let mut b = Bundle::new("true");
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0-x"});
    b.assert_fails_cleanly(&["run", "c2"], &["linux.memoryPolicy.nodes"]);
}

/// A host veth end moved into the container, renamed, its permanent
/// address carried over, and set up. (192.0.2.0/24 is TEST-NET-1: no
/// traffic is sent.)
#[test]
fn net_devices_are_moved_renamed_addressed_and_up() {
    let (a, b_end) = (
        format!("cva{}", std::process::id()),
        format!("cvb{}", std::process::id()),
    );
    let ip = |args: &[&str]| {
        std::process::Command::new("ip")
            .args(args)
            .status()
            .unwrap()
    };
    assert!(ip(&["link", "add", &a, "type", "veth", "peer", "name", &b_end]).success());
    assert!(ip(&["addr", "add", "192.0.2.1/24", "dev", &a]).success());
    let mut b = Bundle::new("ip -o addr show eth7; ip -o link show eth7");
    b.config["linux"]["netDevices"] = json!({ a.as_str(): {"name": "eth7"} });
    let out = b.run("c1");
    let _ = ip(&["link", "del", &b_end]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = common::stdout(&out);
    assert!(text.contains("inet 192.0.2.1/24"), "{text}");
    assert!(text.contains(",UP") || text.contains("<UP"), "{text}");
    assert!(
        !std::path::Path::new(&format!("/sys/class/net/{a}")).exists(),
        "the device left the host"
    );

    let mut b = Bundle::new("true");
    b.config["linux"]["netDevices"] = json!({"no-such-dev0": {}});
    b.assert_fails_cleanly(
        &["run", "c2"],
        &["no-such-dev0", "no such device on the host"],
    );
}

/// systemd socket activation: LISTEN_FDS descriptors meant for crust
/// (LISTEN_PID) reach the container, which is told LISTEN_FDS=N and
/// LISTEN_PID=1, as runc does.
#[test]
fn socket_activation_fds_are_passed_on() {
    let b = Bundle::new("echo $LISTEN_FDS $LISTEN_PID; cat <&3; cat <&4");
    b.write();
    let (one, two) = (b.dir.path().join("one"), b.dir.path().join("two"));
    std::fs::write(&one, "first ").unwrap();
    std::fs::write(&two, "second").unwrap();
    // exec keeps the shell's pid, so LISTEN_PID names crust itself.
    let script = format!(
        "exec 3<{} 4<{}; export LISTEN_FDS=1 LISTEN_PID=$$; exec {} --root {} run --preserve-fds 1 c1",
        one.display(),
        two.display(),
        common::CRUST,
        b.root.display()
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(b.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(common::stdout(&out), "1 1\nfirst second");
}

/// Capabilities crust or the kernel does not know are warned about and
/// skipped (config.md: the runtime MUST NOT fail), the rest applied.
#[test]
fn unknown_capabilities_are_warned_about_and_skipped() {
    let mut b = Bundle::new("grep CapBnd /proc/self/status");
    b.set_capabilities(
        &["bounding", "effective", "permitted"],
        &["CAP_CHOWN", "CAP_FUTURE_MAGIC"],
    );
    let out = b.run("c1");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0000000000000001"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("level=warning") && err.contains("CAP_FUTURE_MAGIC"),
        "{err}"
    );
}

/// A user other than root holding CAP_DAC_OVERRIDE may execute a program
/// only root can read and execute (mode 0700), as execve(2) lets it: crust
/// judges executability with the process's effective credentials.
#[test]
fn cap_dac_override_lets_a_user_run_a_root_only_program() {
    use std::os::unix::fs::PermissionsExt;
    let mut b = Bundle::with_own_rootfs("true");
    let prog = b.rootfs().join("opt/echo");
    std::fs::create_dir_all(prog.parent().unwrap()).unwrap();
    std::fs::copy(b.rootfs().join("bin/busybox"), &prog).unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o700)).unwrap();
    b.config["process"]["args"] = json!(["/opt/echo", "ran"]);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.set_capabilities(&common::ALL_SETS, &["CAP_DAC_OVERRIDE"]);
    assert_eq!(b.output_of("c1"), "ran\n");
    b.set_capabilities(&["effective", "permitted", "inheritable", "ambient"], &[]);
    b.assert_fails_cleanly(&["run", "c2"], &["/opt/echo"]);
}

/// runc changes to `cwd` before the uid change when it can (a directory
/// only root may enter still works for a user other than root), and after
/// it otherwise.
#[test]
fn cwd_only_root_can_enter_still_works_for_a_user() {
    use std::os::unix::fs::PermissionsExt;
    let mut b = Bundle::with_own_rootfs("pwd; id -u");
    let dir = b.rootfs().join("private");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    b.config["process"]["cwd"] = json!("/private");
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    assert_eq!(b.output_of("c1"), "/private\n1000\n");

    b.config["process"]["args"] = json!(["sleep", "1000"]);
    b.config["process"]["cwd"] = json!("/");
    assert!(b.crust(&["run", "-d", "c2"]).status.success());
    let out = b.crust(&["exec", "--user", "1000", "--cwd", "/private", "c2", "pwd"]);
    assert_eq!(stdout(&out), "/private\n", "{}", stderr(&out));
    b.crust(&["delete", "--force", "c2"]);
}

/// `process.scheduler.flags` as the spec spells them: with
/// SCHED_FLAG_RESET_ON_FORK the shell runs at nice -5 and the programs it
/// starts are reset to nice 0 (sched(7)).
#[test]
fn scheduler_flags_as_the_spec_spells_them() {
    let mut b = Bundle::new("cat /proc/$$/stat; cat /proc/self/stat; true");
    b.config["process"]["scheduler"] =
        json!({"policy": "SCHED_OTHER", "nice": -5, "flags": ["SCHED_FLAG_RESET_ON_FORK"]});
    let out = b.output_of("c1");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(stat_field(lines[0], 19), "-5", "the shell: {out}");
    assert_eq!(stat_field(lines[1], 19), "0", "its child, reset: {out}");
}

/// A runtime started pinned to one CPU (taskset, a pinned kubelet or
/// shim) does not pass its pin on: the container's process may use every
/// CPU its cgroup allows, for run and exec, unless execCPUAffinity says
/// otherwise.
#[test]
fn the_callers_cpu_pin_is_not_inherited() {
    let cpus = std::fs::read_to_string("/sys/fs/cgroup/cpuset/cpuset.cpus")
        .or_else(|_| std::fs::read_to_string("/sys/fs/cgroup/cpuset.cpus.effective"))
        .unwrap_or_else(|_| format!("0-{}", num_cpus() - 1));
    let all = cpus.trim().to_string();
    let pinned = |b: &Bundle, args: &[&str]| {
        b.write();
        let cmd = b.command(args);
        let mut taskset = std::process::Command::new("taskset");
        taskset
            .arg("-c")
            .arg("0")
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .current_dir(b.dir.path());
        common::output_via_files(&mut taskset)
    };
    let b = Bundle::new("grep Cpus_allowed_list /proc/self/status");
    let out = pinned(&b, &["run", "c1"]);
    assert_eq!(
        stdout(&out).trim(),
        format!("Cpus_allowed_list:\t{all}"),
        "{}",
        stderr(&out)
    );

    let mut b = Bundle::new("exec sleep 1000");
    assert!(pinned(&b, &["run", "-d", "c2"]).status.success());
    let out = pinned(
        &b,
        &[
            "exec",
            "c2",
            "grep",
            "Cpus_allowed_list",
            "/proc/self/status",
        ],
    );
    assert_eq!(stdout(&out).trim(), format!("Cpus_allowed_list:\t{all}"));
    b.crust(&["delete", "--force", "c2"]);

    b.config["process"]["args"] = json!(["grep", "Cpus_allowed_list", "/proc/self/status"]);
    b.config["process"]["execCPUAffinity"] = json!({"initial": "0"});
    let out = pinned(&b, &["run", "c3"]);
    assert!(
        stdout(&out).contains("Cpus_allowed_list:\t0"),
        "{}",
        stdout(&out)
    );
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// An ambient capability the kernel cannot raise (not both permitted and
/// inheritable) is skipped with runc's warning, for root as for any user;
/// one it can is raised.
#[test]
fn ambient_capabilities_that_cannot_be_raised_are_warned_about() {
    let mut b = Bundle::new("grep CapAmb /proc/self/status");
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let caps = &mut b.config["process"]["capabilities"];
    caps["ambient"] = json!(["CAP_KILL", "CAP_NET_RAW"]);
    caps["inheritable"] = json!(["CAP_KILL"]);
    let out = b.run("c1");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("CapAmb:\t{:016x}", 1u64 << 5),
        "KILL raised, NET_RAW not"
    );
    let err = stderr(&out);
    assert!(
        err.contains("level=warning")
            && err.contains("can't raise ambient capability CAP_NET_RAW: ")
            && !err.contains("capability CAP_KILL:"),
        "{err}"
    );

    // runc's "[ambient caps not set in inheritable result in a warning]",
    // as root.
    let mut b = Bundle::new("grep CapAmb /proc/self/status");
    let caps = &mut b.config["process"]["capabilities"];
    caps["inheritable"] = json!(["CAP_KILL"]);
    caps["ambient"] = json!(["CAP_KILL", "CAP_CHOWN"]);
    let out = b.run("c2");
    assert_eq!(stdout(&out).trim(), format!("CapAmb:\t{:016x}", 1u64 << 5));
    assert!(
        stderr(&out).contains("can't raise ambient capability CAP_CHOWN: "),
        "{}",
        stderr(&out)
    );
}

/// runc's env tests: every variable once, with its last value; an empty
/// HOME (even after a non-empty one) is the user's home from /etc/passwd;
/// a value with a newline is passed as it is.
#[test]
fn the_environment_as_runc_builds_it() {
    let mut b = Bundle::new("");
    b.config["process"]["args"] = json!(["env"]);
    b.config["process"]["env"] = json!([
        "PATH=/bin",
        "ONE=two",
        "ONE=three",
        "HOME=/override",
        "HOME=",
        "NL=a\nb"
    ]);
    let out = b.output_of("c1");
    assert_eq!(out, "PATH=/bin\nONE=three\nNL=a\nb\nHOME=/root\n");
}

/// runc's "[execve error]": a script whose interpreter is missing fails
/// with execve's ENOENT, one error line naming the script, and at create
/// (crust checks the `#!` line before the process is released).
#[test]
fn a_script_with_a_missing_interpreter_fails_at_create() {
    use std::os::unix::fs::PermissionsExt;
    let mut b = Bundle::with_own_rootfs("true");
    let script = b.rootfs().join("run.sh");
    std::fs::write(&script, "#!/mmnnttbb foo bar\nsh\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    b.config["process"]["args"] = json!(["/run.sh"]);
    b.assert_fails_cleanly(
        &["create", "c1"],
        &["exec", "/run.sh", "No such file or directory"],
    );
    // With its interpreter there, it runs.
    std::fs::write(&script, "#!/bin/sh\necho ran\n").unwrap();
    assert_eq!(b.output_of("c2"), "ran\n");
}

/// As runc does for every process it starts, the init and each exec'd
/// process lead a session of their own, inside the container's pid
/// namespace (CRIU refuses to dump a tree whose session leader is outside
/// it).
#[test]
fn the_init_and_exec_processes_lead_their_own_sessions() {
    let b = Bundle::new("sleep 1000");
    let out = b.crust(&["run", "-d", "s1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The exec'd shell's session is its own pid (0 would be a session
    // outside the namespace).
    let out = b.crust(&[
        "exec",
        "s1",
        "sh",
        "-c",
        "echo $$; cut -d' ' -f6 /proc/$$/stat",
    ]);
    let v: Vec<String> = stdout(&out)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!(v[0], v[1], "the exec'd shell does not lead its session");
    let out = b.crust(&["exec", "s1", "cut", "-d ", "-f6", "/proc/1/stat"]);
    assert_eq!(
        stdout(&out).trim(),
        "1",
        "the init does not lead its session"
    );
    let _ = b.crust(&["delete", "-f", "s1"]);
}

/// A standard descriptor on the host's /dev/null (an engine's detached
/// container gets it as stdin) becomes the container's own /dev/null, as
/// runc does: CRIU cannot checkpoint a file of a mount outside the
/// container. Pipes are left as they are.
#[test]
fn stdio_on_the_hosts_dev_null_is_the_containers_own() {
    let b = Bundle::new(
        "stat -Lc %d:%i /proc/self/fd/0; stat -c %d:%i /dev/null; stat -Lc %F /proc/self/fd/1",
    );
    // The harness runs crust with stdin on the host's /dev/null, stdout
    // on a file.
    let out = b.run("n1");
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], lines[1], "stdin is not the container's /dev/null");
    assert_eq!(lines[2], "regular file", "stdout was replaced");
}
