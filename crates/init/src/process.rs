//! The process attributes applied last, after the pivot: rlimits, user and
//! groups, capabilities, `noNewPrivileges`, umask, cwd, and the executable.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Capability, LinuxCapabilities, PosixRlimit, Process};
use rustix::fs::{Access, Mode};
use rustix::thread::{CapabilitySet, CapabilitySets};

use crate::caps;
use crate::error::InitError;

/// What `execve` needs, resolved before `Ready` is sent so that a missing
/// executable fails `create`, not `start` (as in runc).
#[derive(Debug)]
pub struct Executable {
    pub path: CString,
    pub args: Vec<CString>,
    pub env: Vec<CString>,
}

pub(crate) fn set_rlimits(rlimits: &[PosixRlimit]) -> Result<(), InitError> {
    for rl in rlimits {
        let name = rl.typ().to_string();
        let resource = rlimit_resource(&name).ok_or_else(|| InitError::Config {
            field: "process.rlimits".into(),
            detail: format!("unknown rlimit {name:?}"),
        })?;
        let value = libc::rlimit {
            rlim_cur: rl.soft(),
            rlim_max: rl.hard(),
        };
        rustix::process::setrlimit(
            resource,
            rustix::process::Rlimit {
                current: Some(value.rlim_cur).filter(|v| *v != libc::RLIM_INFINITY),
                maximum: Some(value.rlim_max).filter(|v| *v != libc::RLIM_INFINITY),
            },
        )
        .map_err(|e| InitError::Rlimit {
            kind: name.clone(),
            errno: e.into(),
        })?;
    }
    Ok(())
}

fn rlimit_resource(name: &str) -> Option<rustix::process::Resource> {
    use rustix::process::Resource as R;
    Some(match name.trim_start_matches("RLIMIT_") {
        "CPU" => R::Cpu,
        "FSIZE" => R::Fsize,
        "DATA" => R::Data,
        "STACK" => R::Stack,
        "CORE" => R::Core,
        "RSS" => R::Rss,
        "NPROC" => R::Nproc,
        "NOFILE" => R::Nofile,
        "MEMLOCK" => R::Memlock,
        "AS" => R::As,
        "LOCKS" => R::Locks,
        "SIGPENDING" => R::Sigpending,
        "MSGQUEUE" => R::Msgqueue,
        "NICE" => R::Nice,
        "RTPRIO" => R::Rtprio,
        "RTTIME" => R::Rttime,
        _ => return None,
    })
}

fn cap_set(
    caps: Option<&std::collections::HashSet<Capability>>,
    last: u32,
) -> Result<CapabilitySet, InitError> {
    let mut set = CapabilitySet::empty();
    for cap in caps.into_iter().flatten() {
        let name = format!("CAP_{cap}");
        let n = caps::number(&name).ok_or_else(|| InitError::Config {
            field: "process.capabilities".into(),
            detail: format!("unknown capability {name}"),
        })?;
        // One this kernel does not know: skipped (the runtime warned).
        if n <= last {
            set |= CapabilitySet::from_bits_retain(1u64 << n);
        }
    }
    Ok(set)
}

/// The five sets of `process.capabilities`, as bit sets.
#[derive(Clone, Copy)]
pub(crate) struct CapSets {
    /// The highest capability the kernel knows (`Init::last_cap`).
    last: u32,
    bounding: CapabilitySet,
    sets: CapabilitySets,
    ambient: CapabilitySet,
}

impl CapSets {
    pub(crate) fn from_spec(
        caps: Option<&LinuxCapabilities>,
        last: u32,
    ) -> Result<CapSets, InitError> {
        let get = |f: fn(&LinuxCapabilities) -> &Option<std::collections::HashSet<Capability>>| {
            cap_set(caps.and_then(|c| f(c).as_ref()), last)
        };
        Ok(CapSets {
            last,
            bounding: get(LinuxCapabilities::bounding)?,
            sets: CapabilitySets {
                effective: get(LinuxCapabilities::effective)?,
                permitted: get(LinuxCapabilities::permitted)?,
                inheritable: get(LinuxCapabilities::inheritable)?,
            },
            ambient: get(LinuxCapabilities::ambient)?,
        })
    }
}

