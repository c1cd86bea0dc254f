//! `crust ps`: the container's processes.

use std::path::Path;

use crate::error::Result;
use crate::state::StateDir;

/// The host pids of the container's processes: none, or what is left in
/// its cgroup, once it has stopped (runc's `ps` succeeds then too).
pub fn processes(root: &Path, id: &str) -> Result<Vec<i32>> {
    let dir = StateDir::open(root, id)?;
    let state = dir.load()?;
    Ok(state.pids())
}

/// The lines of `ps` output (header first) that belong to `pids`, found by
/// the PID column of the header. `None` when the output has no PID column.
pub fn filter_ps_output(output: &str, pids: &[i32]) -> Option<String> {
    let mut lines = output.lines();
    let header = lines.next()?;
    let column = header.split_whitespace().position(|h| h == "PID")?;
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(column)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_header_and_the_containers_lines() {
        let ps = "UID   PID  PPID  C STIME TTY  TIME CMD\nroot    1     0  0 10:00 ?    00:00:01 init\nroot   42     1  0 10:00 ?    00:00:00 sleep 100\nroot   43    42  0 10:00 ?    00:00:00 sh\n";
        assert_eq!(
            filter_ps_output(ps, &[42, 43]).unwrap(),
            "UID   PID  PPID  C STIME TTY  TIME CMD\nroot   42     1  0 10:00 ?    00:00:00 sleep 100\nroot   43    42  0 10:00 ?    00:00:00 sh\n"
        );
        assert_eq!(filter_ps_output("USER COMMAND\nroot x\n", &[1]), None);
    }
}
