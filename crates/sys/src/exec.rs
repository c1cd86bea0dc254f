//! The last steps of a process: `execve(2)`/`execveat(2)` and `_exit(2)`.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd};

use rustix::io::Errno;

/// Replace the process image. Returns only on failure, with the errno.
pub fn execve(path: &CStr, args: &[CString], env: &[CString]) -> Errno {
    let argv = null_terminated(args);
    let envp = null_terminated(env);
    // SAFETY: `path` is a valid C string and `argv`/`envp` are arrays of
    // pointers to C strings that outlive the call, each ending in NULL.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// Execute the file open at `fd` (`execveat(fd, "", …, AT_EMPTY_PATH)`),
/// whatever the mount namespace holds. Returns only on failure.
pub fn execveat_fd(fd: BorrowedFd<'_>, args: &[CString], env: &[CString]) -> Errno {
    let argv = null_terminated(args);
    let envp = null_terminated(env);
    // SAFETY: `fd` is an open descriptor, the path is the empty C string
    // AT_EMPTY_PATH asks for, and `argv`/`envp` are arrays of pointers to C
    // strings that outlive the call, each ending in NULL.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// End the process now, without running exit handlers or flushing the
/// stdio buffers it inherited from its parent (which would print twice).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) has no preconditions and never returns.
    unsafe { libc::_exit(code) }
}
