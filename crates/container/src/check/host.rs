//! The host's findings: kernel, syscalls, namespaces, cgroups, seccomp,
//! filesystems, CRIU, systemd, LSMs.

use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use sys::clone::Forked;

use super::Finding;
use crate::features::NAMESPACES;

/// Everything about this host, in the order a reader needs it. `criu` is
/// the binary `--criu` names.
pub fn host(criu: &Path) -> Vec<Finding> {
    let mut out = vec![kernel()];
    out.extend(syscalls());
    out.extend(namespaces());
    out.push(user_namespaces());
    out.extend(cgroups());
    out.push(seccomp());
    out.push(overlay());
    out.push(super::bundle::idmapped(
        Path::new("/"),
        "the root filesystem",
    ));
    out.push(checkpoint(criu));
    out.push(systemd());
    out.push(lsm());
    out
}

/// `6.18.0-1-amd64` → (6, 18).
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn kernel() -> Finding {
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy().to_string();
    match kernel_version(&release) {
        Some(v) if v >= (5, 12) => Finding::ok("kernel", "version", format!("Linux {release}")),
        Some(v) if v >= (5, 6) => Finding::warn(
            "kernel",
            "version",
            format!("Linux {release}: no mount_setattr, so no idmapped mounts (5.12)"),
            "a Linux 5.12 or newer kernel",
        ),
        _ => Finding::fail(
            "kernel",
            "version",
            format!("Linux {release}: crust needs 5.6 or newer (openat2, clone3, pidfds)"),
            "a Linux 5.12 or newer kernel",
        ),
    }
}

/// The syscalls crust cannot do without (and mount_setattr, for idmapped
/// mounts), each called for real: ENOSYS is the only answer that means
/// missing.
fn syscalls() -> Vec<Finding> {
    let root = rustix::fs::open("/", OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).ok();
    let probes: [(&str, &str, Result<(), rustix::io::Errno>); 5] = [
        (
            "clone3",
            "every container process is made with it (5.3)",
            clone3(),
        ),
        (
            "pidfd_open",
            "crust follows its processes through pidfds (5.3)",
            rustix::process::pidfd_open(
                rustix::process::getpid(),
                rustix::process::PidfdFlags::empty(),
            )
            .map(drop),
        ),
        (
            "openat2",
            "every path in the rootfs is resolved with RESOLVE_IN_ROOT (5.6)",
            rustix::fs::openat2(
                rustix::fs::CWD,
                "/",
                OFlags::PATH | OFlags::CLOEXEC,
                Mode::empty(),
                rustix::fs::ResolveFlags::empty(),
            )
            .map(drop),
        ),
        (
            "fsopen",
            "mounts are made through the new mount API (5.2)",
            rustix::mount::fsopen("tmpfs", rustix::mount::FsOpenFlags::FSOPEN_CLOEXEC).map(drop),
        ),
        (
            "mount_setattr",
            "idmapped mounts and recursive read-only mounts (5.12)",
            match &root {
                Some(fd) => sys::mount::mount_setattr(
                    fd.as_fd(),
                    c"",
                    false,
                    &sys::mount::MountAttr::default(),
                ),
                None => Err(rustix::io::Errno::NOENT),
            },
        ),
    ];
    probes
        .into_iter()
        .map(|(name, why, result)| match result {
            Err(rustix::io::Errno::NOSYS) => Finding::fail(
                "kernel",
                name,
                format!("missing: {why}"),
                "a Linux 5.12 or newer kernel",
            ),
            _ => Finding::ok("kernel", name, "available"),
        })
        .collect()
}

/// A child that exits at once: whether clone3 (with a pidfd) works.
fn clone3() -> Result<(), rustix::io::Errno> {
    reaped(sys::clone::clone3(0, None)?);
    Ok(())
}

/// In the child: exit. In the parent: wait for it.
fn reaped(forked: Forked) {
    match forked {
        Forked::Child => sys::exec::exit_now(0),
        Forked::Parent { pidfd, .. } => {
            let _ = rustix::process::waitid(
                rustix::process::WaitId::PidFd(pidfd.as_fd()),
                rustix::process::WaitIdOptions::EXITED,
            );
        }
    }
}

/// `/proc/self/ns` name and `/proc/sys/user/max_*_namespaces` name of a
/// config namespace type.
fn ns_files(kind: &str) -> (&str, &str) {
    match kind {
        "mount" => ("mnt", "mnt"),
        "network" => ("net", "net"),
        other => (other, other),
    }
}

