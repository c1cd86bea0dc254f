//! Runtime CVEs replayed: each test builds the hostile image or config,
//! runs crust, and shows the host was not touched. The CVEs whose replay
//! sits next to the feature it attacks (rootfs.rs, process.rs, exec.rs,
//! rootless.rs) are listed with these in docs/security.md. Each test says
//! what a naive runtime would do, and so why it would fail there.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{stderr, Bundle};
use serde_json::json;

fn digest(path: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::read(path).unwrap().hash(&mut h);
    h.finish()
}

fn ok(out: &std::process::Output) {
    assert!(out.status.success(), "{}", stderr(out));
}

/// CVE-2019-5736: an image whose program is a script with
/// `#!/proc/self/exe` as its interpreter. While crust's `execve` runs,
/// /proc/self/exe is the binary doing it: a naive runtime that executes
/// the program itself runs its own host binary inside the container (it
/// prints crust's usage error here), where a container process can open
/// /proc/PID/exe and write the host binary once the runtime exits. crust
/// executes programs through a sealed memfd trampoline: that is all the
/// container ever sees, and it cannot be written.
#[test]
fn cve_2019_5736_the_runtime_binary_never_runs_in_the_container() {
    let crust = std::fs::canonicalize(common::CRUST).unwrap();
    let before = digest(&crust);
    let b = Bundle::with_own_rootfs("exec sleep 1000");
    let evil = b.rootfs().join("bin/evil");
    std::fs::write(&evil, "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(&evil, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    ok(&b.crust(&["run", "-d", "c1"]));
    let err_log = b.dir.path().join("exec.err");
    let mut exec = b
        .command(&["exec", "c1", "/bin/evil"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err_log).unwrap())
        .spawn()
        .unwrap();
    // The trampoline executes the script, whose interpreter is the
    // trampoline again: the process loops between the two. Watch what its
    // /proc/PID/exe is.
    let mut seen = Vec::new();
    let end = Instant::now() + Duration::from_millis(500);
    while Instant::now() < end {
        for pid in common::descendants(i64::from(exec.id())) {
            // crust's own exec child, before it executes anything, is
            // crust (with crust's command line, and non-dumpable): not what
            // this is about. A script interpreter has the script's.
            let Ok(target) = std::fs::read_link(format!("/proc/{pid}/exe")) else {
                continue;
            };
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let still = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
            if cmdline.starts_with(common::CRUST.as_bytes()) || still.as_ref() != Some(&target) {
                continue;
            }
            {
                let is_memfd = |p: &PathBuf| p.to_string_lossy().starts_with("/memfd:");
                if is_memfd(&target) && !seen.iter().any(is_memfd) {
                    // Sealed: the host cannot write it either.
                    let write = std::fs::OpenOptions::new()
                        .write(true)
                        .open(format!("/proc/{pid}/exe"))
                        .and_then(|mut f| std::io::Write::write_all(&mut f, b"x"));
                    assert!(write.is_err(), "the trampoline was writable");
                }
                seen.push(target);
            }
        }
    }
    exec.kill().unwrap();
    exec.wait().unwrap();
    ok(&b.crust(&["delete", "--force", "c1"]));
    let err = std::fs::read_to_string(&err_log).unwrap();
    assert!(
        !err.contains("Usage"),
        "crust ran as the interpreter: {err}"
    );
    assert!(
        !seen.contains(&crust),
        "crust's binary ran in the container"
    );
    assert!(
        seen.iter()
            .any(|t| t.to_string_lossy().starts_with("/memfd:crust-dmz")),
        "the program did not run through the trampoline: {seen:?}"
    );
    assert_eq!(digest(&crust), before);
}

/// CVE-2021-30465: a mount destination swapped between a directory and a
/// symlink to a host directory while the container is being set up. A
/// naive runtime that checks the destination and then mounts (or
/// `mkdir -p`s) by path follows the symlink it finds at that moment and
/// writes on the host. crust resolves every component with
/// RESOLVE_IN_ROOT and mounts onto the descriptor it resolved, so the
/// absolute symlink lands inside the rootfs whenever it wins the race.
#[test]
fn cve_2021_30465_a_destination_swapped_for_a_symlink_stays_inside() {
    let victim = tempfile::tempdir().unwrap();
    let mut b = Bundle::with_own_rootfs("true");
    let mnt = b.rootfs().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    for i in 0..8 {
        b.config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": format!("/mnt/race{i}/sub"),
            "type": "tmpfs",
            "source": "tmpfs"
        }));
    }
    b.write();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for i in 0..8 {
                    let p = mnt.join(format!("race{i}"));
                    let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
                    let _ = std::os::unix::fs::symlink(victim.path(), &p);
                    let _ = std::fs::remove_file(&p);
                    let _ = std::fs::create_dir(&p);
                }
            }
        });
        for round in 0..20 {
            let id = format!("race-{round}");
            // Either outcome of a round is fine; only the host matters.
            let _ = b.crust(&["run", &id]);
            let _ = b.crust(&["delete", "--force", &id]);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(
        std::fs::read_dir(victim.path()).unwrap().count(),
        0,
        "a directory was created on the host"
    );
}

