//! `linux.seccomp`, compiled with libseccomp.
//!
//! As in runc: a syscall name libseccomp does not know (on this
//! architecture) is skipped; a rule whose action is the default action adds
//! nothing and is skipped; conditions on one argument are OR-ed (one rule
//! each), on different arguments AND-ed (one rule). The filter is loaded
//! last, just before `execve` (see `Launch` in the crate root); without
//! `noNewPrivileges` that needs CAP_SYS_ADMIN, which the process keeps
//! until right after the load.
//!
//! `rules` says a profile in libseccomp's terms, `chain` makes one program
//! of it from libseccomp filters, this module the config's flags and the
//! program's cacheable form.

mod chain;
mod rules;

use libseccomp::{ScmpAction, ScmpArch};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag};

use crate::error::InitError;
use chain::{chained, NAMES_PER_PART};
pub use rules::action;
use rules::{architectures, failed, invalid};

/// What `features` reports: the actions, operators and flags this module
/// maps, and the architectures a filter on this build's byte order can
/// hold.
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

/// Compile `linux.seccomp` into a program (for the host's architectures
/// and the libseccomp linked in: `library_version` keys a cache of it).
pub fn compile(s: &LinuxSeccomp) -> Result<Compiled, InitError> {
    compile_in_parts(s, NAMES_PER_PART)
}

/// The most instructions the kernel takes in one filter (`BPF_MAXINSNS`).
const MAX_INSNS: usize = 4096;

/// `compile`, with rules compiled in parts of about `per_part` names.
fn compile_in_parts(s: &LinuxSeccomp, per_part: usize) -> Result<Compiled, InitError> {
    let default = action(s.default_action(), s.default_errno_ret())
        .map_err(|d| invalid("linux.seccomp.defaultAction".into(), d))?;
    let archs = architectures(s)?;
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
    let mut program = Vec::new();
    if !matches!(default, ScmpAction::Allow | ScmpAction::Log) {
        let names: Vec<&str> = s
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|r| r.names().iter().map(String::as_str))
            .collect();
        let archs: Vec<ScmpArch> = archs.iter().map(|a| a.arch).collect();
        program = crate::enosys::prologue(&archs, &names);
    }
    let mut rules = chained(s, default, &archs, per_part)?;
    if (program.len() + rules.len()) / 8 > MAX_INSNS {
        // Each part costs a few instructions: where they make the program
        // longer than the kernel takes, one part per architecture.
        rules = chained(s, default, &archs, usize::MAX)?;
    }
    program.extend(rules);
    Ok(Compiled {
        program,
        flags,
        notify,
    })
}

/// Bytes as a lowercase hex string.
mod hex {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    const DIGITS: &[u8; 16] = b"0123456789abcdef";

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let mut text = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            text.push(char::from(DIGITS[usize::from(b >> 4)]));
            text.push(char::from(DIGITS[usize::from(b & 0xf)]));
        }
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        let nibble = |c: u8| char::from(c).to_digit(16);
        text.as_bytes()
            .chunks(2)
            .map(|pair| match pair {
                [hi, lo] => nibble(*hi).zip(nibble(*lo)),
                _ => None,
            })
            .map(|n| {
                n.and_then(|(hi, lo)| u8::try_from(hi << 4 | lo).ok())
                    .ok_or_else(|| D::Error::custom("not hex"))
            })
            .collect()
    }
}

/// The version of how `compile` makes a program of a profile (the settings
/// it gives libseccomp, the prologue it adds): part of the seccomp cache's
/// key.
pub const PROGRAM_FORMAT: u32 = 4;

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

/// Install `c` on this process; with a notifying rule, the
/// user-notification descriptor. Without no_new_privs set, the caller
/// holds CAP_SYS_ADMIN.
pub(crate) fn load(c: &Compiled) -> Result<Option<std::os::fd::OwnedFd>, InitError> {
    sys::seccomp::set_mode_filter(&c.program, c.flags).map_err(failed("load the filter"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use libseccomp::ScmpSyscall;

    pub(super) fn seccomp(v: serde_json::Value) -> LinuxSeccomp {
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

    /// Parts cost instructions: a profile they would make too long for
    /// the kernel is compiled in one part per architecture instead.
    #[test]
    fn parts_that_make_the_program_too_long_are_given_up() {
        let names: Vec<String> = (0..500)
            .filter_map(|nr| ScmpSyscall::from(nr).get_name_by_arch(ScmpArch::X8664).ok())
            .collect();
        let s = seccomp(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]}));
        let default = action(s.default_action(), s.default_errno_ret()).unwrap();
        let archs = architectures(&s).unwrap();
        assert!(chained(&s, default, &archs, 1).unwrap().len() / 8 > MAX_INSNS);
        let program = compile_in_parts(&s, 1).unwrap().program;
        assert!(program.len() / 8 <= MAX_INSNS);
        assert_eq!(program, compile_in_parts(&s, usize::MAX).unwrap().program);
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
