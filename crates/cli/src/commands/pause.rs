use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container id
    id: String,
}

impl Args {
    pub fn pause(self, g: &Global) -> anyhow::Result<i32> {
        container::pause(&g.root, &self.id)?;
        Ok(0)
    }

    pub fn resume(self, g: &Global) -> anyhow::Result<i32> {
        container::resume(&g.root, &self.id)?;
        Ok(0)
    }
}
