use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container id
    id: String,
}

impl Args {
    pub fn run(self, g: &Global) -> anyhow::Result<i32> {
        container::start(&g.root, &self.id)?;
        Ok(0)
    }
}
