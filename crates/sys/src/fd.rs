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

/// Fill every free descriptor number in `3..3+count` with a close-on-exec
/// placeholder, kept open for the life of the process. The container gets
/// the caller's descriptors in that range (`--preserve-fds`); with the
/// holes filled, every descriptor the runtime opens later (its state
/// directory lock, the exec fifo, sockets) is numbered above the range
/// and is closed before the container's program runs, while the
/// placeholders vanish at `execve`.
pub fn reserve_preserved_range(count: u32) -> Result<(), Errno> {
    use std::os::fd::IntoRawFd;
    for fd in 3..3u32.saturating_add(count) {
        let fd = i32::try_from(fd).map_err(|_| Errno::BADF)?;
        // SAFETY: F_GETFD only reads the descriptor's flags; an unused
        // number answers EBADF.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
            continue;
        }
        let placeholder = rustix::fs::open(
            "/dev/null",
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        // Every lower number is taken, so the kernel used the lowest free
        // one: this one.
        if placeholder.into_raw_fd() != fd {
            return Err(Errno::BADF);
        }
    }
    Ok(())
}

/// Give `fds` the numbers `first`, `first + 1`, … in that order, inherited
/// across `execve` (not close-on-exec): what a child does just before it
/// runs a program that expects descriptors at fixed numbers (`criu swrk
/// 3`). Whatever held those numbers before is replaced.
pub fn renumber(fds: Vec<std::os::fd::OwnedFd>, first: i32) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    let count = i32::try_from(fds.len()).map_err(|_| Errno::INVAL)?;
    // Out of the target range first, so that no source is overwritten
    // before it is copied.
    let high = first.saturating_add(count).max(3);
    let moved = fds
        .iter()
        .map(|fd| rustix::io::fcntl_dupfd_cloexec(fd, high))
        .collect::<Result<Vec<_>, _>>()?;
    drop(fds);
    for (i, fd) in moved.iter().enumerate() {
        let target = first + i32::try_from(i).map_err(|_| Errno::INVAL)?;
        // SAFETY: dup2 takes two descriptor numbers; `fd` is open, and
        // `target` is a number the caller hands over to the program it is
        // about to exec (any descriptor there is replaced on purpose).
        if unsafe { libc::dup2(fd.as_raw_fd(), target) } < 0 {
            return Err(Errno::from_raw_os_error(
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
            ));
        }
    }
    // The copies above the range go; the renumbered ones stay.
    drop(moved);
    Ok(())
}