impl CapSets {
    /// These sets with CAP_SYS_ADMIN effective and permitted as well (the
    /// bounding set stays as it is: it limits what `execve` grants, not
    /// what the process holds); `None` when they have it already.
    pub(crate) fn plus_sys_admin(&self) -> Option<CapSets> {
        let admin = CapabilitySet::SYS_ADMIN;
        if self.sets.effective.contains(admin) && self.sets.permitted.contains(admin) {
            return None;
        }
        let mut more = *self;
        more.sets.effective |= admin;
        more.sets.permitted |= admin;
        Some(more)
    }
}

fn cap_error(op: &str, e: rustix::io::Errno) -> InitError {
    InitError::Capabilities {
        op: op.to_string(),
        errno: e.into(),
    }
}

/// Drop every capability outside the bounding set. Done while still fully
/// privileged (dropping needs CAP_SETPCAP).
pub(crate) fn drop_bounding(caps: &CapSets) -> Result<(), InitError> {
    for n in 0..=caps.last {
        let cap = CapabilitySet::from_bits_retain(1u64 << n);
        if !caps.bounding.contains(cap) {
            rustix::thread::remove_capability_from_bounding_set(cap)
                .map_err(|e| cap_error(&format!("drop capability {n} from the bounding set"), e))?;
        }
    }
    Ok(())
}

/// Become `process.user`, keeping capabilities across the uid change so
/// that `apply_caps` can then set exactly the configured ones.
/// In a user namespace whose gid map root (or newgidmap) wrote, setgroups(2)
/// works; a rootless runtime mapping only its own gid had to deny it.
pub(crate) fn set_user(process: &Process) -> Result<(), InitError> {
    let user = process.user();
    let err = |op: String| {
        move |e: rustix::io::Errno| InitError::Credentials {
            op,
            errno: e.into(),
        }
    };
    rustix::thread::set_keep_capabilities(true).map_err(err("prctl(PR_SET_KEEPCAPS)".into()))?;
    let groups: Vec<rustix::process::Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| rustix::process::Gid::from_raw(*g))
        .collect();
    match rustix::thread::set_thread_groups(&groups) {
        // A rootless runtime had to deny setgroups(2) to map its gid: with
        // no additional groups asked for, there is nothing to set.
        Err(rustix::io::Errno::PERM) if groups.is_empty() => {}
        other => other.map_err(err(format!("setgroups {:?}", user.additional_gids())))?,
    }
    let gid = rustix::process::Gid::from_raw(user.gid());
    rustix::thread::set_thread_res_gid(gid, gid, gid)
        .map_err(err(format!("setresgid {}", user.gid())))?;
    let uid = rustix::process::Uid::from_raw(user.uid());
    rustix::thread::set_thread_res_uid(uid, uid, uid)
        .map_err(err(format!("setresuid {}", user.uid())))?;
    rustix::thread::set_keep_capabilities(false)
        .map_err(err("prctl(PR_SET_KEEPCAPS, 0)".into()))?;
    rustix::process::umask(Mode::from_bits_truncate(user.umask().unwrap_or(0o022)));
    Ok(())
}

/// Set the effective, permitted and inheritable sets, then raise ambient
/// capabilities. Like runc, an ambient capability the kernel refuses to
/// raise (one not also permitted and inheritable) is skipped.
pub(crate) fn apply_caps(caps: &CapSets) -> Result<(), InitError> {
    set_sets(caps)?;
    rustix::thread::clear_ambient_capability_set()
        .map_err(|e| cap_error("clear the ambient set", e))?;
    for n in 0..=caps.last {
        let cap = CapabilitySet::from_bits_retain(1u64 << n);
        if caps.ambient.contains(cap) {
            let _ = rustix::thread::configure_capability_in_ambient_set(cap, true);
        }
    }
    Ok(())
}

/// Set the effective, permitted and inheritable sets alone: one `capset`,
/// the only call crust makes under a filter loaded without
/// no_new_privs (ambient capabilities stay those raised before, which the
/// new sets still allow: they differ from the earlier ones only by
/// CAP_SYS_ADMIN).
pub(crate) fn set_sets(caps: &CapSets) -> Result<(), InitError> {
    rustix::thread::set_capabilities(None, caps.sets).map_err(|e| cap_error("capset", e))
}

