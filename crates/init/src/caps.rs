//! Capability names and numbers, from `<linux/capability.h>`.

/// Every capability the kernel defines, by number.
const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The number of a capability named as in the spec (`CAP_SYS_ADMIN`).
pub fn number(name: &str) -> Option<u32> {
    NAMES
        .iter()
        .position(|n| *n == name)
        .and_then(|i| u32::try_from(i).ok())
}

/// Every capability name crust knows, for `features`.
pub fn all() -> &'static [&'static str] {
    &NAMES
}

/// The highest capability this kernel knows (`sys/kernel/cap_last_cap`
/// of this process's procfs, verified to be one), or the highest in the
/// table when that cannot be read.
///
/// The runtime reads it before the fork and hands it to the child:
/// inside the container, `/proc` is the container's (an image's fake one
/// where the config mounts none, or a mount over it), and a smaller number
/// there would leave capabilities in the process's bounding set that
/// `execve` of a setuid or file-capable binary then grants. Read once
/// per process: the config's checks (`lenient`) and the spawn both ask.
pub fn last_cap() -> u32 {
    static LAST: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        let top = u32::try_from(NAMES.len() - 1).unwrap_or(0);
        crate::procfs::Proc::current()
            .and_then(|p| p.read(std::path::Path::new("sys/kernel/cap_last_cap")))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            // A capability set has 64 bits.
            .map_or(top, |n| n.min(63))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_the_kernel_header() {
        assert_eq!(number("CAP_CHOWN"), Some(0));
        assert_eq!(number("CAP_NET_BIND_SERVICE"), Some(10));
        assert_eq!(number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(number("CAP_AUDIT_WRITE"), Some(29));
        assert_eq!(number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(number("CAP_NOPE"), None);
    }
}
