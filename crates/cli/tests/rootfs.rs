//! The root filesystem: mounts, devices, masks, sysctls, pivot, and the
//! symlink tricks an image can play, checked from inside and on the host.

mod common;

use std::path::PathBuf;

use common::{stderr, Bundle};
use serde_json::json;

/// The mountinfo line for `target`, split into (options, fs type, super options).
fn mount_line(mountinfo: &str, target: &str) -> Option<String> {
    mountinfo
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some(target))
        .map(str::to_string)
}

fn mount_options(line: &str) -> Vec<String> {
    line.split_whitespace()
        .nth(5)
        .unwrap()
        .split(',')
        .map(String::from)
        .collect()
}

#[test]
fn default_mounts_masks_and_readonly_root() {
    let b = Bundle::new("cat /proc/self/mountinfo; (echo x > /file) 2>/dev/null && echo root-writable; cat /proc/keys | wc -c; ls /sys/firmware | wc -l; (echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null && echo sys-writable; true");
    let out = b.output_of("c1");
    let root = mount_line(&out, "/").expect("root mount");
    assert!(mount_options(&root).contains(&"ro".to_string()), "{root}");
    assert!(!out.contains("root-writable"));
    let dev = mount_line(&out, "/dev").unwrap();
    assert!(
        dev.contains("tmpfs") && dev.contains("mode=755") && dev.contains("size=65536k"),
        "{dev}"
    );
    assert!(mount_options(&dev).contains(&"nosuid".to_string()));
    let pts = mount_line(&out, "/dev/pts").unwrap();
    assert!(
        pts.contains("devpts") && pts.contains("ptmxmode=666") && pts.contains("gid=5"),
        "{pts}"
    );
    let shm = mount_line(&out, "/dev/shm").unwrap();
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(mount_options(&shm).contains(&o.to_string()), "{shm}");
    }
    assert!(mount_line(&out, "/dev/mqueue").unwrap().contains("mqueue"));
    let sys = mount_line(&out, "/sys").unwrap();
    assert!(
        sys.contains("sysfs") && mount_options(&sys).contains(&"ro".to_string()),
        "{sys}"
    );
    assert!(mount_line(&out, "/sys/fs/cgroup").is_some(), "{out}");
    for p in ["/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq"] {
        let l = mount_line(&out, p).unwrap_or_else(|| panic!("{p} not read-only mounted"));
        assert!(mount_options(&l).contains(&"ro".to_string()), "{l}");
    }
    assert!(!out.contains("sys-writable"));
    let firmware = mount_line(&out, "/sys/firmware").unwrap();
    assert!(firmware.contains("tmpfs"), "{firmware}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[lines.len() - 1], "0", "masked /sys/firmware is empty");
    assert_eq!(
        lines[lines.len() - 2],
        "0",
        "masked /proc/keys reads nothing"
    );
}

#[test]
fn devices_default_and_configured() {
    let mut b =
        Bundle::new("ls -ln /dev | awk '{print $1, $3, $4, $5, $6, $NF}'; ls -l /dev/fd /dev/ptmx");
    b.config["linux"]["devices"] = json!([
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 432, "uid": 7, "gid": 8},
        {"path": "/dev/sub/loopx", "type": "b", "major": 7, "minor": 200}
    ]);
    let out = b.output_of("c1");
    for (name, majmin) in [
        ("null", "1, 3"),
        ("zero", "1, 5"),
        ("full", "1, 7"),
        ("random", "1, 8"),
        ("urandom", "1, 9"),
        ("tty", "5, 0"),
    ] {
        let line = out
            .lines()
            .find(|l| l.ends_with(&format!(" {name}")))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        assert!(
            line.starts_with("crw-rw-rw-") && line.contains(majmin),
            "{line}"
        );
    }
    let fuse = out.lines().find(|l| l.ends_with(" fuse")).unwrap();
    assert!(
        fuse.starts_with("crw-rw----") && fuse.contains(" 7 8 10, 229"),
        "{fuse}"
    );
    assert!(
        out.contains("/dev/fd -> /proc/self/fd") && out.contains("/dev/ptmx -> pts/ptmx"),
        "{out}"
    );
    let mut b = Bundle::new("ls -l /dev/sub/loopx");
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/sub/loopx", "type": "b", "major": 7, "minor": 200}]);
    let out = b.output_of("c2");
    assert!(out.starts_with('b') && out.contains("7, 200"), "{out}");
}

