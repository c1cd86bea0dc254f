//! One module per subcommand: parse its flags, call the `container` crate,
//! print what runc prints.

mod check;
mod checkpoint;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod restore;
mod run;
mod spec;
mod start;
mod state;
mod update;

use crate::Global;

#[derive(Debug, clap::Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Create a container
    Create(create::Args),
    /// Create and run a container
    Run(run::Args),
    /// Start a created container
    Start(start::Args),
    /// Output the state of a container
    State(state::Args),
    /// Run a new process inside a container
    Exec(Box<exec::Args>),
    /// Show what this build of crust implements
    Features(features::Args),
    /// Send a signal to a container's init process
    Kill(kill::Args),
    /// Delete a container and everything it holds
    Delete(delete::Args),
    /// List containers
    List(list::Args),
    /// List the processes of a container
    Ps(ps::Args),
    /// Create a new default config.json
    Spec(spec::Args),
    /// Suspend every process of a container (cgroup freezer)
    Pause(pause::Args),
    /// Resume a paused container
    Resume(pause::Args),
    /// Change a container's resource limits
    Update(Box<update::Args>),
    /// Print a container's resource usage and OOM events
    Events(events::Args),
    /// Checkpoint a running container (CRIU)
    Checkpoint(Box<checkpoint::Args>),
    /// Restore a container from a previous checkpoint (CRIU)
    Restore(Box<restore::Args>),
    /// Tell what works on this host and, for a bundle, what create would
    /// refuse (nothing is created)
    Check(check::Args),
}

impl Command {
    /// Run the command; the result is the process's exit code.
    pub fn run(self, g: &Global) -> anyhow::Result<i32> {
        match self {
            Command::Create(a) => a.run(g),
            Command::Run(a) => a.run(g),
            Command::Start(a) => a.run(g),
            Command::State(a) => a.run(g),
            Command::Exec(a) => a.run(g),
            Command::Features(a) => a.run(g),
            Command::Kill(a) => a.run(g),
            Command::Delete(a) => a.run(g),
            Command::List(a) => a.run(g),
            Command::Ps(a) => a.run(g),
            Command::Spec(a) => a.run(g),
            Command::Pause(a) => a.pause(g),
            Command::Resume(a) => a.resume(g),
            Command::Update(a) => a.run(g),
            Command::Events(a) => a.run(g),
            Command::Checkpoint(a) => a.run(g),
            Command::Restore(a) => a.run(g),
            Command::Check(a) => a.run(g),
        }
    }
}

impl Command {
    /// How many descriptors from 3 on the container's process inherits
    /// from crust's caller (`--preserve-fds`, socket activation).
    pub fn preserved_fds(&self) -> u32 {
        match self {
            Command::Create(a) => a.opts.preserved_fds(),
            Command::Run(a) => a.preserved_fds(),
            Command::Exec(a) => a.preserved_fds(),
            _ => 0,
        }
    }
}

/// An error that exits with a code of its own, not 1 (runc's `exec` exits
/// 255 when the runtime fails, keeping the lower codes for the process).
#[derive(Debug)]
pub struct ExitWith {
    pub code: i32,
    pub error: anyhow::Error,
}

impl std::fmt::Display for ExitWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for ExitWith {}

/// A flag whose value cannot be used, found after parsing: the runtime's
/// `Flag` error, so that it carries the code `cli.flag`.
pub(crate) fn flag_error(flag: &str, detail: impl Into<String>) -> anyhow::Error {
    container::error::Error::Flag {
        flag: flag.into(),
        detail: detail.into(),
    }
    .into()
}

/// `--format` of `list` and `ps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}
