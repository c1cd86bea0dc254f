//! A profile in libseccomp's terms: its actions, conditions,
//! architectures and rules, added to one libseccomp filter.

use std::str::FromStr;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator, LinuxSyscall};

use crate::error::InitError;

/// A config error at `field`.
pub(super) fn invalid(field: String, detail: impl Into<String>) -> InitError {
    InitError::Config {
        field,
        detail: detail.into(),
    }
}

/// libseccomp refused `op` on the profile.
pub(super) fn lib_error(
    op: &str,
) -> impl FnOnce(libseccomp::error::SeccompError) -> InitError + '_ {
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

/// A condition of a rule in libseccomp's terms.
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

/// An architecture of the filter, and the config field naming it (none
/// for the native one, which libseccomp always adds).
#[derive(Clone, Copy)]
pub(super) struct Arch {
    pub(super) arch: ScmpArch,
    pub(super) index: Option<usize>,
}

/// The filter's architectures: the native one, then the config's, each
/// once.
pub(super) fn architectures(s: &LinuxSeccomp) -> Result<Vec<Arch>, InitError> {
    let mut archs = vec![Arch {
        arch: ScmpArch::native(),
        index: None,
    }];
    for (i, arch) in s.architectures().iter().flatten().enumerate() {
        let name = spelled(arch);
        let a = ScmpArch::from_str(&name).map_err(|_| {
            invalid(
                format!("linux.seccomp.architectures[{i}]"),
                format!("unknown architecture {name}"),
            )
        })?;
        if !archs.iter().any(|known| known.arch == a) {
            archs.push(Arch {
                arch: a,
                index: Some(i),
            });
        }
    }
    Ok(archs)
}

/// How the config spells its `index`th architecture.
pub(super) fn spelled_arch(s: &LinuxSeccomp, index: usize) -> String {
    s.architectures()
        .iter()
        .flatten()
        .nth(index)
        .map(spelled)
        .unwrap_or_default()
}

/// The program libseccomp compiled, exported into a memfd and read back.
pub(super) fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>, InitError> {
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

/// Add to `ctx` the rules the config's `i`th rule makes for `names` (some
/// or all of its names; none still checks its action and conditions).
pub(super) fn add_rule(
    ctx: &mut ScmpFilterContext,
    i: usize,
    rule: &LinuxSyscall,
    names: &[&str],
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
    for name in names {
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
pub(super) fn failed(op: &str) -> impl FnOnce(rustix::io::Errno) -> InitError {
    let op = format!("linux.seccomp: {op}");
    move |e| InitError::Process {
        op,
        errno: e.into(),
    }
}