#[test]
fn bind_mounts_with_options() {
    let mut b = Bundle::new("cat /proc/self/mountinfo; cat /data/hello; echo x > /data/new 2>/dev/null && echo data-writable; cat /one/file");
    let host = b.dir.path().join("hostdata");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("hello"), "hi from host").unwrap();
    std::fs::write(b.dir.path().join("single"), "single file").unwrap();
    b.config["mounts"].as_array_mut().unwrap().extend([
        json!({"destination": "/data", "type": "bind", "source": host, "options": ["rbind", "ro", "nosuid", "nodev"]}),
        // A relative source is relative to the bundle, as in runc.
        json!({"destination": "/one/file", "type": "none", "source": "single", "options": ["bind", "ro"]}),
        json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=700", "noexec", "nosymfollow"]}),
    ]);
    let out = b.output_of("c1");
    let data = mount_line(&out, "/data").unwrap();
    for o in ["ro", "nosuid", "nodev"] {
        assert!(mount_options(&data).contains(&o.to_string()), "{data}");
    }
    assert!(
        out.contains("hi from host") && out.contains("single file"),
        "{out}"
    );
    assert!(!out.contains("data-writable"));
    assert!(!host.join("new").exists());
    let scratch = mount_line(&out, "/scratch").unwrap();
    assert!(
        scratch.contains("size=1024k") && scratch.contains("mode=700"),
        "{scratch}"
    );
    assert!(
        mount_options(&scratch).contains(&"noexec".to_string())
            && mount_options(&scratch).contains(&"nosymfollow".to_string()),
        "{scratch}"
    );
}

#[test]
fn recursive_read_only_reaches_submounts() {
    let mut b = Bundle::new("cat /proc/self/mountinfo");
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/hostdev", "type": "bind", "source": "/dev", "options": ["rbind", "rro"]}));
    let out = b.output_of("c1");
    let sub = mount_line(&out, "/hostdev/shm").expect("rbind brings submounts");
    assert!(mount_options(&sub).contains(&"ro".to_string()), "{sub}");
}

#[test]
fn bad_mount_options_name_the_mount() {
    let mut b = Bundle::new("true");
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["mode=notanumber"]}));
    let out = b.run("c1");
    assert!(!out.status.success());
    let err = stderr(&out);
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("level=error")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    let last = err.trim().lines().last().unwrap();
    assert_eq!(last, errors[0], "the error is the last line: {err}");
    for needle in ["mounts[7]", "mode=notanumber", "/x", "Bad value for 'mode'"] {
        assert!(last.contains(needle), "{needle} missing: {err}");
    }
    assert_eq!(b.state_dirs(), 0);
}

#[test]
fn sysctls_are_written_in_the_containers_namespaces() {
    let mut b = Bundle::new("cat /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ip_forward");
    b.config["linux"]["sysctl"] = json!({"kernel.shmmni": "2048", "net/ipv4/ip_forward": "1"});
    let out = b.output_of("c1");
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["2048", "1"]);
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/shmmni")
            .unwrap()
            .trim(),
        "2048",
        "the host's value changed"
    );
}

