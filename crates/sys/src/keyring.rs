//! Session keyrings: each container gets its own, as with runc, so that
//! containers do not share the kernel keys of the runtime's session.

use std::ffi::CStr;

use rustix::io::Errno;

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
const KEYCTL_SETPERM: libc::c_int = 5;

fn last_errno() -> Errno {
    Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// Create and join a new session keyring named `name`; returns its serial.
pub fn join_session_keyring(name: &CStr) -> Result<i32, Errno> {
    // SAFETY: KEYCTL_JOIN_SESSION_KEYRING reads one C string argument,
    // which `name` provides for the duration of the call.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if ret < 0 {
        return Err(last_errno());
    }
    i32::try_from(ret).map_err(|_| Errno::RANGE)
}

/// Set the permission mask of key `serial`.
pub fn set_key_permissions(serial: i32, perm: u32) -> Result<(), Errno> {
    // SAFETY: KEYCTL_SETPERM takes two integers and touches no user memory.
    let ret = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, serial, perm) };
    if ret < 0 {
        return Err(last_errno());
    }
    Ok(())
}
