//! `bpf(2)` for cgroup v2 device control: load a `BPF_PROG_TYPE_CGROUP_DEVICE`
//! program and attach it to a cgroup. The program itself is assembled by
//! the `cgroups` crate; here it is only bytes.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use rustix::io::Errno;

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// One eBPF instruction, `struct bpf_insn`, already encoded.
pub type Insn = [u8; 8];

/// The `BPF_PROG_LOAD` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct LoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

/// The `BPF_PROG_ATTACH` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> Result<libc::c_long, Errno> {
    // SAFETY: `attr` is a live, initialised `bpf_attr` prefix of exactly the
    // size passed; the kernel reads at most that many bytes (and zero-fills
    // the rest of its own copy) and writes nothing back for these commands
    // beyond the log buffer, which is null here.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_ulong,
        )
    };
    if ret < 0 {
        Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ))
    } else {
        Ok(ret)
    }
}

/// Load a cgroup device program; the returned fd keeps it alive until it
/// is attached.
pub fn load_device_program(insns: &[Insn]) -> Result<OwnedFd, Errno> {
    let license = c"Apache-2.0";
    let mut attr = LoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(insns.len()).map_err(|_| Errno::TOOBIG)?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..LoadAttr::default()
    };
    let fd = libc::c_int::try_from(bpf(BPF_PROG_LOAD, &mut attr)?).map_err(|_| Errno::BADF)?;
    // SAFETY: BPF_PROG_LOAD returned a new file descriptor that nothing
    // else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Attach a loaded device program to the cgroup directory `cgroup`, next
/// to any programs already there (`BPF_F_ALLOW_MULTI`: all must allow).
pub fn attach_device_program(program: BorrowedFd<'_>, cgroup: BorrowedFd<'_>) -> Result<(), Errno> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: program.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(|_| ())
}