#[test]
fn no_pivot_moves_the_root() {
    let b = Bundle::new("cat /proc/self/mountinfo | head -1; ls /bin/busybox");
    b.write();
    let out = b.crust(&["run", "--no-pivot", "c1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(common::stdout(&out).contains("/bin/busybox"));
}

#[test]
fn rootfs_propagation_is_applied() {
    let mut b = Bundle::new("awk '$5 == \"/\"' /proc/self/mountinfo");
    b.config["linux"]["rootfsPropagation"] = json!("shared");
    let out = b.output_of("c1");
    assert!(out.contains("shared:"), "{out}");
    let mut b = Bundle::new("awk '$5 == \"/\"' /proc/self/mountinfo");
    b.config["linux"]["rootfsPropagation"] = json!("private");
    let out = b.output_of("c2");
    assert!(
        !out.contains("shared:") && !out.contains("master:"),
        "{out}"
    );
}

/// A hostile image runs, its links resolved inside the rootfs.
fn assert_contained(out: &std::process::Output) {
    assert!(out.status.success(), "{}", stderr(out));
}

/// An image whose `/dev` is a symlink to a host directory: device nodes and
/// the /dev tmpfs must land inside the rootfs, never in the host directory
/// (CVE-2026-41579 class). A naive runtime that joins `rootfs + "/dev"` and
/// lets the kernel follow the link would mknod in the host directory.
#[test]
fn a_dev_symlink_cannot_reach_the_host() {
    let victim = tempfile::tempdir().unwrap();
    let b = Bundle::with_own_rootfs("ls /dev/null");
    let dev = b.rootfs().join("dev");
    std::fs::remove_dir(&dev).unwrap();
    std::os::unix::fs::symlink(victim.path(), &dev).unwrap();
    let out = b.run("c1");
    assert_contained(&out);
    assert_eq!(
        std::fs::read_dir(victim.path()).unwrap().count(),
        0,
        "the host directory was written to"
    );
}

/// A mount destination whose parent is a symlink climbing out of the rootfs:
/// the directories must be created inside it (CVE-2024-45310 class).
#[test]
fn a_mount_destination_cannot_climb_out() {
    let victim = tempfile::tempdir().unwrap();
    let mut b = Bundle::with_own_rootfs("ls -d /data/sub");
    let link = b.rootfs().join("data");
    std::os::unix::fs::symlink(
        format!("../../../../../../../..{}", victim.path().display()),
        &link,
    )
    .unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/data/sub/deeper", "type": "tmpfs", "source": "tmpfs"}));
    let out = b.run("c1");
    assert_contained(&out);
    assert_eq!(
        std::fs::read_dir(victim.path()).unwrap().count(),
        0,
        "a directory was created on the host"
    );
}

/// `/proc` or `/sys` in the image is a symlink (to a host-looking path,
/// to a directory of the image, or to itself): refused with a clear
/// error, as runc refuses it, and nothing is written through the link. A
/// runtime that followed the link would mount proc elsewhere in the image
/// (or, through a host-path link, make masks and sysctls miss it).
#[test]
fn a_proc_or_sys_symlink_is_refused() {
    let victim = tempfile::tempdir().unwrap();
    let target = victim.path().join("sys/kernel");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("shmmni"), "untouched").unwrap();
    for (dir, link) in [
        ("proc", victim.path().to_path_buf()),
        ("proc", std::path::PathBuf::from("proc")),
        ("proc", std::path::PathBuf::from("/tmp")),
        ("sys", std::path::PathBuf::from("sys")),
        ("sys", std::path::PathBuf::from("/tmp")),
    ] {
        let mut b = Bundle::with_own_rootfs("cat /proc/sys/kernel/shmmni");
        let path = b.rootfs().join(dir);
        std::fs::remove_dir(&path).unwrap();
        std::os::unix::fs::symlink(&link, &path).unwrap();
        b.config["linux"]["sysctl"] = json!({"kernel.shmmni": "1234"});
        b.assert_fails_cleanly(
            &["run", "c1"],
            &[&format!("/{dir}"), "not an ordinary directory"],
        );
        assert_eq!(
            std::fs::read_to_string(target.join("shmmni")).unwrap(),
            "untouched"
        );
        assert_eq!(
            std::fs::read_dir(b.rootfs().join("tmp")).unwrap().count(),
            0
        );
    }
}

/// `/dev/null` replaced by a symlink to a host file must not be used to mask
/// paths (CVE-2025-31133): crust refuses instead of binding the target.
#[test]
fn a_fake_dev_null_is_not_used_for_masking() {
    let mut b = Bundle::with_own_rootfs("true");
    // No /dev tmpfs: the image's own /dev is used.
    b.config["mounts"].as_array_mut().unwrap().retain(|m| {
        m["destination"] != "/dev"
            && m["destination"] != "/dev/pts"
            && m["destination"] != "/dev/shm"
            && m["destination"] != "/dev/mqueue"
    });
    b.config["linux"]["devices"] = json!([]);
    let out = b.run("warmup");
    assert!(out.status.success(), "{}", stderr(&out));
    let null = b.rootfs().join("dev/null");
    std::fs::remove_file(&null).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &null).unwrap();
    // The default devices would replace the link; keep it by binding /dev.
    let dev = b.rootfs().join("dev");
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/dev", "type": "bind", "source": dev, "options": ["bind"]}));
    b.assert_fails_cleanly(&["run", "c1"], &["not the null device"]);
}

