//! `process.apparmorProfile`, `process.selinuxLabel` and `linux.mountLabel`:
//! applied when the host runs that security module, a clear error when it
//! does not (a profile silently not applied would be a weaker container
//! than the engine asked for).

use std::path::Path;

use oci_spec::runtime::Process;
use rustix::fs::{Mode, OFlags};

use crate::error::InitError;

/// Whether the host runs AppArmor.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'))
}

/// Whether the host runs SELinux.
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// The label fields set in `process` and `mount_label` whose module the
/// host lacks, as (field, module) pairs.
pub fn missing_modules<'a>(
    process: &Process,
    mount_label: Option<&str>,
) -> Option<(&'a str, &'a str)> {
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    if set(process.apparmor_profile()) && !apparmor_enabled() {
        return Some(("process.apparmorProfile", "AppArmor"));
    }
    if set(process.selinux_label()) && !selinux_enabled() {
        return Some(("process.selinuxLabel", "SELinux"));
    }
    if mount_label.is_some_and(|l| !l.is_empty()) && !selinux_enabled() {
        return Some(("linux.mountLabel", "SELinux"));
    }
    None
}

/// Write `value` to this thread's LSM attribute `attr`, trying each path,
/// on a procfs only.
fn write_attr(paths: &[&str], value: &str, field: &str) -> Result<(), InitError> {
    let err = |e: rustix::io::Errno| InitError::Process {
        op: format!("{field}: write {value:?}"),
        errno: e.into(),
    };
    let mut last = rustix::io::Errno::NOENT;
    for path in paths {
        match rustix::fs::open(
            *path,
            OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        ) {
            Ok(fd) => {
                if !sys::fs::is_on(&fd, sys::fs::FsType::Proc).map_err(err)? {
                    return Err(InitError::NotProcfs {
                        path: path.into(),
                        why: "not on a procfs".into(),
                    });
                }
                rustix::io::write(&fd, value.as_bytes()).map_err(err)?;
                return Ok(());
            }
            Err(e) => last = e,
        }
    }
    Err(err(last))
}

/// Label the program `execve` will start, as the process asks.
pub(crate) fn label_exec(process: &Process) -> Result<(), InitError> {
    if let Some(profile) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        write_attr(
            &[
                "/proc/thread-self/attr/apparmor/exec",
                "/proc/thread-self/attr/exec",
            ],
            &format!("exec {profile}"),
            "process.apparmorProfile",
        )?;
    }
    if let Some(label) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        write_attr(
            &["/proc/thread-self/attr/exec"],
            label,
            "process.selinuxLabel",
        )?;
    }
    Ok(())
}
