//! What `/proc/PID/stat` says about a container's init: alive or not, and
//! its start time, which tells a live init from a reused pid.

use std::path::PathBuf;

/// The start time of `pid` in clock ticks since boot, or `None` when no such
/// process is alive (gone, a zombie, or dead).
pub fn start_time(pid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(PathBuf::from(format!("/proc/{pid}/stat"))).ok()?;
    parse_stat(&text)
}

/// Fields after the command name (which may contain spaces and parens):
/// state is field 3, starttime field 22.
fn parse_stat(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = *fields.first()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Whether the process that was `pid` with `start` is still alive.
pub fn is_alive(pid: i32, start: u64) -> bool {
    start_time(pid) == Some(start)
}

/// The host pids of a container's processes, sorted, found from its live
/// `init`: every process in the init's pid namespace when it has its own,
/// else the init and its descendants (for a container without a cgroup).
pub fn container_pids(init: i32, own_pid_namespace: bool) -> Vec<i32> {
    let mut pids = if own_pid_namespace {
        same_pid_namespace(init)
    } else {
        descendants(init)
    };
    pids.push(init);
    pids.sort_unstable();
    pids.dedup();
    pids
}

fn pid_namespace(pid: i32) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

fn same_pid_namespace(init: i32) -> Vec<i32> {
    let Some(target) = pid_namespace(init) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok()?.parse::<i32>().ok())
        .filter(|pid| pid_namespace(*pid) == Some(target))
        .collect()
}

fn descendants(pid: i32) -> Vec<i32> {
    let children: Vec<i32> = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    children
        .iter()
        .flat_map(|c| std::iter::once(*c).chain(descendants(*c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str =
        "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 100";

    #[test]
    fn start_time_survives_odd_names() {
        assert_eq!(parse_stat(STAT), Some(987654));
    }

    #[test]
    fn zombies_are_not_alive() {
        assert_eq!(parse_stat(&STAT.replace(") S ", ") Z ")), None);
    }

    #[test]
    fn this_process_is_alive() {
        let me = std::process::id() as i32;
        let start = start_time(me).unwrap();
        assert!(is_alive(me, start));
        assert!(!is_alive(me, start + 1));
    }
}
