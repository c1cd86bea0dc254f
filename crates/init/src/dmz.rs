//! The container's program is not executed by crust directly but through
//! a tiny trampoline (the "dmz"): a static ELF of 228 bytes that crust writes
//! into a sealed memfd and executes, and that executes the program.
//!
//! Why (CVE-2019-5736): while `execve` runs, `/proc/self/exe` is the
//! executing binary. An image whose program is a script starting
//! `#!/proc/self/exe` makes the kernel run *that* binary inside the
//! container, where any container process can open its `/proc/PID/exe`
//! and, once crust has exited, write through it: with crust executing the
//! program itself, that binary is crust's, on the host. Through the dmz it
//! is the sealed memfd, which no one can write (`F_SEAL_WRITE`), and which
//! is gone with the process.
//!
//! This costs a small memfd and one `execve` of a static binary,
//! instead of a copy of crust itself on every start (runc's answer, 30-40%
//! slower in runc's measurements); `bench/` shows the cost.
//!
//! The dmz calls `execve(argv[0], &argv[1], envp)`: crust passes the
//! resolved path first, then `process.args`. Where the config's seccomp
//! filter would refuse `execveat`, crust executes the program directly.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{MemfdFlags, SealFlags};

use crate::error::InitError;

/// The x86-64 dmz: an ELF header, one PT_LOAD program header mapping the
/// file at 0x400000, and this code at offset 120:
///
/// ```text
/// mov  rax, [rsp]             ; argc
/// lea  rdx, [rsp+rax*8+16]    ; envp, after argv's NULL
/// lea  rsi, [rsp+16]          ; &argv[1]: the program's argv
/// mov  rdi, [rsp+8]           ; argv[0]: the program's path
/// mov  eax, 59                ; execve
/// syscall
/// mov  edi, 2                 ; it failed: say so on stderr
/// lea  rsi, [rip+message]
/// mov  edx, length
/// mov  eax, 1                 ; write
/// syscall
/// mov  edi, 127               ; and exit 127, as a shell does
/// mov  eax, 231               ; exit_group
/// syscall
/// message: "crust: cannot execute the container's program\n"
/// ```
///
/// The errno of a failed `execve` is lost this way (crust checks the
/// program exists and is executable before, so what is left is rare:
/// a wrong architecture, a missing script interpreter).
/// What the dmz says on stderr when the program cannot be executed.
#[cfg(target_arch = "x86_64")]
const FAILED: &[u8] = b"crust: cannot execute the container's program\n";

#[cfg(target_arch = "x86_64")]
fn code() -> Vec<u8> {
    let mut code = vec![
        0x48, 0x8b, 0x04, 0x24, // mov rax, [rsp]
        0x48, 0x8d, 0x54, 0xc4, 0x10, // lea rdx, [rsp+rax*8+16]
        0x48, 0x8d, 0x74, 0x24, 0x10, // lea rsi, [rsp+16]
        0x48, 0x8b, 0x7c, 0x24, 0x08, // mov rdi, [rsp+8]
        0xb8, 0x3b, 0x00, 0x00, 0x00, // mov eax, 59 (execve)
        0x0f, 0x05, // syscall
        0xbf, 0x02, 0x00, 0x00, 0x00, // mov edi, 2
        0x48, 0x8d, 0x35, 24, 0, 0, 0, // lea rsi, [rip+24]: the message
        0xba, 0, 0, 0, 0, // mov edx, len (below)
        0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1 (write)
        0x0f, 0x05, // syscall
        0xbf, 0x7f, 0x00, 0x00, 0x00, // mov edi, 127
        0xb8, 0xe7, 0x00, 0x00, 0x00, // mov eax, 231 (exit_group)
        0x0f, 0x05, // syscall
    ];
    let len = u32::try_from(FAILED.len()).expect("a short message");
    code[39..43].copy_from_slice(&len.to_le_bytes());
    code.extend_from_slice(FAILED);
    code
}

