//! File-descriptor hygiene before `execve`.

use rustix::io::Errno;

/// Mark every descriptor from `first` upwards close-on-exec, so that no fd of
/// the runtime reaches the container (CVE-2024-21626) while descriptors the
/// caller still needs until `execve` stay usable.
pub fn cloexec_from(first: u32) -> Result<(), Errno> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on
    // descriptors; it closes nothing and touches no memory.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if ret == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ))
    }
}

/// Close every descriptor from 3 upwards except those in `keep`, so that
/// nothing the runtime held (a state-directory lock, a log file) lives on in
/// the container's init.
pub fn close_all_except(keep: &[std::os::fd::RawFd]) -> Result<(), Errno> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .filter(|&fd| fd > 2)
        .collect();
    keep.sort_unstable();
    let mut first = 3u32;
    for fd in keep.into_iter().chain(std::iter::once(u32::MAX)) {
        if fd > first {
            close_range(first, fd - 1)?;
        }
        first = fd.saturating_add(1);
    }
    Ok(())
}

fn close_range(first: u32, last: u32) -> Result<(), Errno> {
    // SAFETY: the caller of close_all_except owns the process's descriptor
    // table (the child right after the fork, single-threaded) and keeps
    // every descriptor it will use; closing the rest invalidates no live
    // Rust object that will be used again.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    if ret == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ))
    }
}
