//! `linux.seccomp`, compiled with libseccomp.
//!
//! As in runc: a syscall name libseccomp does not know (on this
//! architecture) is skipped; a rule whose action is the default action adds
//! nothing and is skipped; conditions on one argument are OR-ed (one rule
//! each), on different arguments AND-ed (one rule). The filter is loaded
//! last, just before `execve` (see `Launch` in the crate root); without
//! `noNewPrivileges` that needs CAP_SYS_ADMIN, which the process keeps
//! until right after the load.

use std::str::FromStr;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterAttr, ScmpFilterContext,
    ScmpSyscall,
};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall,
};

use crate::error::InitError;

/// What `features` reports: the actions, operators and flags this module
/// maps, and
/// the architectures a filter on this build's byte order can hold.
pub fn features() -> serde_json::Value {
    let actions = [
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_NOTIFY",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_LOG",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_TRAP",
    ];
    let operators = [
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_LE",
        "SCMP_CMP_LT",
        "SCMP_CMP_MASKED_EQ",
        "SCMP_CMP_NE",
    ];
    // A filter holds architectures of the host's byte order only, so
    // those are the ones a config for this build can use.
    #[cfg(target_endian = "little")]
    let archs = [
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM",
        "SCMP_ARCH_MIPSEL",
        "SCMP_ARCH_MIPSEL64",
        "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PPC64LE",
        "SCMP_ARCH_RISCV64",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X86_64",
    ];
    #[cfg(target_endian = "big")]
    let archs = [
        "SCMP_ARCH_MIPS",
        "SCMP_ARCH_MIPS64",
        "SCMP_ARCH_MIPS64N32",
        "SCMP_ARCH_PPC",
        "SCMP_ARCH_PPC64",
        "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X",
    ];
    let flags = [
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ];
    serde_json::json!({
        "enabled": true,
        "actions": actions,
        "operators": operators,
        "archs": archs,
        "knownFlags": flags,
        "supportedFlags": flags,
    })
}

/// A compiled filter: libseccomp compiles it (in the runtime, before the
/// fork, where it can be cached); crust loads the exported program itself,
/// so that every flag of the config reaches the kernel whatever the linked
/// libseccomp supports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Compiled {
    /// Classic BPF, `struct sock_filter` records; serialized (for the
    /// runtime's cache of programs) in hex: podman's profile compiles to
    /// ~13 KiB, which as a JSON array of numbers took 0.5 ms of every
    /// start to parse.
    #[serde(with = "hex")]
    pub program: Vec<u8>,
    /// `SECCOMP_FILTER_FLAG_*` for seccomp(2).
    pub flags: u32,
    /// Some rule notifies a user-space agent.
    pub notify: bool,
}

/// Whether a process under `s` may call `execveat` whatever its
/// arguments: no rule names it with conditions, and the rule that names it
/// (or the default) allows it.
pub fn allows_execveat(s: &LinuxSeccomp) -> bool {
    let allowing = |a| {
        matches!(
            a,
            LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog
        )
    };
    let mut action = s.default_action();
    for rule in s.syscalls().iter().flatten() {
        if rule.names().iter().any(|n| n == "execveat") {
            if rule.args().as_ref().is_some_and(|a| !a.is_empty()) {
                return false;
            }
            action = rule.action();
        }
    }
    allowing(action)
}

/// Whether `s` uses SCMP_ACT_NOTIFY anywhere.
pub fn uses_notify(s: &LinuxSeccomp) -> bool {
    s.default_action() == LinuxSeccompAction::ScmpActNotify
        || s.syscalls()
            .iter()
            .flatten()
            .any(|r| r.action() == LinuxSeccompAction::ScmpActNotify)
}

fn invalid(field: String, detail: impl Into<String>) -> InitError {
    InitError::Config {
        field,
        detail: detail.into(),
    }
}

fn lib_error(op: &str) -> impl FnOnce(libseccomp::error::SeccompError) -> InitError + '_ {
    move |e| InitError::Config {
        field: "linux.seccomp".into(),
        detail: format!("{op}: {e}"),
    }
}

/// An OCI action as libseccomp's, with the errno an ERRNO or TRACE action
/// returns (the rule's, else the default, else EPERM).
pub fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction, String> {
    let errno = i32::try_from(errno.unwrap_or(libc::EPERM as u32))
        .map_err(|_| "errnoRet out of range".to_string())?;
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(
            u16::try_from(errno)
                .map_err(|_| "errnoRet out of range for SCMP_ACT_TRACE".to_string())?,
        ),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    })
}

