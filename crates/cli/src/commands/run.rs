use crate::Global;

use super::create::CreateFlags;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container id
    id: String,
    #[command(flatten)]
    opts: CreateFlags,
    /// Detach from the container's process
    #[arg(short, long)]
    detach: bool,
    /// Keep the container's state after it exits
    #[arg(long)]
    keep: bool,
    /// Do not make crust a child subreaper (runc's flag; crust reaps its
    /// own child, the container's init, either way)
    #[arg(long = "no-subreaper")]
    no_subreaper: bool,
}

impl Args {
    pub fn preserved_fds(&self) -> u32 {
        self.opts.preserved_fds()
    }

    /// Create and start; in the foreground, wait for the container and exit
    /// with its exit code, forwarding every signal to it.
    pub fn run(self, g: &Global) -> anyhow::Result<i32> {
        // Blocked before the fork so that no signal is lost between start
        // and the wait; the container's process gets the original mask.
        let mask = sys::signal::block_all().map_err(|e| anyhow::anyhow!("block signals: {e}"))?;
        let mut phases = container::Phases::start("run");
        let created = self.opts.create(g, &self.id, self.detach, true, mask)?;
        phases.mark("created");
        let started = self.start(&created);
        phases.mark("started (the process executed, poststart hooks run)");
        let signals = match started {
            Ok(signals) => signals,
            Err(e) => {
                drop(created);
                let _ = container::delete(&g.root, &self.id, true);
                return Err(e);
            }
        };
        let Some(signals) = signals else {
            sys::signal::restore(&mask)
                .map_err(|e| anyhow::anyhow!("restore the signal mask: {e}"))?;
            return Ok(0);
        };
        created.dir.unlock()?;
        let code = container::wait_forwarding_signals(
            &created.init.pidfd,
            &signals,
            created.console.as_ref(),
        )?;
        phases.mark("the container's process ran and was reaped");
        drop(created);
        if !self.keep {
            // Someone (an engine cleaning up) may have deleted it already.
            match container::delete(&g.root, &self.id, true) {
                Ok(()) | Err(container::error::Error::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
            phases.mark("deleted (cgroup, state)");
        }
        Ok(code)
    }

    /// Release the container; in the foreground, return the signalfd to
    /// wait on.
    fn start(&self, created: &container::Created) -> anyhow::Result<Option<std::os::fd::OwnedFd>> {
        let signals = if self.detach {
            None
        } else {
            Some(sys::signal::signalfd_all().map_err(|e| anyhow::anyhow!("signalfd: {e}"))?)
        };
        container::release_created(created)?;
        container::poststart(&created.state)?;
        Ok(signals)
    }
}
