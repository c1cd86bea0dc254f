//! A profile compiled as a chain of libseccomp filters, one for each
//! architecture and part of the names, made one program.

use libseccomp::{ScmpAction, ScmpArch, ScmpFilterAttr, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::LinuxSeccomp;

use super::rules::{action, add_rule, export, invalid, lib_error, spelled_arch, Arch};
use crate::bpf::{Insn, JA, RET_K};
use crate::error::InitError;

/// Names per libseccomp filter (`chained`). Smaller parts gain nothing
/// more, as each costs a filter of its own to set up and export; the
/// kernel loads the longer program as fast (podman's: 1665 instructions
/// against 1443 in one filter, the same 0.15 ms phase that loads it).
pub(super) const NAMES_PER_PART: usize = 32;

/// One program for all of `archs`: libseccomp programs chained one after
/// another, one for each architecture and part of the names
/// (`partition`). A program jumps to the next where the call is not of
/// its architecture or no rule of its part decides it; the last of an
/// architecture's parts returns the default action, and the very last
/// does what libseccomp does with another architecture (kills the
/// thread).
///
/// Why not one libseccomp filter with every architecture and rule: its
/// rule database and code generator take longer than linear in both.
/// Compiling podman's profile (434 names; x86-64, x86 and x32) took 13.6
/// ms in one filter, 6.4 ms in one per architecture and 2.4 ms in parts
/// of 32 names (`--debug`, the phase ending "seccomp program", on the
/// first start with the profile; the program is cached after). The
/// rules each architecture gets are the same either way: libseccomp keeps
/// a rule set per architecture and translates each rule into it by name;
/// and no two parts decide the same call.
pub(super) fn chained(
    s: &LinuxSeccomp,
    default: ScmpAction,
    archs: &[Arch],
    names_per_part: usize,
) -> Result<Vec<u8>, InitError> {
    let marker = next_part_marker(s, default);
    let next = ScmpAction::Trace(marker);
    let (part_of, parts) = partition(s, archs, names_per_part);
    let mut program = Vec::new();
    for (a, arch) in archs.iter().enumerate() {
        for part in 0..parts {
            let last_of_arch = part + 1 == parts;
            let last = last_of_arch && a + 1 == archs.len();
            let mut ctx = filter(
                s,
                *arch,
                if last_of_arch { default } else { next },
                (!last).then_some(next),
            )?;
            for (i, rule) in s.syscalls().iter().flatten().enumerate() {
                let names: Vec<&str> = rule
                    .names()
                    .iter()
                    .zip(&part_of[i])
                    .filter(|&(_, &p)| p == part)
                    .map(|(n, _)| n.as_str())
                    .collect();
                add_rule(&mut ctx, i, rule, &names, default, s.default_errno_ret())?;
            }
            let mut code = export(&ctx)?;
            if !last {
                jump_to_the_end(&mut code, marker);
            }
            program.extend(code);
        }
    }
    Ok(program)
}

/// A libseccomp filter for `arch` alone, with `default` for calls no rule
/// names and `badarch` (else libseccomp's: kill the thread) for calls of
/// other architectures.
fn filter(
    s: &LinuxSeccomp,
    Arch { arch, index }: Arch,
    default: ScmpAction,
    badarch: Option<ScmpAction>,
) -> Result<ScmpFilterContext, InitError> {
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
    if let Some(index) = index {
        // Added while the native one is there, so that libseccomp refuses
        // an architecture of the other byte order.
        ctx.add_arch(arch)
            .and_then(|c| c.remove_arch(ScmpArch::native()))
            .map_err(|e| {
                invalid(
                    format!("linux.seccomp.architectures[{index}]"),
                    format!("add {}: {e}", spelled_arch(s, index)),
                )
            })?;
    }
    if let Some(badarch) = badarch {
        ctx.set_act_badarch(badarch)
            .map_err(lib_error("set the action for other architectures"))?;
    }
    Ok(ctx)
}

/// The calls x86 (like s390 and ppc) also reaches through socketcall(2)
/// and ipc(2), and the two: libseccomp adds a rule for one of them to its
/// multiplexer as well, so their rules are all in one part.
#[rustfmt::skip]
const MULTIPLEXED: [&str; 34] = [
    "socketcall", "socket", "bind", "connect", "listen", "accept", "getsockname",
    "getpeername", "socketpair", "send", "recv", "sendto", "recvfrom", "shutdown",
    "setsockopt", "getsockopt", "sendmsg", "recvmsg", "accept4", "recvmmsg", "sendmmsg",
    "ipc", "semop", "semget", "semctl", "semtimedop", "msgsnd", "msgrcv", "msgget", "msgctl",
    "shmat", "shmdt", "shmget", "shmctl",
];

/// The part each name of each rule of `s` is compiled in (by rule, then
/// name), and the number of parts: names in the order the profile first
/// gives them, about `per_part` a part, and every name with its
/// namesakes: the names that are one call on some architecture of the
/// filter (aliases, and `MULTIPLEXED`) share a part, so that no two parts
/// decide the same call.
fn partition(s: &LinuxSeccomp, archs: &[Arch], per_part: usize) -> (Vec<Vec<usize>>, usize) {
    use std::collections::HashMap;
    let rules = || s.syscalls().iter().flatten();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut names: Vec<&str> = Vec::new();
    for name in rules().flat_map(|r| r.names().iter()) {
        index.entry(name).or_insert_with(|| {
            names.push(name);
            names.len() - 1
        });
    }
    // Union-find: each name points at an earlier namesake, or at itself.
    let mut joined: Vec<usize> = (0..names.len()).collect();
    let root = |joined: &mut Vec<usize>, mut n: usize| {
        while joined[n] != n {
            joined[n] = joined[joined[n]];
            n = joined[n];
        }
        n
    };
    // The calls a name's rules decide: its number on each architecture,
    // and for MULTIPLEXED names their multiplexers; the first name of each.
    #[derive(PartialEq, Eq, Hash)]
    enum Call {
        Nr { arch: usize, nr: i32 },
        Multiplexers,
    }
    let mut first: HashMap<Call, usize> = HashMap::with_capacity(names.len() * archs.len());
    for (n, name) in names.iter().enumerate() {
        let mut calls: Vec<Call> = archs
            .iter()
            .enumerate()
            .filter_map(|(arch, a)| {
                let nr = ScmpSyscall::from_name_by_arch(name, a.arch).ok()?;
                Some(Call::Nr {
                    arch,
                    nr: i32::from(nr),
                })
            })
            .collect();
        if MULTIPLEXED.contains(name) {
            calls.push(Call::Multiplexers);
        }
        for call in calls {
            let namesake = *first.entry(call).or_insert(n);
            let (r1, r2) = (root(&mut joined, namesake), root(&mut joined, n));
            joined[r1.max(r2)] = r1.min(r2);
        }
    }
    let mut part_of_root: Vec<Option<usize>> = vec![None; names.len()];
    let mut part_of_name = Vec::with_capacity(names.len());
    let (mut parts, mut filled) = (0, 0);
    for n in 0..names.len() {
        let r = root(&mut joined, n);
        let part = *part_of_root[r].get_or_insert_with(|| {
            if parts == 0 || filled >= per_part {
                parts += 1;
                filled = 0;
            }
            parts - 1
        });
        filled += 1;
        part_of_name.push(part);
    }
    let by_rule = rules()
        .map(|r| {
            r.names()
                .iter()
                .map(|n| part_of_name[index[n.as_str()]])
                .collect()
        })
        .collect();
    (by_rule, parts.max(1))
}

/// `SECCOMP_RET_TRACE`, to which libseccomp adds the action's data.
const RET_TRACE: u32 = 0x7ff0_0000;

/// A `SCMP_ACT_TRACE` value no rule of `s` returns, for a program to say
/// "not mine: the next part's" before `jump_to_the_end` turns it into a
/// jump.
fn next_part_marker(s: &LinuxSeccomp, default: ScmpAction) -> u16 {
    let mut used = vec![default];
    for rule in s.syscalls().iter().flatten() {
        if let Ok(a) = action(rule.action(), rule.errno_ret().or(s.default_errno_ret())) {
            used.push(a);
        }
    }
    (0..=u16::MAX)
        .rev()
        .find(|v| !used.contains(&ScmpAction::Trace(*v)))
        .expect("a profile has fewer rules than there are values")
}

/// Turn every `ret` of `marker` (`SCMP_ACT_TRACE(marker)`) in `program`
/// into a jump past its end.
fn jump_to_the_end(program: &mut [u8], marker: u16) {
    let ret = RET_TRACE | u32::from(marker);
    let len = program.len() / 8;
    for (pc, bytes) in program.chunks_exact_mut(8).enumerate() {
        let insn = Insn::read(bytes);
        if insn.code == RET_K && insn.k == ret {
            let ja = Insn {
                code: JA,
                jt: 0,
                jf: 0,
                k: u32::try_from(len - pc - 1).expect("a program of fewer than 2^32 insns"),
            };
            bytes.copy_from_slice(&ja.bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::{audit_arch, SeccompData as Call, X32_BIT};
    use crate::seccomp::rules::architectures;
    use crate::seccomp::tests::seccomp;

    /// What the program returns for `call` (it always returns).
    fn interpret(program: &[u8], call: &Call) -> u32 {
        crate::bpf::run(program, call).expect("a seccomp program returns")
    }

    /// The program libseccomp makes of `s` with every architecture in one
    /// filter, as crust compiled it before chaining one per architecture.
    fn one_filter(s: &LinuxSeccomp) -> Vec<u8> {
        let default = action(s.default_action(), s.default_errno_ret()).unwrap();
        let mut ctx = ScmpFilterContext::new(default).unwrap();
        ctx.set_filter_attr(ScmpFilterAttr::CtlOptimize, 2).unwrap();
        for a in architectures(s).unwrap().iter().skip(1) {
            ctx.add_arch(a.arch).unwrap();
        }
        for (i, rule) in s.syscalls().iter().flatten().enumerate() {
            let names: Vec<&str> = rule.names().iter().map(String::as_str).collect();
            add_rule(&mut ctx, i, rule, &names, default, s.default_errno_ret()).unwrap();
        }
        export(&ctx).unwrap()
    }

    /// Every call number on x86-64, x32, x86 and arm64 (an architecture a
    /// filter may or may not hold), with arguments made of the values the
    /// rules compare with, their neighbours and the 32-bit edges.
    fn calls(s: &LinuxSeccomp) -> Vec<Call> {
        let mut values = vec![0u64, 1, u64::from(u32::MAX), 1 << 32, u64::MAX];
        for arg in s
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|r| r.args().iter().flatten())
        {
            for v in [arg.value(), arg.value_two().unwrap_or(0)] {
                values.extend([v, v.wrapping_add(1), v.wrapping_sub(1), v | 1 << 40]);
            }
        }
        values.sort_unstable();
        values.dedup();
        let mut calls = Vec::new();
        let archs = [ScmpArch::X8664, ScmpArch::X86, ScmpArch::Aarch64].map(audit_arch);
        for arch in archs.into_iter().flatten() {
            let nrs = (0..1100).chain((0..600).map(|n| n | X32_BIT));
            for nr in nrs.chain([0x3FFF_FFFF, u32::MAX]) {
                calls.push(Call {
                    arch,
                    nr,
                    args: [0; 6],
                });
            }
            // The calls the rules name with arguments, on this
            // architecture, and x86's multiplexers.
            let conditional = [102, 117, X32_BIT | 41].into_iter().chain(
                s.syscalls()
                    .iter()
                    .flatten()
                    .filter(|r| r.args().as_ref().is_some_and(|a| !a.is_empty()))
                    .flat_map(|r| r.names().iter())
                    .flat_map(|n| {
                        [ScmpArch::X8664, ScmpArch::X86, ScmpArch::X32]
                            .into_iter()
                            .filter_map(move |a| ScmpSyscall::from_name_by_arch(n, a).ok())
                    })
                    .filter_map(|s| u32::try_from(i32::from(s)).ok()),
            );
            for nr in conditional {
                for (j, &v) in values.iter().enumerate() {
                    let w = values[(j * 7 + 3) % values.len()];
                    calls.push(Call {
                        arch,
                        nr,
                        args: [v; 6],
                    });
                    calls.push(Call {
                        arch,
                        nr,
                        args: [v, w, v, w, v, w],
                    });
                    calls.push(Call {
                        arch,
                        nr,
                        args: [w, v, w, v, w, v],
                    });
                }
            }
        }
        calls
    }

    /// The program `compile` chains for `s` returns what one libseccomp
    /// filter with all of it returns, for every call of `calls`, in parts
    /// of the usual size and of a few names each.
    fn same_actions_as_one_filter(s: serde_json::Value) {
        let s = seccomp(s);
        let one = one_filter(&s);
        let default = action(s.default_action(), s.default_errno_ret()).unwrap();
        let calls = calls(&s);
        for per_part in [NAMES_PER_PART, 1, 3] {
            let chained = chained(&s, default, &architectures(&s).unwrap(), per_part).unwrap();
            let mut differ = Vec::new();
            for call in &calls {
                let (a, b) = (interpret(&chained, call), interpret(&one, call));
                if a != b {
                    differ.push(format!(
                        "arch {:#x} nr {:#x} args {:x?}: {a:#x}, one filter {b:#x}",
                        call.arch, call.nr, call.args
                    ));
                }
            }
            assert!(
                differ.is_empty(),
                "parts of {per_part}: {} calls differ, first: {:?}",
                differ.len(),
                &differ[..differ.len().min(5)]
            );
        }
    }

    #[test]
    fn one_program_per_architecture_acts_as_one_filter_for_podmans_profile() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../../../../bench/podman-config.json")).unwrap();
        let profile = config["linux"]["seccomp"].clone();
        for archs in [
            serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
            serde_json::json!(["SCMP_ARCH_X32", "SCMP_ARCH_X86"]),
            serde_json::json!([]),
        ] {
            let mut p = profile.clone();
            p["architectures"] = archs;
            same_actions_as_one_filter(p);
        }
    }

    #[test]
    fn one_program_per_architecture_acts_as_one_filter_for_every_operator_and_action() {
        use serde_json::json;
        let rules = json!([
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["getpid"], "action": "SCMP_ACT_TRACE", "errnoRet": 65535},
            {"names": ["getppid"], "action": "SCMP_ACT_TRACE"},
            {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["tkill"], "action": "SCMP_ACT_KILL"},
            {"names": ["uname"], "action": "SCMP_ACT_LOG"},
            {"names": ["sethostname"], "action": "SCMP_ACT_TRAP"},
            {"names": ["ioctl"], "action": "SCMP_ACT_NOTIFY"},
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]},
            {"names": ["bind", "shmat", "semop"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["connect"], "action": "SCMP_ACT_LOG", "args": [{"index": 2, "value": 16, "op": "SCMP_CMP_GT"}]},
            {"names": ["ipc", "msgget"], "action": "SCMP_ACT_TRAP"},
            {"names": ["socketcall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7},
            {"names": ["getcwd", "read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5, "args": [{"index": 2, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["umount", "umount2", "_llseek", "newfstatat", "fstatat64"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 0, "value": 8, "op": "SCMP_CMP_NE"},
                {"index": 0, "value": 0, "op": "SCMP_CMP_NE"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["mmap"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 2, "value": 7, "op": "SCMP_CMP_GE"},
                {"index": 3, "value": 4294967296u64, "op": "SCMP_CMP_LT"}]},
            {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 1, "value": 100, "op": "SCMP_CMP_GT"},
                {"index": 2, "value": 2, "op": "SCMP_CMP_LE"}]},
            {"names": ["openat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2, "args": [
                {"index": 2, "value": 18446744073709551615u64, "op": "SCMP_CMP_EQ"}]}
        ]);
        for default in ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS"] {
            for archs in [
                json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
                json!(["SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"]),
                json!(["SCMP_ARCH_X32"]),
            ] {
                same_actions_as_one_filter(json!({
                    "defaultAction": default, "architectures": archs, "syscalls": rules.clone()}));
            }
        }
    }
}
