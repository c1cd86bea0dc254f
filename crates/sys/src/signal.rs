//! Signal masks and `signalfd(2)`, for a foreground `run` that forwards
//! every signal it receives to the container.

use std::os::fd::{FromRawFd, OwnedFd};

use rustix::io::Errno;

/// A saved signal mask, to be restored in the child before `execve`.
#[derive(Clone, Copy)]
pub struct SigMask(libc::sigset_t);

fn last_errno() -> Errno {
    Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

fn full_set() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigfillset initialises it fully.
    unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigfillset(&mut set);
        set
    }
}

/// Block every signal and return the previous mask.
pub fn block_all() -> Result<SigMask, Errno> {
    let set = full_set();
    // SAFETY: both pointers are to valid, initialised sigset_t values.
    unsafe {
        let mut old = std::mem::zeroed::<libc::sigset_t>();
        if libc::sigprocmask(libc::SIG_SETMASK, &set, &mut old) != 0 {
            return Err(last_errno());
        }
        Ok(SigMask(old))
    }
}

/// Install a saved mask.
pub fn restore(mask: &SigMask) -> Result<(), Errno> {
    // SAFETY: `mask.0` is a valid sigset_t obtained from sigprocmask.
    if unsafe { libc::sigprocmask(libc::SIG_SETMASK, &mask.0, std::ptr::null_mut()) } != 0 {
        return Err(last_errno());
    }
    Ok(())
}

/// A signalfd that reports every (blocked) signal.
pub fn signalfd_all() -> Result<OwnedFd, Errno> {
    let set = full_set();
    // SAFETY: `set` is a valid sigset_t; -1 asks for a new descriptor.
    let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: signalfd returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Read the number of the next pending signal from a signalfd.
pub fn read_signal(fd: &OwnedFd) -> Result<i32, Errno> {
    let mut buf = [0u8; std::mem::size_of::<libc::signalfd_siginfo>()];
    let n = rustix::io::read(fd, &mut buf)?;
    if n != buf.len() {
        return Err(Errno::IO);
    }
    // ssi_signo is the first u32 of signalfd_siginfo.
    Ok(i32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]))
}

/// Reset every signal disposition to its default, as a freshly exec'd
/// process expects (the runtime may ignore SIGPIPE, for example).
pub fn reset_dispositions() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition; errors (for
        // signals the kernel reserves) are harmless and ignored.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Send signal number `sig` (any, real-time ones included) to the process
/// `pidfd` refers to.
pub fn pidfd_send(pidfd: impl std::os::fd::AsFd, sig: i32) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_send_signal with a NULL siginfo and no flags reads no
    // user memory; an invalid signal number is rejected with EINVAL.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_fd().as_raw_fd(),
            sig,
            std::ptr::null::<u8>(),
            0,
        )
    };
    if ret != 0 {
        return Err(last_errno());
    }
    Ok(())
}
