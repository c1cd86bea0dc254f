use std::path::PathBuf;

use container::console::ConsoleTarget;

use super::checkpoint::CriuFlags;
use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container id
    id: String,
    #[command(flatten)]
    criu: CriuFlags,
    /// Path to the bundle directory
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// Detach from the container's process
    #[arg(short, long)]
    detach: bool,
    /// File to write the restored init's pid to
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Unix socket to receive the pty master of a terminal
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Do not make crust a child subreaper (runc's flag; crust reaps its
    /// own child, the restored init, either way)
    #[arg(long = "no-subreaper")]
    no_subreaper: bool,
    /// Accepted for runc's sake: CRIU restores the root as it was dumped
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// LSM profile for the restored process, TYPE:NAME
    #[arg(long = "lsm-profile", value_name = "TYPE:NAME")]
    lsm_profile: Option<String>,
    /// LSM mount context for the restored mounts
    #[arg(long = "lsm-mount-context", value_name = "CONTEXT")]
    lsm_mount_context: Option<String>,
}

impl Args {
    /// Restore; in the foreground, wait for the container and exit with
    /// its exit code, forwarding every signal to it (as `run`).
    pub fn run(self, g: &Global) -> anyhow::Result<i32> {
        if !rustix::process::geteuid().is_root() {
            log::warn!("crust restore is untested with rootless containers");
        }
        let opts = self.criu.options(g)?;
        let console = match (&self.console_socket, self.detach) {
            (Some(path), _) => ConsoleTarget::Socket(path.clone()),
            (None, true) => ConsoleTarget::None,
            (None, false) => ConsoleTarget::Runtime,
        };
        let mask = sys::signal::block_all().map_err(|e| anyhow::anyhow!("block signals: {e}"))?;
        let signals = if self.detach {
            None
        } else {
            Some(sys::signal::signalfd_all().map_err(|e| anyhow::anyhow!("signalfd: {e}"))?)
        };
        let restored = container::restore(&container::RestoreOptions {
            root: &g.root,
            id: &self.id,
            bundle: &self.bundle,
            criu: &opts,
            pid_file: self.pid_file.as_deref(),
            console,
            detached: self.detach,
            lsm_profile: self.lsm_profile.as_deref(),
            lsm_mount_context: self.lsm_mount_context.as_deref(),
            systemd_cgroup: g.systemd_cgroup,
            sigmask: mask,
        });
        let (restored, Some(signals)) = (restored?, signals) else {
            sys::signal::restore(&mask)
                .map_err(|e| anyhow::anyhow!("restore the signal mask: {e}"))?;
            return Ok(0);
        };
        restored.dir.unlock()?;
        let code = container::wait_forwarding_signals(
            &restored.init.pidfd,
            &signals,
            restored.console.as_ref(),
        )?;
        drop(restored);
        match container::delete(&g.root, &self.id, true) {
            Ok(()) | Err(container::error::Error::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(code)
    }
}
