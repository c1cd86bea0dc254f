//! Running `hooks`: each is a program run with its `args` (the first is
//! its argv[0]), exactly its `env`, the container's state JSON on stdin,
//! and at most `timeout` seconds. Used by the runtime (prestart,
//! createRuntime, poststart, poststop) and by the init itself
//! (createContainer before the pivot, startContainer just before `execve`).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use oci_spec::runtime::{Hook, Hooks, Spec};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Pid, PidfdFlags};
use serde::Serialize;

use crate::error::InitError;

/// The six kinds, as named in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    /// Every kind, in the order of the lifecycle.
    pub const ALL: [Kind; 6] = [
        Kind::Prestart,
        Kind::CreateRuntime,
        Kind::CreateContainer,
        Kind::StartContainer,
        Kind::Poststart,
        Kind::Poststop,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    fn of(self, hooks: &Hooks) -> &Option<Vec<Hook>> {
        match self {
            Kind::Prestart => hooks.prestart(),
            Kind::CreateRuntime => hooks.create_runtime(),
            Kind::CreateContainer => hooks.create_container(),
            Kind::StartContainer => hooks.start_container(),
            Kind::Poststart => hooks.poststart(),
            Kind::Poststop => hooks.poststop(),
        }
    }
}

/// The hooks of `kind` in `spec`.
pub fn of_kind(spec: &Spec, kind: Kind) -> &[Hook] {
    spec.hooks()
        .as_ref()
        .and_then(|h| kind.of(h).as_deref())
        .unwrap_or_default()
}

/// The state runtime.md gives a hook on stdin.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookState<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub status: &'a str,
    pub pid: i32,
    pub bundle: &'a Path,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<&'a HashMap<String, String>>,
}

/// Run every hook of `kind` in order; the first failure stops them.
pub fn run_all(spec: &Spec, kind: Kind, state: &HookState<'_>) -> Result<(), InitError> {
    run(spec, kind, state, true)
        .into_iter()
        .next()
        .map_or(Ok(()), Err)
}

/// Run every hook of `kind` in order, whatever fails; each failure.
pub fn run_each(spec: &Spec, kind: Kind, state: &HookState<'_>) -> Vec<InitError> {
    run(spec, kind, state, false)
}

/// The hooks of `kind`, in order, each failure returned; `stop_early`:
/// none after the first failure. A hook without `env` gets none, but a
/// startContainer hook the process's environment (as in runc).
fn run(spec: &Spec, kind: Kind, state: &HookState<'_>, stop_early: bool) -> Vec<InitError> {
    let hooks = of_kind(spec, kind);
    let mut failures = Vec::new();
    if hooks.is_empty() {
        return failures;
    }
    let default_env = match kind {
        Kind::StartContainer => spec
            .process()
            .as_ref()
            .and_then(|p| p.env().as_deref())
            .unwrap_or_default(),
        _ => &[],
    };
    let state = serde_json::to_string(state).expect("hook state serializes");
    for (i, hook) in hooks.iter().enumerate() {
        if let Err(detail) = run_one(hook, &state, default_env) {
            failures.push(InitError::Hook {
                field: format!("hooks.{}[{i}]", kind.name()),
                path: hook.path().clone(),
                detail,
            });
            if stop_early {
                break;
            }
        }
    }
    failures
}

/// The most of a failing hook's output kept in the error.
const OUTPUT_LIMIT: usize = 4096;

fn run_one(hook: &Hook, state: &str, default_env: &[String]) -> Result<(), String> {
    let args = hook.args().as_deref().unwrap_or_default();
    let mut cmd = Command::new(hook.path());
    if let Some(argv0) = args.first() {
        cmd.arg0(argv0);
    }
    cmd.args(args.iter().skip(1)).env_clear();
    for kv in hook.env().as_deref().unwrap_or(default_env) {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start: {e}"))?;
    // A hook may exit without reading its stdin; that is not a failure.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(state.as_bytes());
    }
    let timeout = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t.unsigned_abs()));
    if let Some(limit) = timeout {
        if !exits_within(child.id(), limit) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", limit.as_secs()));
        }
    }
    let mut output = String::new();
    for stream in [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn Read>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn Read>),
    ]
    .into_iter()
    .flatten()
    {
        let _ = stream.take(OUTPUT_LIMIT as u64).read_to_string(&mut output);
    }
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    if status.success() {
        return Ok(());
    }
    let output = output.trim();
    Err(if output.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {}", output.replace('\n', "; "))
    })
}

/// Whether the process exits within `limit`, watched through a pidfd.
fn exits_within(pid: u32, limit: Duration) -> bool {
    let Some(fd) = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .and_then(|p| rustix::process::pidfd_open(p, PidfdFlags::empty()).ok())
    else {
        return true;
    };
    let timeout = Timespec {
        tv_sec: i64::try_from(limit.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: 0,
    };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    loop {
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Err(rustix::io::Errno::INTR) => continue,
            Ok(n) => return n > 0,
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(kind: &str, hooks: serde_json::Value) -> Spec {
        let mut v: serde_json::Value = serde_json::json!({"ociVersion": "1.3.0", "hooks": {}});
        v["hooks"][kind] = hooks;
        serde_json::from_value(v).unwrap()
    }

    fn state() -> HookState<'static> {
        HookState {
            oci_version: "1.3.0",
            id: "c1",
            status: "creating",
            pid: 42,
            bundle: Path::new("/b"),
            annotations: None,
        }
    }

    #[test]
    fn a_hook_gets_args_env_and_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!("echo \"$0:$FOO\" > {0}; cat >> {0}", out.display());
        let spec = spec_with(
            "poststop",
            serde_json::json!([{"path": "/bin/sh", "args": ["myhook", "-c", script, "arg1"], "env": ["FOO=bar"]}]),
        );
        run_all(&spec, Kind::Poststop, &state()).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let (first, json) = text.split_once('\n').unwrap();
        assert_eq!(
            first, "arg1:bar",
            "args after the script, and exactly the hook's env"
        );
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["id"], "c1");
        assert_eq!(v["pid"], 42);
        assert_eq!(v["status"], "creating");
    }

    #[test]
    fn failures_name_the_hook_and_say_why() {
        let spec = spec_with(
            "createRuntime",
            serde_json::json!([{"path": "/bin/true"}, {"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}]),
        );
        let err = run_all(&spec, Kind::CreateRuntime, &state())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("hooks.createRuntime[1]")
                && err.contains("exit status: 3")
                && err.contains("nope"),
            "{err}"
        );
        let spec = spec_with("prestart", serde_json::json!([{"path": "/no/such/hook"}]));
        assert!(run_all(&spec, Kind::Prestart, &state())
            .unwrap_err()
            .to_string()
            .contains("hooks.prestart[0]"));
    }

    #[test]
    fn a_hook_past_its_timeout_is_killed() {
        let spec = spec_with(
            "poststart",
            serde_json::json!([{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]),
        );
        let started = std::time::Instant::now();
        let err = run_all(&spec, Kind::Poststart, &state())
            .unwrap_err()
            .to_string();
        assert!(err.contains("timed out"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
