//! Signal names as `kill` takes them: `TERM`, `SIGTERM`, `15`, and the
//! real-time forms `RTMIN+3`, `SIGRTMAX-1`.

use crate::error::{Error, Result};

const NAMES: [(&str, i32); 31] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("SYS", libc::SIGSYS),
];

/// The kernel's real-time range. glibc reserves the first two for itself,
/// but a container's processes may use any of them, so the raw kernel
/// bounds are used (as runc does through x/sys/unix).
const SIGRTMIN: i32 = 34;
const SIGRTMAX: i32 = 64;

pub fn parse(raw: &str) -> Result<i32> {
    let bad = || Error::UnknownSignal(raw.to_string());
    if let Ok(n) = raw.parse::<i32>() {
        // 0: no signal, an existence check (kill(2)'s).
        return if (0..=SIGRTMAX).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = raw.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Ok(n);
    }
    realtime(name).ok_or_else(bad)
}

fn realtime(name: &str) -> Option<i32> {
    let (base, rest) = if let Some(r) = name.strip_prefix("RTMIN") {
        (SIGRTMIN, r)
    } else {
        (SIGRTMAX, name.strip_prefix("RTMAX")?)
    };
    let n = match rest {
        "" => base,
        r if r.starts_with('+') => base + r[1..].parse::<i32>().ok()?,
        r if r.starts_with('-') => base - r[1..].parse::<i32>().ok()?,
        _ => return None,
    };
    (SIGRTMIN..=SIGRTMAX).contains(&n).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_and_without_sig() {
        assert_eq!(parse("TERM").unwrap(), 15);
        assert_eq!(parse("SIGTERM").unwrap(), 15);
        assert_eq!(parse("sigkill").unwrap(), 9);
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(parse("USR1").unwrap(), libc::SIGUSR1);
    }

    #[test]
    fn realtime_signals() {
        assert_eq!(parse("RTMIN").unwrap(), 34);
        assert_eq!(parse("SIGRTMIN+3").unwrap(), 37);
        assert_eq!(parse("RTMAX-1").unwrap(), 63);
        assert!(parse("RTMIN+40").is_err());
    }

    #[test]
    fn unknown_signals() {
        for s in ["", "65", "-1", "NOPE", "SIG", "TERM2", "RTMIN+x"] {
            assert!(parse(s).is_err(), "{s}");
        }
    }
}