/// CVE-2019-18837 (buildah/runc class): a chain of symlinks in the image,
/// each one relative and harmless-looking, that together climb far above
/// the rootfs. A naive `mkdir -p` on the joined path follows the chain
/// out; crust's resolution clamps `..` at the container's root.
#[test]
fn cve_2019_18837_a_symlink_chain_cannot_climb_out() {
    let victim = tempfile::tempdir().unwrap();
    let mut b = Bundle::with_own_rootfs("ls -d /a/made");
    let root = b.rootfs();
    std::os::unix::fs::symlink("b/c", root.join("a")).unwrap();
    std::fs::create_dir(root.join("b")).unwrap();
    std::os::unix::fs::symlink("../d", root.join("b/c")).unwrap();
    std::os::unix::fs::symlink(
        format!(
            "../../../../../../../../../../..{}",
            victim.path().display()
        ),
        root.join("d"),
    )
    .unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/a/made/here", "type": "tmpfs", "source": "tmpfs"}));
    let out = b.run("c1");
    ok(&out);
    assert_eq!(
        std::fs::read_dir(victim.path()).unwrap().count(),
        0,
        "the chain reached the host"
    );
}

/// CVE-2019-19921 / CVE-2023-27561: `/proc` in the container is not a
/// procfs but a volume (a bind of a host directory laid out like /proc),
/// so that the runtime's writes to /proc (sysctls here; LSM labels in the
/// CVEs) go to files the attacker chose. A naive runtime writes through
/// the path; crust writes only through a procfs it verified (statfs magic,
/// root inode), and refuses.
#[test]
fn cve_2019_19921_a_fake_proc_volume_gets_no_writes() {
    let fake = tempfile::tempdir().unwrap();
    let target = fake.path().join("sys/kernel");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("shmmni"), "untouched").unwrap();
    let mut b = Bundle::new("true");
    b.remove_mount("/proc");
    b.config["mounts"].as_array_mut().unwrap().insert(
        0,
        json!({"destination": "/proc", "type": "bind", "source": fake.path(), "options": ["rbind"]}),
    );
    b.config["linux"]["sysctl"] = json!({"kernel.shmmni": "1234"});
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    b.assert_fails_cleanly(&["run", "c1"], &["procfs"]);
    assert_eq!(
        std::fs::read_to_string(target.join("shmmni")).unwrap(),
        "untouched"
    );
}

/// The bounding set of `pid`, from the host's procfs.
fn bounding_set(pid: i64) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim();
    u64::from_str_radix(hex, 16).unwrap()
}

