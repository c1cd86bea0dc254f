use std::process::Command;

use anyhow::Context;

use super::Format;
use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format
    #[arg(short, long, value_enum, default_value = "table")]
    format: Format,
    /// Container id
    id: String,
    /// Options for ps(1) (default: -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_args: Vec<String>,
}

impl Args {
    /// runc's shapes: a JSON array of pids, or the host's `ps` output
    /// reduced to the container's processes.
    pub fn run(self, g: &Global) -> anyhow::Result<i32> {
        let pids = container::ps::processes(&g.root, &self.id)?;
        if self.format == Format::Json {
            println!("{}", serde_json::to_string(&pids)?);
            return Ok(0);
        }
        let args = if self.ps_args.is_empty() {
            vec!["-ef".to_string()]
        } else {
            self.ps_args
        };
        let out = Command::new("ps").args(&args).output().context("run ps")?;
        if !out.status.success() {
            anyhow::bail!(
                "ps {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let table = container::ps::filter_ps_output(&text, &pids)
            .with_context(|| format!("ps {}: the output has no PID column", args.join(" ")))?;
        print!("{table}");
        Ok(0)
    }
}
