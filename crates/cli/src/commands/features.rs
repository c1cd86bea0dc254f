use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {}

impl Args {
    /// Indented with four spaces, as runc prints it.
    pub fn run(self, _g: &Global) -> anyhow::Result<i32> {
        let mut text = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut text, fmt);
        serde::Serialize::serialize(&container::features::features(), &mut ser)?;
        println!("{}", String::from_utf8(text)?);
        Ok(0)
    }
}
