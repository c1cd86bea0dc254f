use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container id
    id: String,
    /// Kill the container first if it is still running
    #[arg(short, long)]
    force: bool,
}

impl Args {
    pub fn run(self, g: &Global) -> anyhow::Result<i32> {
        container::delete(&g.root, &self.id, self.force)?;
        Ok(0)
    }
}