/// A host directory with a root-owned and a 1000-owned file.
fn owned_files(b: &Bundle) -> std::path::PathBuf {
    let host = b.dir.path().join("data");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("root-file"), "").unwrap();
    std::fs::write(host.join("user-file"), "").unwrap();
    std::os::unix::fs::chown(host.join("user-file"), Some(1000), Some(1000)).unwrap();
    host
}

fn owners(ls: &str) -> Vec<(String, String, String)> {
    ls.lines()
        .filter(|l| l.ends_with("-file"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[2].to_string(),
                f[3].to_string(),
                f[f.len() - 1].to_string(),
            )
        })
        .collect()
}

/// `idmap` with the container's own mappings: inside a user namespace
/// mapping 0 to 100000, host files keep the owners they have on disk, and
/// a file the container's root creates is owned by root on disk too.
#[test]
fn idmap_mounts_use_the_containers_mappings() {
    let mut b = Bundle::new("ls -ln /data; touch /data/made-inside");
    let host = owned_files(&b);
    b.with_user_namespace(100000);
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/data", "type": "bind", "source": host, "options": ["bind", "idmap"]}));
    let out = b.output_of("c1");
    let o = owners(&out);
    assert!(
        o.contains(&("0".into(), "0".into(), "root-file".into())),
        "{out}"
    );
    assert!(
        o.contains(&("1000".into(), "1000".into(), "user-file".into())),
        "{out}"
    );
    let made = std::fs::metadata(host.join("made-inside")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((made.uid(), made.gid()), (0, 0));

    // Without idmap the same files are unmapped in the user namespace.
    let mut control = Bundle::new("ls -ln /data");
    control.with_user_namespace(100000);
    control.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/data", "type": "bind", "source": host, "options": ["bind"]}));
    let out = control.output_of("c2");
    assert!(owners(&out).iter().all(|(u, _, _)| u == "65534"), "{out}");
}

/// Explicit mappings on the mount, in a container without a user
/// namespace: on-disk root shows as 100000.
#[test]
fn idmap_mounts_with_their_own_mappings() {
    let mut b = Bundle::new("ls -ln /data");
    let host = owned_files(&b);
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/data", "type": "bind", "source": host, "options": ["rbind"], "uidMappings": map, "gidMappings": map}));
    let out = b.output_of("c1");
    let o = owners(&out);
    assert!(
        o.contains(&("100000".into(), "100000".into(), "root-file".into())),
        "{out}"
    );
    assert!(
        o.contains(&("101000".into(), "101000".into(), "user-file".into())),
        "{out}"
    );

    let mut bad = Bundle::new("true");
    bad.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}),
    );
    bad.assert_fails_cleanly(&["run", "c2"], &["idmapped mounts must be bind mounts"]);
}

/// A file bound over a sysctl (CVE-2025-52881 class): the write must not
/// land in it. A naive runtime writing to "/proc/sys/kernel/shmmni" by path
/// would change the bound file, here a file of the host.
#[test]
fn a_mount_stacked_on_a_sysctl_is_refused() {
    let mut b = Bundle::new("true");
    let decoy = b.dir.path().join("decoy");
    std::fs::write(&decoy, "untouched").unwrap();
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/proc/sys/kernel/shmmni", "type": "bind", "source": decoy, "options": ["bind"]}));
    b.config["linux"]["sysctl"] = json!({"kernel.shmmni": "1234"});
    b.assert_fails_cleanly(&["run", "c1"], &["kernel.shmmni"]);
    assert_eq!(std::fs::read_to_string(&decoy).unwrap(), "untouched");
}