/// An image's own `/proc/sys/kernel/cap_last_cap` (the config mounts no
/// procfs) says the kernel knows no capability above CAP_CHOWN. Trusted,
/// it would keep every other one in the bounding set, for a setuid or
/// file-capable binary to get back. The runtime reads the number from its
/// own procfs: the container's process, and one exec'd into it, have
/// exactly the configured bounding set; for root without
/// `noNewPrivileges` started by `run`, and for a non-root user with it,
/// the host's network namespace, by `create` and `start`.
#[test]
fn an_images_cap_last_cap_leaves_no_capability_in_the_bounding_set() {
    for (id, non_root) in [("c1", false), ("c2", true)] {
        let mut b = Bundle::with_own_rootfs("sleep 100");
        b.remove_mount("/proc");
        b.config["linux"]["maskedPaths"] = json!([]);
        b.config["linux"]["readonlyPaths"] = json!([]);
        b.set_capabilities(
            &[
                "bounding",
                "effective",
                "permitted",
                "inheritable",
                "ambient",
            ],
            &["CAP_KILL"],
        );
        b.config["process"]["noNewPrivileges"] = json!(non_root);
        if non_root {
            b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
            b.config["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "network");
        }
        let kernel = b.rootfs().join("proc/sys/kernel");
        std::fs::create_dir_all(&kernel).unwrap();
        std::fs::write(kernel.join("cap_last_cap"), "0\n").unwrap();
        if non_root {
            ok(&b.crust(&["create", id]));
            ok(&b.crust(&["start", id]));
        } else {
            ok(&b.crust(&["run", "-d", id]));
        }
        let init = b.state(id)["pid"].as_i64().unwrap();
        let exec = b.exec_detached(&[], id, &["sleep", "100"]);
        for pid in [init, exec] {
            assert_eq!(bounding_set(pid), 1 << 5, "{id}: process {pid}");
        }
        ok(&b.crust(&["delete", "--force", id]));
    }
}

/// CVE-2025-52565: the image's `/dev/console` is a symlink (no /dev tmpfs
/// in the config), to get the container's pty bind-mounted somewhere the
/// attacker chose. A naive runtime binds onto the path and follows the
/// link; crust opens /dev/console with O_NOFOLLOW inside the container's
/// root and mounts onto that, which the kernel refuses for a symlink, so
/// the link's target is never covered.
#[test]
fn cve_2025_52565_a_console_symlink_is_not_followed() {
    let mut b = Bundle::with_own_rootfs("true");
    b.remove_mount("/dev");
    let root = b.rootfs();
    std::fs::write(root.join("etc/target"), "untouched").unwrap();
    std::os::unix::fs::symlink("/etc/target", root.join("dev/console")).unwrap();
    b.config["process"]["terminal"] = json!(true);
    let socket = b.dir.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let engine = std::thread::spawn(move || common::receive_fd(&listener));
    let out = b.crust(&["create", "--console-socket", socket.to_str().unwrap(), "c1"]);
    // Refused, or done without touching the target.
    if out.status.success() {
        let pid = b.state("c1")["pid"].as_i64().unwrap();
        let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
        assert!(!mountinfo.contains(" /etc/target "), "{mountinfo}");
        ok(&b.crust(&["delete", "--force", "c1"]));
    } else {
        assert!(stderr(&out).contains("/dev/console"), "{}", stderr(&out));
    }
    if out.status.success() {
        drop(engine.join().unwrap());
    }
    assert_eq!(
        std::fs::read_to_string(root.join("etc/target")).unwrap(),
        "untouched"
    );
    assert!(std::fs::symlink_metadata(root.join("dev/console"))
        .unwrap()
        .file_type()
        .is_symlink());
}

/// The state root is the runtime's own: a container directory or a
/// `state.json` that is a symlink (planted by whoever could write there)
/// is never followed, so crust cannot be steered to another container's
/// state or to a file of the attacker's choosing.
#[test]
fn state_symlinks_are_not_followed() {
    let b = Bundle::new("exec sleep 1000");
    ok(&b.crust(&["run", "-d", "c1"]));
    std::os::unix::fs::symlink(b.root.join("c1"), b.root.join("alias")).unwrap();
    let out = b.crust(&["state", "alias"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is a symlink"), "{}", stderr(&out));
    let decoy = b.dir.path().join("decoy.json");
    std::fs::copy(b.root.join("c1/state.json"), &decoy).unwrap();
    std::fs::remove_file(b.root.join("c1/state.json")).unwrap();
    std::os::unix::fs::symlink(&decoy, b.root.join("c1/state.json")).unwrap();
    let out = b.crust(&["state", "c1"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("symlink"), "{}", stderr(&out));
    // Cleaning up still works: the state is unreadable, delete --force
    // removes the directory (the init is killed through its cgroup below).
    std::fs::remove_file(b.root.join("c1/state.json")).unwrap();
    std::fs::copy(&decoy, b.root.join("c1/state.json")).unwrap();
    std::fs::remove_file(b.root.join("alias")).unwrap();
    ok(&b.crust(&["delete", "--force", "c1"]));
}

/// The descriptor numbers `pid` has open.
fn open_fds(pid: i64) -> Vec<i32> {
    let mut fds: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
        .collect();
    fds.sort_unstable();
    fds
}

/// Run `crust ARGS…` from a shell that has only stdio open, plus fd 5 on
/// `passed` (the caller's descriptor to preserve); bounded in time, as a
/// runtime that left its state lock in the container would hang `start`.
fn crust_from_shell(b: &Bundle, args: &str, passed: &Path) -> std::process::Output {
    b.write();
    // Whatever else the test process inherited in the range is closed.
    let closed: String = (3..30)
        .filter(|fd| *fd != 5)
        .map(|fd| format!(" {fd}<&-"))
        .collect();
    let script = format!(
        "exec {} --root {} {args} 5<{}{closed}",
        common::CRUST,
        b.root.display(),
        passed.display()
    );
    // busybox's sh: dash would leave a copy of stdin at fd 10.
    let mut child = std::process::Command::new("timeout")
        .args(["20", "busybox", "sh", "-c", &script])
        .current_dir(b.dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(tempfile::tempfile().unwrap())
        .stderr(tempfile::tempfile().unwrap())
        .spawn()
        .unwrap();
    let status = child.wait().unwrap();
    std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: Vec::new(),
    }
}

/// `--preserve-fds N` passes exactly the caller's descriptors 3..3+N-1:
/// with a caller that has stdio and fd 5 open, a runtime whose own
/// descriptors (state directory lock, exec fifo, cgroup directory,
/// sockets) landed in that range would hand them to the container — a
/// host directory descriptor (the CVE-2024-21626 class) — and `start`
/// would wait forever on the lock the waiting init holds. With crust the
/// waiting init holds nothing of crust's in the range (close-on-exec
/// placeholders fill its holes), the process holds only stdio and fd 5,
/// and `start` and `delete` return.
#[test]
fn preserve_fds_passes_only_the_callers_descriptors() {
    let b = Bundle::new("exec sleep 1000");
    let passed = b.dir.path().join("passed");
    std::fs::write(&passed, "from the caller\n").unwrap();
    let created = crust_from_shell(&b, "create --preserve-fds 20 c1", &passed);
    assert!(created.status.success(), "create: {:?}", created.status);
    let pid = b.state("c1")["pid"].as_i64().unwrap();
    // Until its execve the init holds only the caller's fd 5 and
    // placeholders (close-on-exec /dev/null) in the range.
    let in_range: Vec<(i32, PathBuf)> = open_fds(pid)
        .into_iter()
        .filter(|fd| (3..23).contains(fd) && *fd != 5)
        .map(|fd| {
            (
                fd,
                std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap(),
            )
        })
        .filter(|(_, target)| target != Path::new("/dev/null"))
        .collect();
    assert!(in_range.is_empty(), "the waiting init holds {in_range:?}");
    let started = b.crust_within(10, &["start", "c1"]);
    assert!(started.status.success(), "start: {}", stderr(&started));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(open_fds(pid), [0, 1, 2, 5]);
    let target = std::fs::read_link(format!("/proc/{pid}/fd/5")).unwrap();
    assert_eq!(target, passed);
    ok(&b.crust(&["delete", "--force", "c1"]));

    // run and exec alike.
    let ran = crust_from_shell(&b, "run -d --preserve-fds 20 c2", &passed);
    assert!(ran.status.success(), "run: {:?}", ran.status);
    let pid = b.state("c2")["pid"].as_i64().unwrap();
    assert_eq!(open_fds(pid), [0, 1, 2, 5]);
    let pid_file = b.dir.path().join("exec.pid");
    let exec = crust_from_shell(
        &b,
        &format!(
            "exec -d --pid-file {} --preserve-fds 20 c2 sleep 1000",
            pid_file.display()
        ),
        &passed,
    );
    assert!(exec.status.success(), "exec: {:?}", exec.status);
    let exec_pid: i64 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(open_fds(exec_pid), [0, 1, 2, 5]);
    ok(&b.crust(&["delete", "--force", "c2"]));
}

/// `--no-pivot` leaves the host's tree in the container's mount namespace
/// (only a chroot hides it). A procfs or sysfs left fully visible there
/// would let a process that makes a user namespace mount a fresh,
/// unmasked proc (the kernel allows it while an unmasked one is visible
/// in the namespace) and write /proc/sysrq-trigger or read what masks
/// hide. As in runc, crust detaches the host's proc and sys first: the
/// mount fails with permission denied, with and without --no-pivot.
#[test]
fn no_pivot_leaves_no_host_proc_or_sys_to_remount() {
    let script = "unshare -r -m -p -f sh -c 'echo in-userns; mount -t proc none /proc && echo proc-mounted; mount -t sysfs none /sys && echo sys-mounted' 2>&1; true";
    for args in [vec!["run", "--no-pivot", "c1"], vec!["run", "c2"]] {
        let mut b = Bundle::new(script);
        // It makes namespaces: not under the strict lane's profile.
        b.as_configured = true;
        // Mapping uid 0 in a new user namespace takes CAP_SETFCAP (5.12+).
        b.add_capability("CAP_SETFCAP");
        let out = b.crust(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let text = common::stdout(&out);
        assert!(
            text.contains("in-userns")
                && !text.contains("proc-mounted")
                && !text.contains("sys-mounted"),
            "{args:?}: {text}"
        );
        assert!(
            text.contains("ermission denied") || text.contains("not permitted"),
            "{args:?}: {text}"
        );
    }
}