/// Change to `process.cwd` before the uid change, as runc does: the
/// runtime may reach a directory the container's user cannot (then it
/// stays there). False when permission was denied: `enter_cwd` tries
/// again as the user, who may reach what the runtime cannot (a volume
/// owned by the user on a root-squashing filesystem).
pub(crate) fn enter_cwd_as_runtime(cwd: &Path) -> Result<bool, InitError> {
    match enter_cwd(cwd) {
        Ok(()) => Ok(true),
        Err(InitError::Cwd { errno, .. }) if matches!(errno.0, libc::EACCES | libc::EPERM) => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Change to `process.cwd` as the container user: after the pivot, so the
/// path can only name a directory inside the container.
///
/// The result is checked too: a cwd such as `/proc/self/fd/N` naming a
/// descriptor the runtime still holds could land outside the container's
/// root, which the kernel reports by prefixing `getcwd` with
/// `(unreachable)` (CVE-2024-21626).
pub(crate) fn enter_cwd(cwd: &Path) -> Result<(), InitError> {
    let err = |e: rustix::io::Errno| InitError::Cwd {
        path: cwd.to_path_buf(),
        errno: e.into(),
    };
    rustix::process::chdir(cwd).map_err(err)?;
    let now = rustix::process::getcwd(Vec::new()).map_err(err)?;
    if !now.as_bytes().starts_with(b"/") {
        return Err(InitError::Config {
            field: "process.cwd".into(),
            detail: format!("{cwd:?} leads outside the container ({now:?})"),
        });
    }
    Ok(())
}

/// Resolve `process.args[0]` through the `PATH` of `process.env`, as
/// `execvp` would, and build the `execve` arguments. Adds `HOME` when the
/// environment lacks it, as runc does.
pub(crate) fn executable(process: &Process) -> Result<Executable, InitError> {
    let args = process.args().as_deref().unwrap_or_default();
    let name = args.first().ok_or_else(|| InitError::Config {
        field: "process.args".into(),
        detail: "must not be empty".into(),
    })?;
    let mut env = dedup_env(process.env().as_deref().unwrap_or_default());
    let path = lookup(name, &env)?;
    // An empty HOME is no HOME: it comes from /etc/passwd (as in runc).
    env.retain(|e| e != "HOME=");
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home_of(process.user().uid())));
    }
    let cstring = |s: &[u8], field: &str| {
        CString::new(s).map_err(|_| InitError::Config {
            field: field.into(),
            detail: "contains a NUL byte".into(),
        })
    };
    Ok(Executable {
        path: cstring(path.as_os_str().as_bytes(), "process.args[0]")?,
        args: args
            .iter()
            .map(|a| cstring(a.as_bytes(), "process.args"))
            .collect::<Result<_, _>>()?,
        env: env
            .iter()
            .map(|e| cstring(e.as_bytes(), "process.env"))
            .collect::<Result<_, _>>()?,
    })
}

/// Each variable once, with its last value, where it first appeared (runc
/// passes the environment so; a program would otherwise see the first).
fn dedup_env(env: &[String]) -> Vec<String> {
    fn key(e: &str) -> &str {
        e.split_once('=').map_or(e, |(k, _)| k)
    }
    let mut out: Vec<String> = Vec::with_capacity(env.len());
    for e in env {
        match out.iter_mut().find(|o| key(o) == key(e)) {
            Some(slot) => *slot = e.clone(),
            None => out.push(e.clone()),
        }
    }
    out
}

fn lookup(name: &str, env: &[String]) -> Result<PathBuf, InitError> {
    let exec_error = |path: &Path, e: rustix::io::Errno| InitError::Exec {
        path: path.to_path_buf(),
        errno: e.into(),
    };
    if name.contains('/') {
        let path = PathBuf::from(name);
        check_executable(&path).map_err(|e| exec_error(&path, e))?;
        return Ok(path);
    }
    let search = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("");
    for dir in search.split(':') {
        let candidate = Path::new(if dir.is_empty() { "." } else { dir }).join(name);
        if check_executable(&candidate).is_ok() {
            return Ok(candidate);
        }
    }
    Err(InitError::NotInPath {
        name: name.to_string(),
    })
}

