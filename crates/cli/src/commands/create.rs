use std::path::PathBuf;

use container::console::ConsoleTarget;

use crate::Global;

// runc's `create` flags, shared with `run` (a plain comment: a doc
// comment here would become the help text of both commands).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container id
    pub id: String,
    #[command(flatten)]
    pub opts: CreateFlags,
}

#[derive(Debug, clap::Args)]
pub struct CreateFlags {
    /// Path to the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket to receive the pty master of a terminal
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the container init's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to receive a pidfd of the container's init
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    /// Use MS_MOVE and chroot instead of pivot_root
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra file descriptors (3 .. 3+N-1) to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
}

/// systemd socket activation: `LISTEN_FDS` descriptors from 3 on, meant
/// for this process (`LISTEN_PID`), are passed on to the container, as runc
/// does.
fn socket_activation() -> u32 {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if ours {
        count
    } else {
        0
    }
}

impl CreateFlags {
    /// The caller's descriptors the container gets.
    pub fn preserved_fds(&self) -> u32 {
        self.preserve_fds.saturating_add(socket_activation())
    }

    /// `detached`: `create` and `run -d`; a foreground `run` holds the
    /// terminal itself unless given a console socket.
    pub fn create(
        &self,
        g: &Global,
        id: &str,
        detached: bool,
        starts_now: bool,
        sigmask: sys::signal::SigMask,
    ) -> anyhow::Result<container::Created> {
        let console = match (&self.console_socket, detached) {
            (Some(path), _) => ConsoleTarget::Socket(path.clone()),
            (None, true) => ConsoleTarget::None,
            (None, false) => ConsoleTarget::Runtime,
        };
        Ok(container::create(&container::CreateOptions {
            root: &g.root,
            id,
            bundle: &self.bundle,
            pid_file: self.pid_file.as_deref(),
            pidfd_socket: self.pidfd_socket.as_deref(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            listen_fds: socket_activation(),
            console,
            detached,
            starts_now,
            sigmask,
            systemd_cgroup: g.systemd_cgroup,
        })?)
    }
}

impl Args {
    pub fn run(self, g: &Global) -> anyhow::Result<i32> {
        // Signals wait until the create is complete, so an interrupt never
        // leaves a half-made container behind.
        let mask = sys::signal::block_all().map_err(|e| anyhow::anyhow!("block signals: {e}"))?;
        let result = self.opts.create(g, &self.id, true, false, mask);
        sys::signal::restore(&mask).map_err(|e| anyhow::anyhow!("restore the signal mask: {e}"))?;
        result.map(|_| 0)
    }
}