fn compare(arg: &oci_spec::runtime::LinuxSeccompArg) -> Result<ScmpArgCompare, String> {
    let index = u32::try_from(arg.index())
        .ok()
        .filter(|i| *i < 6)
        .ok_or("index must be below 6")?;
    let (op, datum) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, arg.value()),
        // value is the mask, valueTwo the datum, as runc reads them.
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(arg.value()),
            arg.value_two().unwrap_or(0),
        ),
    };
    Ok(ScmpArgCompare::new(index, op, datum))
}

/// The name of an OCI enum value as it is spelled in the config.
fn spelled<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Compile `linux.seccomp` into a program (for the host's architectures
/// and the libseccomp linked in: `library_version` keys a cache of it).
pub fn compile(s: &LinuxSeccomp) -> Result<Compiled, InitError> {
    let default = action(s.default_action(), s.default_errno_ret())
        .map_err(|d| invalid("linux.seccomp.defaultAction".into(), d))?;
    let mut ctx = ScmpFilterContext::new(default).map_err(lib_error("create the filter"))?;
    // A binary search on the syscall number instead of libseccomp's
    // default list by priority: the same action for every call, found in
    // ~9 comparisons instead of up to one per rule. The kernel runs the
    // program for each syscall number when it is loaded (to cache the
    // calls it always allows), so this makes loading podman's profile
    // 0.35 ms faster too (bench/results.md); compiling it takes ~1 ms
    // more, once per profile (the program is cached).
    ctx.set_filter_attr(ScmpFilterAttr::CtlOptimize, 2)
        .map_err(lib_error("ask for a binary tree"))?;
    // The filter's architectures: the native one, which libseccomp always
    // adds, and the config's.
    let mut archs = vec![ScmpArch::native()];
    for (i, arch) in s.architectures().iter().flatten().enumerate() {
        let name = spelled(arch);
        let a = ScmpArch::from_str(&name).map_err(|_| {
            invalid(
                format!("linux.seccomp.architectures[{i}]"),
                format!("unknown architecture {name}"),
            )
        })?;
        ctx.add_arch(a).map_err(|e| {
            invalid(
                format!("linux.seccomp.architectures[{i}]"),
                format!("add {name}: {e}"),
            )
        })?;
        archs.push(a);
    }
    let notify = uses_notify(s);
    let mut flags = if notify {
        sys::seccomp::FLAG_NEW_LISTENER
    } else {
        0
    };
    for flag in s.flags().iter().flatten() {
        flags |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => sys::seccomp::FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => sys::seccomp::FLAG_SPEC_ALLOW,
            // One thread: synchronizing threads has nothing to do.
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => 0,
            // The kernel takes it only with a listener: without one, no
            // notification is ever received, killable or not.
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv if notify => {
                sys::seccomp::FLAG_WAIT_KILLABLE_RECV
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        };
    }
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        add_rule(&mut ctx, i, rule, default, s.default_errno_ret())?;
    }
    let mut program = Vec::new();
    if !matches!(default, ScmpAction::Allow | ScmpAction::Log) {
        let names: Vec<&str> = s
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|r| r.names().iter().map(String::as_str))
            .collect();
        program = crate::enosys::prologue(&archs, &names);
    }
    program.extend(export(&ctx)?);
    Ok(Compiled {
        program,
        flags,
        notify,
    })
}

/// Bytes as a lowercase hex string.
mod hex {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        text.as_bytes()
            .chunks(2)
            .map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .filter(|p| p.len() == 2)
                    .and_then(|p| u8::from_str_radix(p, 16).ok())
                    .ok_or_else(|| D::Error::custom("not hex"))
            })
            .collect()
    }
}

/// The version of how `compile` makes a program of a profile (the settings
/// it gives libseccomp, the prologue it adds): part of the seccomp cache's
/// key.
pub const PROGRAM_FORMAT: u32 = 3;

/// libseccomp's API level: what the running kernel's seccomp accepts
/// (1 base, 2 TSYNC, 3 LOG and KILL_PROCESS, 4 SPEC_ALLOW, 5 NEW_LISTENER
/// for user notifications, 6 TSYNC_ESRCH, 7 WAIT_KILLABLE_RECV).
pub fn api_level() -> u32 {
    libseccomp::get_api()
}

/// The linked libseccomp's version, for keying compiled programs.
pub fn library_version() -> String {
    libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default()
}