/// A regular file this process may execute, judged with its effective
/// ids and capabilities (`CAP_DAC_OVERRIDE` lets a user other than root
/// execute a file with any execute bit), as `execve` will judge it.
fn check_executable(path: &Path) -> Result<(), rustix::io::Errno> {
    check_executable_at_depth(path, 0)
}

/// The kernel follows at most this many `#!` interpreters.
const MAX_INTERPRETERS: u32 = 4;

fn check_executable_at_depth(path: &Path, depth: u32) -> Result<(), rustix::io::Errno> {
    let st = rustix::fs::stat(path)?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        return Err(rustix::io::Errno::ACCESS);
    }
    rustix::fs::accessat(
        rustix::fs::CWD,
        path,
        Access::EXEC_OK,
        rustix::fs::AtFlags::EACCESS,
    )?;
    // A script whose interpreter is missing fails in execve with ENOENT;
    // said here, before `Ready`, it is an error of `create` with its
    // cause, not the exec trampoline's bare message after `start`.
    match interpreter(path) {
        Some(_) if depth >= MAX_INTERPRETERS => Err(rustix::io::Errno::LOOP),
        Some(interp) => check_executable_at_depth(&interp, depth + 1),
        None => Ok(()),
    }
}

/// The interpreter a `#!` line names, if the file starts with one.
fn interpreter(path: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|b| *b == b'\n').unwrap_or(line.len())];
    let name = line
        .split(|b| *b == b' ' || *b == b'\t')
        .find(|w| !w.is_empty())?;
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(name)))
}

/// The home directory of `uid` in the container's `/etc/passwd`, or `/`.
fn home_of(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[2].parse() == Ok(uid))
        .map(|f| f[5].to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".to_string())
}

/// `process.oomScoreAdj` for an `exec`'d process, written through the
/// container's procfs (see `procfs`) before capabilities are dropped. The
/// init's is written by the runtime, from outside.
pub(crate) fn set_oom_score_adj(adj: i32) -> Result<(), InitError> {
    crate::procfs::Proc::current()?
        .write(&crate::procfs::Proc::own("oom_score_adj"), &adj.to_string())?
        .map_err(|e| InitError::Process {
            op: "process.oomScoreAdj: write oom_score_adj".into(),
            errno: e.into(),
        })
}

/// Whether `name` is an rlimit crust can set (for validation on the host).
pub fn is_known_rlimit(name: &str) -> bool {
    rlimit_resource(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rlimit_names() {
        assert!(is_known_rlimit("RLIMIT_NOFILE"));
        assert!(is_known_rlimit("RLIMIT_RTTIME"));
        assert!(!is_known_rlimit("RLIMIT_BOGUS"));
    }

    #[test]
    fn capability_display_matches_spec_names() {
        let set: std::collections::HashSet<Capability> =
            [Capability::NetBindService, Capability::SysAdmin]
                .into_iter()
                .collect();
        let bits = cap_set(Some(&set), 40).unwrap();
        assert_eq!(bits.bits(), (1 << 10) | (1 << 21));
        // One the kernel does not know is left out.
        assert_eq!(cap_set(Some(&set), 20).unwrap().bits(), 1 << 10);
    }

    #[test]
    fn the_environment_has_each_variable_once_with_its_last_value() {
        let env: Vec<String> = ["ONE=two", "PATH=/bin", "ONE=", "X=a=b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(dedup_env(&env), ["ONE=", "PATH=/bin", "X=a=b"]);
    }

    #[test]
    fn lookup_uses_path_from_env() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(lookup("sh", &env).unwrap().ends_with("sh"));
        assert!(matches!(
            lookup("no-such-binary-crust", &env),
            Err(InitError::NotInPath { .. })
        ));
        assert!(matches!(
            lookup("/no/such/file", &env),
            Err(InitError::Exec { .. })
        ));
    }
}