/// `tmpcopyup` (runc's extension; podman sends it for `--tmpfs` and
/// `--read-only`): the tmpfs starts with a copy of the image's directory,
/// symlinks copied as links, and writes stay in the tmpfs.
#[test]
fn tmpcopyup_fills_the_tmpfs_with_the_images_files() {
    let mut b = Bundle::with_own_rootfs(
        "grep -c root /etc/passwd; readlink /etc/link; grep ' /etc ' /proc/mounts | cut -d' ' -f3; echo new > /etc/passwd",
    );
    std::os::unix::fs::symlink("/nowhere", b.rootfs().join("etc/link")).unwrap();
    b.config["root"]["readonly"] = json!(true);
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "mode=755"]}),
    );
    let text = b.output_of("c1");
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["1", "/nowhere", "tmpfs"],
        "{text}"
    );
    assert!(std::fs::read_to_string(b.rootfs().join("etc/passwd"))
        .unwrap()
        .starts_with("root:"));
}

/// `norelatime` clears relatime without choosing strictatime: with
/// mount(2), and so with runc, the mount stays relatime. Filesystem data
/// on a bind mount (`mode=755,size=1k`) is ignored, as mount(2) ignores
/// it, not refused.
#[test]
fn norelatime_and_data_options_on_bind_mounts_behave_as_with_mount_2() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("f"), "bound\n").unwrap();
    let mut b = Bundle::new("grep -E ' /(t|b|r) ' /proc/self/mountinfo; cat /b/f");
    b.config["mounts"].as_array_mut().unwrap().extend([
        json!({"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["norelatime"]}),
        json!({"destination": "/r", "type": "bind", "source": src.path(), "options": ["rbind", "rnorelatime"]}),
        json!({"destination": "/b", "type": "bind", "source": src.path(), "options": ["bind", "mode=755", "size=1k"]}),
    ]);
    let out = b.output_of("c1");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for l in &lines[..3] {
        let opts = l.split_whitespace().nth(5).unwrap();
        assert!(
            opts.contains("relatime") && !opts.contains("strictatime"),
            "{l}"
        );
    }
    assert_eq!(lines[3], "bound");
}

/// The namespaces a config does not list are the runtime's (the spec's
/// rule), the mount namespace included: the container's mounts are made
/// in the runtime's namespace under the rootfs, the process is chrooted,
/// and `delete` unmounts them again. What needs a namespace of its own
/// is refused naming the field.
#[test]
fn unlisted_namespaces_including_mount_are_the_runtimes() {
    let mut b = Bundle::with_own_rootfs(
        "for n in mnt net ipc uts pid cgroup; do readlink /proc/self/ns/$n; done; ls /proc/self/fd >/dev/null && echo proc-mounted; ls /dev/null",
    );
    b.config["linux"]["namespaces"] = json!([]);
    b.config.as_object_mut().unwrap().remove("hostname");
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    // One destination given with the rootfs path in front, as runc takes it.
    let prefixed = std::fs::canonicalize(b.rootfs()).unwrap().join("tmp");
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": prefixed, "type": "tmpfs", "source": "tmpfs"}));
    let out = b.output_of("c1");
    let host: Vec<String> = ["mnt", "net", "ipc", "uts", "pid", "cgroup"]
        .iter()
        .map(|n| {
            std::fs::read_link(format!("/proc/self/ns/{n}"))
                .unwrap()
                .to_string_lossy()
                .to_string()
        })
        .collect();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..6],
        host.iter().map(String::as_str).collect::<Vec<_>>()[..],
        "{out}"
    );
    assert_eq!(lines[6..], ["proc-mounted", "/dev/null"], "{out}");
    let rootfs = std::fs::canonicalize(b.rootfs()).unwrap();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let left: Vec<&str> = mountinfo
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(4)
                .is_some_and(|p| std::path::Path::new(p).starts_with(&rootfs))
        })
        .collect();
    assert!(left.is_empty(), "mounts left on the host: {left:?}");
    // As in runc: --no-pivot would hide the proc and sys of the namespace
    // it runs in, here the host's.
    b.assert_fails_cleanly(
        &["run", "--no-pivot", "c3"],
        &["--no-pivot", "mount namespace"],
    );
    assert!(std::path::Path::new("/proc/self/status").exists());

    // create + start + delete, with a non-root user: the mounts are there
    // while it runs and gone after delete.
    b.config["process"]["args"] = json!(["sleep", "1000"]);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    assert!(b.crust(&["create", "c4"]).status.success());
    assert!(b.crust(&["start", "c4"]).status.success());
    let mounts_under_rootfs = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| {
                l.split(' ')
                    .nth(4)
                    .is_some_and(|p| std::path::Path::new(p).starts_with(&rootfs))
            })
            .count()
    };
    assert!(mounts_under_rootfs() > 0);
    assert!(b.crust(&["delete", "--force", "c4"]).status.success());
    assert_eq!(mounts_under_rootfs(), 0);

    let mut b = Bundle::new("true");
    b.config["linux"]["namespaces"] = json!([{"type": "pid"}]);
    b.assert_fails_cleanly(&["run", "c2"], &["linux.maskedPaths", "mount namespace"]);
}

