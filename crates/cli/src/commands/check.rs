//! `crust check`: what works on this host and, with `--bundle`, what
//! `create` would refuse (`container::check`). Exits 1 when something
//! fails, 0 otherwise (warnings included).

use std::path::PathBuf;

use container::check::{Finding, Status};

use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also check this bundle: what create would refuse, without creating
    /// anything
    #[arg(long, short = 'b', value_name = "DIR")]
    bundle: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    format: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    Text,
    Json,
}

impl Args {
    pub fn run(self, g: &Global) -> anyhow::Result<i32> {
        let mut findings = container::check::host(&g.criu);
        if let Some(bundle) = &self.bundle {
            findings.extend(container::check::bundle(bundle, g.systemd_cgroup));
        }
        let failed = findings.iter().any(|f| f.status == Status::Fail);
        let text = match self.format {
            Output::Json => {
                serde_json::to_string_pretty(
                    &serde_json::json!({"ok": !failed, "findings": findings}),
                )? + "\n"
            }
            Output::Text => render(&findings),
        };
        print!("{text}");
        Ok(i32::from(failed))
    }
}

/// One line per finding (status, area, what: detail), its fix indented
/// below, and the counts last.
fn render(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out += &format!(
            "{:<5} {:<11} {}: {}\n",
            f.status.label(),
            f.area,
            f.name,
            f.detail
        );
        if let Some(fix) = &f.fix {
            out += &format!("{:<17} fix: {fix}\n", "");
        }
    }
    let count = |s| findings.iter().filter(|f| f.status == s).count();
    out += &format!(
        "{} ok, {} warnings, {} failures\n",
        count(Status::Ok),
        count(Status::Warn),
        count(Status::Fail)
    );
    out
}