fn read_number(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn namespaces() -> Vec<Finding> {
    NAMESPACES
        .iter()
        .filter(|k| **k != "user")
        .map(|kind| {
            let (file, limit) = ns_files(kind);
            let name = format!("{kind} namespaces");
            if !Path::new("/proc/self/ns").join(file).exists() {
                return Finding::warn(
                    "namespaces",
                    name,
                    format!("this kernel has none: configs listing \"{kind}\" in linux.namespaces are refused"),
                    format!("a kernel built with them{}", if *kind == "time" { " (5.6 or newer)" } else { "" }),
                );
            }
            let sysctl = format!("/proc/sys/user/max_{limit}_namespaces");
            if read_number(&sysctl) == Some(0) {
                return Finding::warn(
                    "namespaces",
                    name,
                    format!("disabled: user.max_{limit}_namespaces is 0"),
                    format!("sysctl -w user.max_{limit}_namespaces=15000"),
                );
            }
            Finding::ok("namespaces", name, "available")
        })
        .collect()
}

/// Made for real (a child in a new user namespace, gone at once); when
/// that fails, the sysctls that explain why.
pub(super) fn user_namespaces() -> Finding {
    let name = "user namespaces";
    let made = sys::clone::clone3(libc::CLONE_NEWUSER as u64, None).map(reaped);
    let Err(errno) = made else {
        return Finding::ok(
            "namespaces",
            name,
            format!(
                "a user namespace can be made (as uid {})",
                rustix::process::geteuid().as_raw()
            ),
        );
    };
    let (why, fix) = if read_number("/proc/sys/user/max_user_namespaces") == Some(0) {
        (
            "user.max_user_namespaces is 0".to_string(),
            "sysctl -w user.max_user_namespaces=15000",
        )
    } else if read_number("/proc/sys/kernel/unprivileged_userns_clone") == Some(0) {
        (
            "kernel.unprivileged_userns_clone is 0".to_string(),
            "sysctl -w kernel.unprivileged_userns_clone=1",
        )
    } else if read_number("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == Some(1) {
        (
            "kernel.apparmor_restrict_unprivileged_userns is 1".to_string(),
            "an AppArmor profile that allows userns for crust, or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
        )
    } else {
        (
            format!("clone3: {}", std::io::Error::from(errno)),
            "see user_namespaces(7)",
        )
    };
    Finding::warn(
        "namespaces",
        name,
        format!(
            "cannot be made: {why}; configs with a user namespace (and rootless containers) fail"
        ),
        fix,
    )
}

/// Every controller the config's resources can name, by hierarchy name
/// (v1's `blkio` is v2's `io`).
const CONTROLLERS: [(&str, &str, &str); 9] = [
    ("cpu", "cpu", "linux.resources.cpu"),
    ("cpuset", "cpuset", "linux.resources.cpu.cpus/mems"),
    ("memory", "memory", "linux.resources.memory"),
    ("pids", "pids", "linux.resources.pids"),
    ("blkio", "io", "linux.resources.blockIO"),
    ("hugetlb", "hugetlb", "linux.resources.hugepageLimits"),
    ("rdma", "rdma", "linux.resources.rdma"),
    ("misc", "misc", "misc.* in linux.resources.unified"),
    ("net_cls", "", "linux.resources.network.classID"),
];

fn cgroups() -> Vec<Finding> {
    let layout = match cgroups::Layout::probe() {
        Ok(l) if l.v1.is_empty() && l.unified.is_none() => {
            return vec![Finding::fail(
                "cgroups",
                "layout",
                "no cgroup filesystem is mounted",
                "mount cgroup2 on /sys/fs/cgroup",
            )]
        }
        Ok(l) => l,
        Err(e) => {
            return vec![Finding::fail(
                "cgroups",
                "layout",
                e.to_string(),
                "mount cgroup2 on /sys/fs/cgroup",
            )]
        }
    };
    let mut out = vec![Finding::ok(
        "cgroups",
        "layout",
        match layout.name() {
            "v2" => "cgroup v2 (unified)".to_string(),
            "hybrid" => {
                "hybrid: v1 controllers, cgroup2 beside them for process tracking".to_string()
            }
            other => format!("cgroup {other}"),
        },
    )];
    // Named hierarchies (`name=systemd`) hold no controller.
    let v1: Vec<&str> = layout
        .v1
        .iter()
        .flat_map(|h| h.controllers.iter().map(String::as_str))
        .filter(|c| !c.starts_with("name="))
        .collect();
    // On a hybrid host the controllers no v1 hierarchy holds are the
    // cgroup2 mount's.
    let v2: Vec<&str> = layout
        .unified
        .iter()
        .flat_map(|h| h.controllers.iter().map(String::as_str))
        .collect();
    let missing: Vec<String> = CONTROLLERS
        .iter()
        .filter(|(one, two, _)| !v1.contains(one) && (two.is_empty() || !v2.contains(two)))
        .map(|(one, two, field)| {
            format!(
                "{} ({field})",
                if v1.is_empty() && !two.is_empty() {
                    two
                } else {
                    one
                }
            )
        })
        .collect();
    let present = match (v1.is_empty(), v2.is_empty()) {
        (true, _) => v2.join(" "),
        (false, true) => v1.join(" "),
        (false, false) => format!("{} (v1), {} (v2)", v1.join(" "), v2.join(" ")),
    };
    out.push(if missing.is_empty() {
        Finding::ok("cgroups", "controllers", present)
    } else {
        Finding::warn(
            "cgroups",
            "controllers",
            format!("{present}; missing, so configs asking for them are refused: {}", missing.join(", ")),
            if layout.v1.is_empty() {
                "enable them in the parent cgroup's cgroup.subtree_control (or build the kernel with them)"
            } else {
                "mount their v1 hierarchies under /sys/fs/cgroup (or build the kernel with them)"
            },
        )
    });
    out.push(delegation(&layout));
    out
}

/// Whether a caller that is not root can make cgroups where crust puts
/// them: its own v2 cgroup, delegated to it.
pub(super) fn delegation(layout: &cgroups::Layout) -> Finding {
    let uid = rustix::process::geteuid();
    if uid.is_root() {
        return Finding::ok(
            "cgroups",
            "delegation",
            "run as root: crust manages cgroups itself",
        );
    }
    if !layout.v1.is_empty() {
        return Finding::warn(
            "cgroups",
            "delegation",
            format!("uid {}: cgroup v1 cannot be delegated; rootless containers run without a cgroup, and configs with limits are refused (as with runc)", uid.as_raw()),
            "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2), or run as root",
        );
    }
    let Some(h) = &layout.unified else {
        return Finding::warn(
            "cgroups",
            "delegation",
            "no cgroup v2",
            "mount cgroup2 on /sys/fs/cgroup",
        );
    };
    let dir = h.mount.join(h.own.strip_prefix("/").unwrap_or(&h.own));
    let owned = rustix::fs::stat(&dir).is_ok_and(|st| st.st_uid == uid.as_raw());
    let writable = ["cgroup.procs", "cgroup.subtree_control"]
        .iter()
        .all(|f| rustix::fs::access(dir.join(f), rustix::fs::Access::WRITE_OK).is_ok());
    if owned && writable {
        let enabled = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
        return Finding::ok(
            "cgroups",
            "delegation",
            format!(
                "{dir:?} is delegated to uid {} (controllers: {})",
                uid.as_raw(),
                enabled.trim()
            ),
        );
    }
    Finding::warn(
        "cgroups",
        "delegation",
        format!(
            "{dir:?}, the caller's cgroup, is not delegated to uid {}: rootless containers run without a cgroup, and configs with limits are refused",
            uid.as_raw()
        ),
        "run crust in a delegated cgroup: systemd-run --user --scope -p Delegate=yes crust …, or under a user session with systemd's user@.service (Delegate=yes)",
    )
}

fn seccomp() -> Finding {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if !status.lines().any(|l| l.starts_with("Seccomp:")) {
        return Finding::fail(
            "seccomp",
            "filters",
            "this kernel has no seccomp: configs with linux.seccomp are refused",
            "a kernel built with CONFIG_SECCOMP_FILTER",
        );
    }
    let level = init::seccomp::api_level();
    let actions =
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    let detail = format!(
        "libseccomp {} at API level {level}; kernel actions: {}",
        init::seccomp::library_version(),
        actions.trim()
    );
    if level < 5 {
        return Finding::warn(
            "seccomp",
            "filters",
            format!(
                "{detail}: no user notifications (SCMP_ACT_NOTIFY, seccomp agents) before level 5"
            ),
            "a Linux 5.0 or newer kernel",
        );
    }
    Finding::ok("seccomp", "filters", detail)
}

fn overlay() -> Finding {
    let listed = std::fs::read_to_string("/proc/filesystems")
        .unwrap_or_default()
        .lines()
        .any(|l| l.trim_end().ends_with("\toverlay") || l.trim() == "nodev\toverlay");
    if listed {
        Finding::ok("mounts", "overlayfs", "available (engines' image layers)")
    } else {
        Finding::warn(
            "mounts",
            "overlayfs",
            "not in /proc/filesystems: engines fall back to slower storage drivers",
            "modprobe overlay",
        )
    }
}

fn checkpoint(binary: &Path) -> Finding {
    let version = match criu::Swrk::version(binary) {
        Ok(v) => v,
        Err(criu::Error::NotFound { .. }) => {
            return Finding::warn(
                "criu",
                "checkpoint/restore",
                format!(
                    "{binary:?} is not installed: crust checkpoint and restore are unavailable"
                ),
                "apt-get install criu (or name it with --criu PATH)",
            )
        }
        Err(e) => {
            return Finding::warn(
                "criu",
                "checkpoint/restore",
                format!("{binary:?} does not answer CRIU's VERSION call: {e}"),
                "CRIU 3.0 or newer",
            )
        }
    };
    let check = std::process::Command::new(binary).arg("check").output();
    match check {
        Ok(out) if out.status.success() => Finding::ok(
            "criu",
            "checkpoint/restore",
            format!("CRIU {version}; `criu check` passes"),
        ),
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stderr).to_string()
                + &String::from_utf8_lossy(&out.stdout);
            let why = text
                .lines()
                .find(|l| l.contains("Error"))
                .or_else(|| text.lines().rfind(|l| !l.trim().is_empty()))
                .unwrap_or("no output")
                .trim()
                .to_string();
            Finding::warn(
                "criu",
                "checkpoint/restore",
                format!("CRIU {version}, but `criu check` fails on this kernel: {why}"),
                "a CRIU release that supports this kernel (docs/checkpoint.md)",
            )
        }
        Err(e) => Finding::warn(
            "criu",
            "checkpoint/restore",
            format!("run {binary:?} check: {e}"),
            "reinstall CRIU",
        ),
    }
}