/// A read-only `/dev` (a tmpfs with `ro`, then /dev/pts, /dev/shm and
/// /dev/mqueue under it, and the device nodes) works, as with runc: the
/// tmpfs is made read-only once everything below it is in place.
#[test]
fn a_read_only_dev_works() {
    let mut b = Bundle::new(
        "touch /dev/new 2>&1; echo x > /dev/null && echo null-works; grep -E ' /dev(/pts|/shm)? ' /proc/self/mountinfo | awk '{print $5, $6}'",
    );
    for m in b.config["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/dev" {
            m["options"].as_array_mut().unwrap().push(json!("ro"));
        }
    }
    let out = b.output_of("c1");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("Read-only file system"), "{out}");
    assert_eq!(lines[1], "null-works", "{out}");
    assert!(lines.iter().any(|l| l.starts_with("/dev ro,")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("/dev/pts rw,")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("/dev/shm ")), "{out}");

    // With a terminal: /dev/console shows the pty there too.
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["args"] = json!(["sh", "-c", "ls -l /dev/console; tty"]);
    let out = b.output_of("c2");
    assert!(out.contains("136,") && out.contains("/dev/pts/0"), "{out}");
}

/// runc's "mount order, container bind-mount source": later mounts may
/// bind what earlier ones built inside the container (a source under the
/// rootfs, seen as the container's tree), and a destination may be given
/// with the rootfs path in front; with and without a user namespace.
#[test]
fn later_mounts_bind_the_tree_earlier_ones_built() {
    for userns in [false, true] {
        let mut b = Bundle::with_own_rootfs("cat /final/x/y/z/z/x/y/z/x/file");
        if userns {
            b.with_user_namespace(100000);
        }
        let rootfs = std::fs::canonicalize(b.rootfs()).unwrap();
        std::fs::create_dir_all(rootfs.join("mnt")).unwrap();
        std::fs::create_dir_all(rootfs.join("final")).unwrap();
        let src = b.dir.path().join("bind-src");
        for sub in ["a/x", "b/y", "c/z"] {
            let dir = src.join(sub);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("file"), format!("{sub}\n")).unwrap();
            let top = sub.split('/').next().unwrap();
            let _ = std::os::unix::fs::symlink(top, src.join(format!("sym-{top}")));
        }
        let bind = |source: PathBuf, dest: String| json!({"source": source, "destination": dest, "type": "bind", "options": ["rbind", "rprivate"]});
        let r = rootfs.display().to_string();
        b.config["mounts"].as_array_mut().unwrap().extend([
            bind(src.join("a"), "/mnt".into()),
            bind(src.join("sym-b"), "/mnt/x".into()),
            bind(src.join("c"), "/mnt/x/y".into()),
            bind(src.join("sym-a"), "/mnt/x/y/z".into()),
            bind(rootfs.join("mnt/x"), format!("{r}/mnt/x/y/z/x")),
            bind(rootfs.join("mnt/x/y"), format!("{r}/mnt/x/y/z")),
            bind(rootfs.join("mnt"), format!("{r}/final")),
        ]);
        let out = b.run(if userns { "c2" } else { "c1" });
        assert!(out.status.success(), "userns {userns}: {}", stderr(&out));
        assert_eq!(common::stdout(&out), "a/x\n", "userns {userns}");
    }
}