/// The ELF file: header, program header, code.
#[cfg(target_arch = "x86_64")]
fn image() -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    const CODE_AT: u64 = 64 + 56;
    let code = code();
    let size = CODE_AT + code.len() as u64;
    let mut elf = Vec::new();
    // e_ident: magic, 64-bit, little-endian, version 1, System V ABI.
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // e_type: ET_EXEC
    elf.extend_from_slice(&0x3eu16.to_le_bytes()); // e_machine: x86-64
    elf.extend_from_slice(&1u32.to_le_bytes()); // e_version
    for v in [BASE + CODE_AT, 64, 0] {
        elf.extend_from_slice(&v.to_le_bytes()); // e_entry, e_phoff, e_shoff
    }
    elf.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for v in [64u16, 56, 1, 0, 0, 0] {
        // e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
        elf.extend_from_slice(&v.to_le_bytes());
    }
    elf.extend_from_slice(&1u32.to_le_bytes()); // p_type: PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // p_flags: R + X
    for v in [0, BASE, BASE, size, size, 0x1000] {
        // p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
        elf.extend_from_slice(&v.to_le_bytes());
    }
    elf.extend_from_slice(&code);
    elf
}

/// The dmz in a sealed, close-on-exec memfd; `None` where there is no dmz
/// for this architecture or the filter would not let it run.
pub(crate) fn prepare(
    seccomp: Option<&oci_spec::runtime::LinuxSeccomp>,
) -> Result<Option<OwnedFd>, InitError> {
    if !cfg!(target_arch = "x86_64") || !seccomp.is_none_or(crate::seccomp::allows_execveat) {
        return Ok(None);
    }
    #[cfg(target_arch = "x86_64")]
    {
        let err = |op: &'static str| {
            move |e: rustix::io::Errno| InitError::Process {
                op: format!("prepare the exec trampoline: {op}"),
                errno: e.into(),
            }
        };
        let base = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
        // MFD_EXEC (Linux 6.3) keeps the memfd executable whatever
        // vm.memfd_noexec says; older kernels do not know the flag.
        let fd = rustix::fs::memfd_create("crust-dmz", base | MemfdFlags::EXEC)
            .or_else(|_| rustix::fs::memfd_create("crust-dmz", base))
            .map_err(err("memfd_create"))?;
        let image = image();
        let mut written = 0;
        while written < image.len() {
            written += rustix::io::write(&fd, &image[written..]).map_err(err("write"))?;
        }
        let seals = SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE;
        rustix::fs::fcntl_add_seals(&fd, seals).map_err(err("seal"))?;
        Ok(Some(fd))
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("returned above")
}

/// Execute `exe` through the dmz. Returns only on failure.
pub(crate) fn exec(dmz: impl AsFd, exe: &crate::process::Executable) -> rustix::io::Errno {
    let mut argv = Vec::with_capacity(exe.args.len() + 1);
    argv.push(exe.path.clone());
    argv.extend(exe.args.iter().cloned());
    sys::exec::execveat_fd(dmz.as_fd(), &argv, &exe.env)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn the_elf_headers_describe_the_code() {
        let elf = image();
        assert_eq!(elf.len(), 120 + 62 + FAILED.len());
        assert_eq!(&elf[..4], b"\x7fELF");
        let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap());
        assert_eq!(u64_at(24), 0x40_0078, "entry at the code");
        assert_eq!(u64_at(32), 64, "program header right after the ELF header");
        assert_eq!(
            u64_at(64 + 32),
            elf.len() as u64,
            "p_filesz covers the file"
        );
        // The message is where the lea points: rip (after the lea) + 24.
        let rip_after_lea = 120 + 38;
        assert_eq!(&elf[rip_after_lea + 24..], FAILED);
        assert_eq!(elf[120..124], [0x48, 0x8b, 0x04, 0x24]);
    }
}
