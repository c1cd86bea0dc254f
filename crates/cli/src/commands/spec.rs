use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::Context;

use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write config.json into
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// A config for a rootless container
    #[arg(long)]
    rootless: bool,
}

impl Args {
    /// Writes `config.json`, tab-indented like runc's, and refuses to
    /// overwrite one.
    pub fn run(self, _g: &Global) -> anyhow::Result<i32> {
        let ids = self.rootless.then(|| {
            (
                rustix::process::geteuid().as_raw(),
                rustix::process::getegid().as_raw(),
            )
        });
        let spec = container::spec::default_spec(ids);
        let mut text = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(
            &mut text,
            serde_json::ser::PrettyFormatter::with_indent(b"\t"),
        );
        serde::Serialize::serialize(&spec, &mut ser)?;
        let path = self.bundle.join("config.json");
        let mut file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&path)
        {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                anyhow::bail!("File {} exists. Remove it first", path.display())
            }
            other => other.with_context(|| format!("create {}", path.display()))?,
        };
        file.write_all(&text)
            .with_context(|| format!("write {}", path.display()))?;
        Ok(0)
    }
}
