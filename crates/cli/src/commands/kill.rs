use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Container id
    id: String,
    /// Signal: a name with or without SIG, or a number
    #[arg(default_value = "SIGTERM")]
    signal: String,
    /// Send the signal to every process of the container
    #[arg(short, long)]
    all: bool,
}

impl Args {
    pub fn run(self, g: &Global) -> anyhow::Result<i32> {
        let signal = container::signal::parse(&self.signal)?;
        container::kill(&g.root, &self.id, signal, self.all)?;
        Ok(0)
    }
}