/// The program libseccomp compiled, exported into a memfd and read back.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>, InitError> {
    let memfd = rustix::fs::memfd_create("seccomp", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(failed("memfd_create for the filter"))?;
    ctx.export_bpf(&memfd)
        .map_err(lib_error("export the filter"))?;
    let len = rustix::fs::fstat(&memfd)
        .map_err(failed("stat the filter"))?
        .st_size;
    let mut program = vec![0u8; usize::try_from(len).unwrap_or(0)];
    let n = rustix::io::pread(&memfd, &mut program, 0).map_err(failed("read the filter"))?;
    program.truncate(n);
    Ok(program)
}

fn add_rule(
    ctx: &mut ScmpFilterContext,
    i: usize,
    rule: &LinuxSyscall,
    default: ScmpAction,
    default_errno: Option<u32>,
) -> Result<(), InitError> {
    let field = format!("linux.seccomp.syscalls[{i}]");
    let act = action(rule.action(), rule.errno_ret().or(default_errno))
        .map_err(|d| invalid(format!("{field}.action"), d))?;
    if act == default {
        return Ok(());
    }
    let args = rule.args().as_deref().unwrap_or_default();
    let conds = args
        .iter()
        .enumerate()
        .map(|(j, a)| compare(a).map_err(|d| invalid(format!("{field}.args[{j}]"), d)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut indexes: Vec<usize> = args.iter().map(|a| a.index()).collect();
    indexes.sort_unstable();
    indexes.dedup();
    let one_rule_each = indexes.len() < args.len();
    for name in rule.names() {
        // Unknown here (another architecture's, or newer than libseccomp):
        // skipped, as runc does.
        let Ok(sys) = ScmpSyscall::from_name(name) else {
            continue;
        };
        let added = if conds.is_empty() {
            ctx.add_rule(act, sys)
        } else if one_rule_each {
            conds
                .iter()
                .try_for_each(|c| ctx.add_rule_conditional(act, sys, &[*c]).map(|_| ()))
                .map(|()| &mut *ctx)
        } else {
            ctx.add_rule_conditional(act, sys, &conds)
        };
        added.map_err(|e| invalid(field.clone(), format!("add a rule for {name}: {e}")))?;
    }
    Ok(())
}

/// A failed system call while loading the filter.
fn failed(op: &str) -> impl FnOnce(rustix::io::Errno) -> InitError {
    let op = format!("linux.seccomp: {op}");
    move |e| InitError::Process {
        op,
        errno: e.into(),
    }
}

/// Install `c` on this process; with a notifying rule, the
/// user-notification descriptor. Without no_new_privs set, the caller
/// holds CAP_SYS_ADMIN.
pub(crate) fn load(c: &Compiled) -> Result<Option<std::os::fd::OwnedFd>, InitError> {
    sys::seccomp::set_mode_filter(&c.program, c.flags).map_err(failed("load the filter"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seccomp(v: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn compiles_rules_with_conditions_and_skips_unknown_names() {
        let s = seccomp(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [
                {"names": ["mkdir", "no_such_syscall_anywhere"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 0, "value": 8, "op": "SCMP_CMP_NE"},
                    {"index": 0, "value": 0, "op": "SCMP_CMP_NE"}
                ]},
                {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}
            ]
        }));
        compile(&s).unwrap();
    }

    #[test]
    fn execveat_is_allowed_by_default_or_by_name_only() {
        use serde_json::json;
        let allow_all = json!({"defaultAction": "SCMP_ACT_ALLOW"});
        assert!(allows_execveat(&seccomp(allow_all)));
        let deny_all = json!({"defaultAction": "SCMP_ACT_ERRNO"});
        assert!(!allows_execveat(&seccomp(deny_all)));
        let listed = json!({"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["execve", "execveat"], "action": "SCMP_ACT_ALLOW"}]});
        assert!(allows_execveat(&seccomp(listed)));
        let blocked = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["execveat"], "action": "SCMP_ACT_ERRNO"}]});
        assert!(!allows_execveat(&seccomp(blocked)));
        let conditional = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["execveat"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 4, "value": 4096, "op": "SCMP_CMP_EQ"}]}]});
        assert!(!allows_execveat(&seccomp(conditional)));
    }

    #[test]
    fn errors_name_the_field() {
        let s = seccomp(
            serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 4294967295u32}),
        );
        assert!(
            matches!(compile(&s), Err(InitError::Config { field, .. }) if field == "linux.seccomp.defaultAction")
        );
        let s = seccomp(
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 0, "op": "SCMP_CMP_EQ"}]}]}),
        );
        assert!(
            matches!(compile(&s), Err(InitError::Config { field, .. }) if field == "linux.seccomp.syscalls[0].args[0]")
        );
    }
}
