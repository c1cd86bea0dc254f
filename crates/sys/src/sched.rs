//! Scheduling syscalls rustix lacks: `sched_setattr`, `ioprio_set`,
//! `personality`.

use rustix::io::Errno;

fn last_errno() -> Errno {
    Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// `struct sched_attr` from `<linux/sched/types.h>` (version 0, 48 bytes).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

/// Set the calling thread's scheduling policy and attributes.
pub fn sched_setattr(attr: &SchedAttr) -> Result<(), Errno> {
    let mut attr = *attr;
    attr.size = u32::try_from(std::mem::size_of::<SchedAttr>()).unwrap_or(48);
    // SAFETY: `attr` is a valid, initialised `sched_attr` whose `size` field
    // says how much of it the kernel may read; pid 0 is the caller.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if ret != 0 {
        return Err(last_errno());
    }
    Ok(())
}

/// `IOPRIO_WHO_PROCESS`.
const IOPRIO_WHO_PROCESS: libc::c_int = 1;

/// Set the calling process's I/O priority (`class << 13 | level`).
pub fn ioprio_set(value: i32) -> Result<(), Errno> {
    // SAFETY: ioprio_set takes three integers and touches no memory; who 0
    // is the caller.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if ret != 0 {
        return Err(last_errno());
    }
    Ok(())
}

/// Set the execution domain of the calling process.
pub fn personality(persona: libc::c_ulong) -> Result<(), Errno> {
    // SAFETY: personality(2) takes one integer and touches no memory.
    let ret = unsafe { libc::personality(persona) };
    if ret == -1 {
        return Err(last_errno());
    }
    Ok(())
}

/// `set_mempolicy(2)`: the calling thread's NUMA memory policy; `nodes` is
/// a bitmask of node numbers (bit n = node n), possibly empty.
pub fn set_mempolicy(mode: i32, nodes: &[u64]) -> Result<(), Errno> {
    let maxnode = u64::try_from(nodes.len() * 64).unwrap_or(0) + 1;
    let mask = if nodes.is_empty() {
        std::ptr::null()
    } else {
        nodes.as_ptr()
    };
    // SAFETY: `mask` points to `nodes.len()` u64 words (or is NULL with an
    // empty set), and `maxnode` never claims more bits than that; the kernel
    // only reads it.
    let ret = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, mask, maxnode) };
    if ret != 0 {
        return Err(last_errno());
    }
    Ok(())
}
