//! The `-ENOSYS` prologue of a seccomp program, as runc adds it.
//!
//! A profile lists the system calls its authors knew. A call newer than
//! every call it names would get the profile's default action, usually
//! `EPERM`, and C libraries only fall back to an older call on `ENOSYS`
//! (glibc's `clone3` → `clone`, `faccessat2` → `faccessat`, ...): a
//! container with an old profile would break on a new kernel. So, unless
//! the default action allows everything anyway, a call whose number is
//! above the highest one the profile names (on that architecture) returns
//! `ENOSYS`, as if the kernel were as old as the profile.
//!
//! The prologue is classic BPF placed before libseccomp's program, one
//! block per architecture of the filter:
//!
//! ```text
//!        ld   [arch]
//!        jeq  AUDIT_ARCH, 0, next block
//!        ld   [nr]
//!        jset X32_BIT, x32 check, 0          (x86-64 only)
//!        jgt  HIGHEST, enosys, program
//!        jgt  HIGHEST_X32, enosys, program   (x86-64 only)
//!  next block: ...
//!  enosys: ret ERRNO(ENOSYS)
//!  program: libseccomp's program, unchanged
//! ```

use libseccomp::{ScmpArch, ScmpSyscall};

use crate::bpf::{
    audit_arch, encode, Insn, ARCH, JEQ_K, JGT_K, JSET_K, LD_W_ABS, NR, RET_K, X32_BIT,
};

const RET_ERRNO: u32 = 0x0005_0000;

/// The highest number among `names` on `arch` (x32 numbers with their
/// bit), if any name is known there.
fn highest(names: &[&str], arch: ScmpArch) -> Option<u32> {
    names
        .iter()
        .filter_map(|n| ScmpSyscall::from_name_by_arch(n, arch).ok())
        .filter_map(|s| u32::try_from(i32::from(s)).ok())
        .map(|nr| {
            if arch == ScmpArch::X32 {
                nr | X32_BIT
            } else {
                nr
            }
        })
        .max()
}

/// The prologue for a filter over `archs` naming `names`, as bytes to put
/// before the program; empty when no architecture has a named call.
pub(crate) fn prologue(archs: &[ScmpArch], names: &[&str]) -> Vec<u8> {
    let mut archs: Vec<ScmpArch> = archs.to_vec();
    archs.sort_by_key(|a| format!("{a:?}"));
    archs.dedup();
    let of = |a: ScmpArch| {
        archs
            .contains(&a)
            .then(|| highest(names, a))
            .flatten()
            .unwrap_or(u32::MAX)
    };
    // (audit token, highest, highest x32 or None for other archs)
    let mut blocks: Vec<(u32, u32, Option<u32>)> = Vec::new();
    for &a in &archs {
        let Some(token) = audit_arch(a) else { continue };
        match a {
            ScmpArch::X32 if archs.contains(&ScmpArch::X8664) => continue,
            ScmpArch::X8664 | ScmpArch::X32 => {
                blocks.push((token, of(ScmpArch::X8664), Some(of(ScmpArch::X32))))
            }
            _ => blocks.push((token, of(a), None)),
        }
    }
    blocks.retain(|&(_, high, x32)| high != u32::MAX || x32.is_some_and(|h| h != u32::MAX));
    if blocks.is_empty() {
        return Vec::new();
    }
    let len: usize = blocks
        .iter()
        .map(|b| if b.2.is_some() { 6 } else { 4 })
        .sum();
    let enosys = len; // index of the `ret`; the program starts after it
    let mut out: Vec<Insn> = Vec::with_capacity(len + 1);
    let jump = |from: usize, to: usize| u8::try_from(to - from - 1).expect("a short prologue");
    for (token, high, x32) in blocks {
        let size = if x32.is_some() { 6 } else { 4 };
        let start = out.len();
        out.push(Insn {
            code: LD_W_ABS,
            jt: 0,
            jf: 0,
            k: ARCH,
        });
        // After the last block, past the `ret` to the program.
        let next = match start + size {
            n if n == enosys => enosys + 1,
            n => n,
        };
        out.push(Insn {
            code: JEQ_K,
            jt: 0,
            jf: jump(start + 1, next),
            k: token,
        });
        out.push(Insn {
            code: LD_W_ABS,
            jt: 0,
            jf: 0,
            k: NR,
        });
        // jgt HIGH: ENOSYS above it, the program otherwise.
        let above = |out: &mut Vec<Insn>, high: u32| {
            let at = out.len();
            out.push(Insn {
                code: JGT_K,
                jt: jump(at, enosys),
                jf: jump(at, enosys + 1),
                k: high,
            });
        };
        if let Some(x32_high) = x32 {
            out.push(Insn {
                code: JSET_K,
                jt: 1,
                jf: 0,
                k: X32_BIT,
            });
            above(&mut out, high);
            above(&mut out, x32_high);
        } else {
            above(&mut out, high);
        }
    }
    out.push(Insn {
        code: RET_K,
        jt: 0,
        jf: 0,
        k: RET_ERRNO | libc::ENOSYS as u32,
    });
    encode(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::bpf::{SeccompData, AUDIT_ARCH_X86_64};

    /// Run the prologue on (arch, nr): `Some(ret)` where it returns, `None`
    /// where it falls through to libseccomp's program.
    fn run(prog: &[u8], arch: u32, nr: u32) -> Option<u32> {
        crate::bpf::run(
            prog,
            &SeccompData {
                arch,
                nr,
                args: [0; 6],
            },
        )
    }

    const ENOSYS: Option<u32> = Some(RET_ERRNO | 38);

    #[test]
    fn newer_calls_get_enosys_per_architecture() {
        let names = ["read", "write", "statx", "socket"];
        let archs = [ScmpArch::X8664, ScmpArch::X86, ScmpArch::X32];
        let p = prologue(&archs, &names);
        // statx is 332 on x86-64, 383 on i386; socket is 359 on i386.
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 332), None);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 100), None);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 333), ENOSYS);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 435), ENOSYS, "clone3");
        assert_eq!(run(&p, 0x4000_0003, 383), None);
        assert_eq!(run(&p, 0x4000_0003, 435), ENOSYS);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, X32_BIT | 332), None);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, X32_BIT | 435), ENOSYS);
        // An architecture not in the filter is libseccomp's business.
        assert_eq!(run(&p, 0xC000_00B7, 999), None);
    }

    #[test]
    fn x32_numbers_without_x32_in_the_filter_fall_through() {
        let p = prologue(&[ScmpArch::X8664], &["read"]);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 1), ENOSYS);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 0), None);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, X32_BIT | 5), None);
    }

    #[test]
    fn no_named_call_no_prologue() {
        assert!(prologue(&[ScmpArch::X8664], &[]).is_empty());
        assert!(prologue(&[ScmpArch::X8664], &["no_such_call"]).is_empty());
    }
}
