use std::io::Write;

use container::ContainerState;

use super::Format;
use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format
    #[arg(short, long, value_enum, default_value = "table")]
    format: Format,
    /// Print only the container ids
    #[arg(short, long)]
    quiet: bool,
}

impl Args {
    pub fn run(self, g: &Global) -> anyhow::Result<i32> {
        let all = container::list(&g.root)?;
        let out = if self.quiet {
            all.iter().map(|c| format!("{}\n", c.id)).collect()
        } else if self.format == Format::Json {
            format!("{}\n", serde_json::to_string(&all)?)
        } else {
            table(&all)
        };
        std::io::stdout().write_all(out.as_bytes())?;
        Ok(0)
    }
}

/// Columns as runc's tabwriter lays them out: at least 12 wide, 3 spaces
/// of padding.
fn table(all: &[ContainerState]) -> String {
    let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        .map(String::from)
        .to_vec();
    let rows: Vec<Vec<String>> = std::iter::once(header)
        .chain(all.iter().map(|c| {
            vec![
                c.id.clone(),
                c.pid.to_string(),
                c.status.clone(),
                c.bundle.display().to_string(),
                c.created.clone(),
                c.owner.clone(),
            ]
        }))
        .collect();
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0).max(9) + 3)
        .collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i < 5 {
                        format!("{c:<w$}", w = widths[i])
                    } else {
                        c.clone()
                    }
                })
                .collect();
            cells.concat() + "\n"
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let c = ContainerState {
            oci_version: "1.3.0".into(),
            id: "a-very-long-container-id".into(),
            pid: 42,
            status: "running".into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00Z".into(),
            annotations: Default::default(),
            owner: "root".into(),
        };
        let t = table(&[c]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0].find("PID"), lines[1].find("42"));
        assert_eq!(lines[0].find("OWNER"), lines[1].find("root"));
        assert!(lines[0].starts_with("ID "));
    }
}
