use std::path::PathBuf;

use anyhow::Context;
use container::console::ConsoleTarget;
use container::exec::Overrides;

use crate::Global;

// runc's `exec` flags (a plain comment: a doc comment here would become
// the command's help text).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container id
    id: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
    /// A process.json to run instead of the container's process
    #[arg(short, long)]
    process: Option<PathBuf>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Unix socket to receive the pty master
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Working directory
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// Set an environment variable (KEY=value)
    #[arg(short, long)]
    env: Vec<String>,
    /// UID[:GID]
    #[arg(short, long)]
    user: Option<String>,
    /// An additional group id
    #[arg(short = 'g', long = "additional-gids")]
    additional_gids: Vec<u32>,
    /// Add a capability (not to the inheritable set)
    #[arg(short, long)]
    cap: Vec<String>,
    /// Set no_new_privs
    #[arg(long = "no-new-privs")]
    no_new_privs: bool,
    /// AppArmor profile for the process
    #[arg(long)]
    apparmor: Option<String>,
    /// SELinux label for the process
    #[arg(long = "process-label")]
    process_label: Option<String>,
    /// Detach from the process
    #[arg(short, long)]
    detach: bool,
    /// File to write the process's pid to
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Unix socket to receive a pidfd of the process
    #[arg(long = "pidfd-socket")]
    pidfd_socket: Option<PathBuf>,
    /// Pass N extra file descriptors (3 .. 3+N-1)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// Allow exec into a paused container
    #[arg(long = "ignore-paused")]
    ignore_paused: bool,
    /// Run in an existing sub-cgroup of the container: PATH, or
    /// CONTROLLER[,CONTROLLER]:PATH for some v1 hierarchies (repeatable)
    #[arg(long)]
    cgroup: Vec<String>,
}

impl Args {
    pub fn preserved_fds(&self) -> u32 {
        self.preserve_fds
    }

    /// In the foreground, exit with the process's exit code, forwarding
    /// signals (and relaying its terminal with `-t`); detached, exit once it
    /// runs.
    pub fn run(self, g: &Global) -> anyhow::Result<i32> {
        self.exec(g).map_err(|e| {
            anyhow::Error::new(super::ExitWith {
                code: 255,
                error: e.context("exec failed"),
            })
        })
    }

    fn exec(self, g: &Global) -> anyhow::Result<i32> {
        let target = container::exec::target(&g.root, &self.id)?;
        let process = self.process(&target.state)?;
        let console = match (&self.console_socket, self.detach) {
            (Some(path), _) => ConsoleTarget::Socket(path.clone()),
            (None, true) => ConsoleTarget::None,
            (None, false) => ConsoleTarget::Runtime,
        };
        let mask = sys::signal::block_all().map_err(|e| anyhow::anyhow!("block signals: {e}"))?;
        let executed = container::exec::exec(container::exec::ExecOptions {
            root: &g.root,
            target,
            process,
            console,
            detached: self.detach,
            pid_file: self.pid_file.as_deref(),
            pidfd_socket: self.pidfd_socket.as_deref(),
            preserve_fds: self.preserve_fds,
            sigmask: mask,
            ignore_paused: self.ignore_paused,
            cgroup: self.cgroup.clone(),
        })?;
        if self.detach {
            return Ok(0);
        }
        let signals = sys::signal::signalfd_all().map_err(|e| anyhow::anyhow!("signalfd: {e}"))?;
        Ok(container::wait_forwarding_signals(
            &executed.pidfd,
            &signals,
            executed.console.as_ref(),
        )?)
    }

    fn process(
        &self,
        state: &container::state::State,
    ) -> anyhow::Result<oci_spec::runtime::Process> {
        let process = match &self.process {
            Some(path) => container::exec::process_from_file(path)?,
            None => {
                let (uid, gid) = parse_user(self.user.as_deref())?;
                let overrides = Overrides {
                    args: self.command.clone(),
                    env: self.env.clone(),
                    cwd: self.cwd.clone(),
                    uid,
                    gid,
                    additional_gids: self.additional_gids.clone(),
                    caps: self.cap.clone(),
                    no_new_privs: self.no_new_privs,
                    tty: self.tty,
                };
                let base = state
                    .config
                    .process()
                    .clone()
                    .context("the container has no process")?;
                container::exec::process_from_config(&base, &overrides)?
            }
        };
        let mut process = process;
        if let Some(profile) = &self.apparmor {
            process.set_apparmor_profile(Some(profile.clone()));
        }
        if let Some(label) = &self.process_label {
            process.set_selinux_label(Some(label.clone()));
        }
        container::config::validate_process_fields(&process)
            .map_err(|e| anyhow::anyhow!("exec process: {}: {}", e.field, e.detail))?;
        Ok(process)
    }
}

/// `UID[:GID]`.
fn parse_user(user: Option<&str>) -> anyhow::Result<(Option<u32>, Option<u32>)> {
    let Some(user) = user else {
        return Ok((None, None));
    };
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let num = |s: &str| {
        s.parse::<u32>()
            .map_err(|e| super::flag_error("--user", format!("{user:?}: expected UID[:GID] ({e})")))
    };
    Ok((Some(num(uid)?), gid.map(num).transpose()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_flag() {
        assert_eq!(parse_user(None).unwrap(), (None, None));
        assert_eq!(parse_user(Some("1000")).unwrap(), (Some(1000), None));
        assert_eq!(parse_user(Some("1000:50")).unwrap(), (Some(1000), Some(50)));
        assert!(parse_user(Some("root")).is_err());
        assert!(parse_user(Some("1:x")).is_err());
    }
}
