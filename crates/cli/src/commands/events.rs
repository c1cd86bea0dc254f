use std::io::Write;
use std::time::Duration;

use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container id
    id: String,
    /// Interval between stats events
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Print the container's stats once and exit
    #[arg(long)]
    stats: bool,
}

impl Args {
    pub fn run(self, g: &Global) -> anyhow::Result<i32> {
        if self.interval.is_zero() {
            return Err(super::flag_error("--interval", "must be greater than 0"));
        }
        let mut out = std::io::stdout().lock();
        container::events::events(&g.root, &self.id, self.interval, self.stats, &mut |e| {
            // A reader that went away ends the stream with the next write.
            let _ = serde_json::to_writer(&mut out, e);
            let _ = out.write_all(b"\n");
            let _ = out.flush();
        })?;
        Ok(0)
    }
}