/// runc's "bind mount through a dangling symlink": a destination whose
/// path (or whose last component) is a symlink to something missing is
/// made where the link leads, inside the rootfs, and mounted there.
#[test]
fn a_bind_destination_through_dangling_symlinks_is_made_where_they_lead() {
    let b = Bundle::with_own_rootfs("true");
    let rootfs = b.rootfs();
    let _ = std::fs::remove_file(rootfs.join("etc/hosts"));
    std::os::unix::fs::symlink("/tmp/foo/bar", rootfs.join("jump")).unwrap();
    std::os::unix::fs::symlink("/jump/baz/hosts", rootfs.join("etc/hosts")).unwrap();
    let src = b.dir.path().join("hosts");
    std::fs::write(&src, "127.0.0.1 here\n").unwrap();
    let mut b = b;
    b.config["process"]["args"] = json!(["cat", "/tmp/foo/bar/baz/hosts"]);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"source": src, "destination": "/etc/hosts", "options": ["bind"]}));
    assert_eq!(b.output_of("c1"), "127.0.0.1 here\n");

    // A trailing dangling link, to a directory source this time.
    let _ = std::fs::remove_file(b.rootfs().join("etc/hosts"));
    std::os::unix::fs::symlink("/tmp/hostsdir", b.rootfs().join("etc/hosts")).unwrap();
    let dir = b.dir.path().join("hostsdir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("f"), "in dir\n").unwrap();
    b.config["process"]["args"] = json!(["cat", "/tmp/hostsdir/f"]);
    b.config["mounts"].as_array_mut().unwrap().pop();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"source": dir, "destination": "/etc/hosts", "options": ["bind"]}));
    assert_eq!(b.output_of("c2"), "in dir\n");
}

/// runc 1.3's tmpfs modes: without `mode=`, a tmpfs on an existing
/// directory takes that directory's mode (it reads mode=710 in
/// /proc/self/mounts); an explicit `mode=` wins and the directory below
/// is not changed; on a directory crust makes, the tmpfs keeps its
/// default 1777 and the directories made are 755.
#[test]
fn tmpfs_modes_as_runc_sets_them() {
    use std::os::unix::fs::PermissionsExt;
    let mut b = Bundle::with_own_rootfs(
        "stat -c %a /inherit /explicit /a/b/c; grep -E ' /(inherit|explicit) ' /proc/self/mounts",
    );
    for d in ["inherit", "explicit"] {
        let p = b.rootfs().join(d);
        std::fs::create_dir(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o710)).unwrap();
    }
    b.config["mounts"].as_array_mut().unwrap().extend([
        json!({"type": "tmpfs", "source": "tmpfs", "destination": "/inherit", "options": ["rw", "nodev", "nosuid"]}),
        json!({"type": "tmpfs", "source": "tmpfs", "destination": "/explicit", "options": ["rw", "mode=1500"]}),
        json!({"type": "tmpfs", "source": "tmpfs", "destination": "/a/b/c", "options": ["rw"]}),
    ]);
    let out = b.output_of("c1");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..3], ["710", "1500", "1777"], "{out}");
    assert!(lines[3].contains("mode=710"), "{out}");
    assert!(lines[4].contains("mode=1500"), "{out}");
    let mode = |p: &str| {
        std::fs::metadata(b.rootfs().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(
        mode("explicit"),
        0o710,
        "the directory below is not chmod-ed"
    );
    assert_eq!((mode("a"), mode("a/b")), (0o755, 0o755));
}
