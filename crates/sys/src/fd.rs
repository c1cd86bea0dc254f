//! File-descriptor hygiene before `execve`.

use rustix::io::Errno;

/// Mark every descriptor from `first` upwards close-on-exec, so that no fd of
/// the runtime reaches the container (CVE-2024-21626) while descriptors the
/// caller still needs until `execve` stay usable.
pub fn cloexec_from(first: u32) -> Result<(), Errno> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on
    // descriptors; it closes nothing and touches no memory.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if ret == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)))
    }
}
