//! `process.apparmorProfile`, `process.selinuxLabel` and `linux.mountLabel`:
//! applied when the host runs that security module, a clear error when it
//! does not (a profile silently not applied would be a weaker container
//! than the engine asked for).

use std::path::Path;

use oci_spec::runtime::Process;

use crate::error::InitError;
use crate::procfs::Proc;

/// Whether the host runs AppArmor.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'))
}

/// Whether the host runs SELinux.
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// A label of `process` whose security module the host does not run, as
/// (field, module).
pub fn missing_for_process(process: &Process) -> Option<(&'static str, &'static str)> {
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    if set(process.apparmor_profile()) && !apparmor_enabled() {
        return Some(("process.apparmorProfile", "AppArmor"));
    }
    if set(process.selinux_label()) && !selinux_enabled() {
        return Some(("process.selinuxLabel", "SELinux"));
    }
    None
}

/// `linux.mountLabel` set on a host without SELinux, as (field, module).
pub fn missing_for_mount_label(mount_label: Option<&str>) -> Option<(&'static str, &'static str)> {
    (mount_label.is_some_and(|l| !l.is_empty()) && !selinux_enabled())
        .then_some(("linux.mountLabel", "SELinux"))
}

/// Write `value` to the first of this process's LSM attribute files
/// `rels` that exists, through the container's procfs (see `procfs`).
fn write_attr(rels: &[&str], value: &str, field: &str) -> Result<(), InitError> {
    let proc = Proc::current()?;
    let mut last = rustix::io::Errno::NOENT;
    for rel in rels {
        match proc.write(&Proc::own(rel), value)? {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::NOENT) => last = rustix::io::Errno::NOENT,
            Err(e) => {
                last = e;
                break;
            }
        }
    }
    Err(InitError::Process {
        op: format!("{field}: write {value:?}"),
        errno: last.into(),
    })
}

/// Label the program `execve` will start, as the process asks.
pub(crate) fn label_exec(process: &Process) -> Result<(), InitError> {
    if let Some(profile) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        write_attr(
            &["attr/apparmor/exec", "attr/exec"],
            &format!("exec {profile}"),
            "process.apparmorProfile",
        )?;
    }
    if let Some(label) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        write_attr(&["attr/exec"], label, "process.selinuxLabel")?;
    }
    Ok(())
}
