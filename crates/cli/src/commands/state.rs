use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container id
    id: String,
}

impl Args {
    /// Pretty-printed JSON, as runc prints it.
    pub fn run(self, g: &Global) -> anyhow::Result<i32> {
        let state = container::state(&g.root, &self.id)?;
        println!("{}", serde_json::to_string_pretty(&state)?);
        Ok(0)
    }
}