fn systemd() -> Finding {
    let user = !rustix::process::geteuid().is_root();
    if !user && !Path::new("/run/systemd/system").is_dir() {
        return Finding::warn(
            "systemd",
            "--systemd-cgroup",
            "systemd is not running as PID 1: the systemd cgroup driver is unavailable; the cgroupfs driver (the default) works",
            "only if your engine asks for the systemd driver (containerd SystemdCgroup, podman cgroup_manager): set it to cgroupfs",
        );
    }
    let manager = if user { "user's" } else { "system" };
    match cgroups::systemd::Manager::connect(user) {
        Ok(_) => Finding::ok(
            "systemd",
            "--systemd-cgroup",
            format!("the {manager} manager answers: the systemd cgroup driver works"),
        ),
        Err(e) => Finding::warn(
            "systemd",
            "--systemd-cgroup",
            format!("cannot reach the {manager} manager: {e}"),
            if user {
                "log in through a session with systemd --user (loginctl enable-linger USER)"
            } else {
                "start dbus / systemd"
            },
        ),
    }
}

fn lsm() -> Finding {
    let list = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
    let apparmor = init::lsm::apparmor_enabled();
    let selinux = init::lsm::selinux_enabled();
    Finding::ok(
        "lsm",
        "security modules",
        format!(
            "{}; AppArmor profiles {}, SELinux labels {}",
            if list.trim().is_empty() {
                "none listed"
            } else {
                list.trim()
            },
            if apparmor {
                "applied"
            } else {
                "unavailable (configs naming process.apparmorProfile are refused)"
            },
            if selinux {
                "applied"
            } else {
                "unavailable (configs naming process.selinuxLabel or linux.mountLabel are refused)"
            },
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions_are_read_from_the_release() {
        assert_eq!(kernel_version("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(kernel_version("5.4.0"), Some((5, 4)));
        assert_eq!(kernel_version("garbage"), None);
    }
}
