//! Classic BPF as a seccomp program holds it: `struct sock_filter`
//! records in the host's byte order over `struct seccomp_data`. The few
//! instructions crust writes (`enosys`) or rewrites (`seccomp::chain`),
//! and, for their tests, an interpreter of what libseccomp and crust emit.

use libseccomp::ScmpArch;

pub(crate) const LD_W_ABS: u16 = 0x20;
pub(crate) const JA: u16 = 0x05;
pub(crate) const JEQ_K: u16 = 0x15;
pub(crate) const JGT_K: u16 = 0x25;
pub(crate) const JSET_K: u16 = 0x45;
pub(crate) const RET_K: u16 = 0x06;
#[cfg(test)]
const JGE_K: u16 = 0x35;
#[cfg(test)]
const ALU_AND_K: u16 = 0x54;

/// Offsets in `struct seccomp_data`.
pub(crate) const NR: u32 = 0;
pub(crate) const ARCH: u32 = 4;
#[cfg(test)]
const ARGS: u32 = 16;

/// The bit x32's call numbers carry (they share x86-64's audit token).
pub(crate) const X32_BIT: u32 = 0x4000_0000;
pub(crate) const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;

/// One `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    pub(crate) code: u16,
    pub(crate) jt: u8,
    pub(crate) jf: u8,
    pub(crate) k: u32,
}

impl Insn {
    /// The record in `bytes` (eight of them).
    pub(crate) fn read(bytes: &[u8]) -> Insn {
        Insn {
            code: u16::from_ne_bytes([bytes[0], bytes[1]]),
            jt: bytes[2],
            jf: bytes[3],
            k: u32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        }
    }

    /// The record's bytes.
    pub(crate) fn bytes(self) -> [u8; 8] {
        let [c0, c1] = self.code.to_ne_bytes();
        let [k0, k1, k2, k3] = self.k.to_ne_bytes();
        [c0, c1, self.jt, self.jf, k0, k1, k2, k3]
    }
}

/// `insns` as a program's bytes.
pub(crate) fn encode(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(|i| i.bytes()).collect()
}

/// The audit token of an architecture (what the kernel puts in
/// `seccomp_data.arch`); x32 shares x86-64's and sets `X32_BIT` in the
/// number instead.
pub(crate) fn audit_arch(arch: ScmpArch) -> Option<u32> {
    Some(match arch {
        ScmpArch::X8664 | ScmpArch::X32 => AUDIT_ARCH_X86_64,
        ScmpArch::X86 => 0x4000_0003,
        ScmpArch::Aarch64 => 0xC000_00B7,
        ScmpArch::Arm => 0x4000_0028,
        ScmpArch::Riscv64 => 0xC000_00F3,
        ScmpArch::Ppc64Le => 0xC000_0015,
        ScmpArch::Ppc64 => 0x8000_0015,
        ScmpArch::S390X => 0x8000_0016,
        _ => return None,
    })
}

/// `struct seccomp_data`, for `run`.
#[cfg(test)]
pub(crate) struct SeccompData {
    pub(crate) arch: u32,
    pub(crate) nr: u32,
    pub(crate) args: [u64; 6],
}

/// What the kernel's interpreter returns for `call`, for the instructions
/// libseccomp and crust emit; `None` where the program runs past its end
/// (a prologue falling through to what follows it).
#[cfg(test)]
pub(crate) fn run(program: &[u8], call: &SeccompData) -> Option<u32> {
    let insns: Vec<Insn> = program.chunks_exact(8).map(Insn::read).collect();
    let word = |offset: u32| -> u32 {
        match offset {
            NR => call.nr,
            ARCH => call.arch,
            o if (ARGS..ARGS + 48).contains(&o) => {
                let at = (o - ARGS) as usize;
                let bytes = call.args[at / 8].to_ne_bytes();
                let half = &bytes[at % 8..at % 8 + 4];
                u32::from_ne_bytes([half[0], half[1], half[2], half[3]])
            }
            o => panic!("load of offset {o}"),
        }
    };
    let (mut pc, mut acc) = (0usize, 0u32);
    loop {
        let i = insns.get(pc)?;
        pc += 1;
        let taken = match i.code {
            LD_W_ABS => {
                acc = word(i.k);
                continue;
            }
            ALU_AND_K => {
                acc &= i.k;
                continue;
            }
            RET_K => return Some(i.k),
            JA => {
                pc += i.k as usize;
                continue;
            }
            JEQ_K => acc == i.k,
            JGT_K => acc > i.k,
            JGE_K => acc >= i.k,
            JSET_K => acc & i.k != 0,
            c => panic!("instruction {c:#x} at {}", pc - 1),
        };
        pc += usize::from(if taken { i.jt } else { i.jf });
    }
}
