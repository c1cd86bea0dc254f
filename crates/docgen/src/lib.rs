//! crust's man pages and shell completions, generated from the command
//! line itself (`crust::command()`, the clap definitions `--help` shows),
//! so that neither can say what the binary does not take.
//!
//! One page per command in section 8, as runc's (`crust(8)`,
//! `crust-exec(8)`, …), and completions for bash, zsh and fish.
#![forbid(unsafe_code)]

use std::path::Path;

use clap_complete::Shell;

/// Every page: (file name, roff text). `crust.8` first.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let mut root = crust::command().disable_help_subcommand(true);
    root.build();
    let subcommands: Vec<clap::Command> = root
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    let names: Vec<String> = subcommands
        .iter()
        .map(|s| format!("crust-{}", s.get_name()))
        .collect();
    let mut pages = vec![page(root, &names)];
    for sub in subcommands {
        pages.push(page(sub, &["crust".to_string()]));
    }
    pages
}

/// One command's page, with a SEE ALSO section naming `see_also`.
fn page(cmd: clap::Command, see_also: &[String]) -> (String, Vec<u8>) {
    let man = clap_mangen::Man::new(cmd)
        .section("8")
        .source(format!("crust {}", env!("CARGO_PKG_VERSION")))
        .manual("crust manual");
    let mut text = Vec::new();
    man.render(&mut text)
        .expect("rendering into memory cannot fail");
    let refs: Vec<String> = see_also.iter().map(|n| format!("\\fB{n}\\fR(8)")).collect();
    text.extend_from_slice(format!(".SH \"SEE ALSO\"\n{}\n", refs.join(", ")).as_bytes());
    (man.get_filename(), text)
}

/// The completion scripts: (shell, file name as distributions install it,
/// script).
pub fn completions() -> Vec<(Shell, &'static str, Vec<u8>)> {
    [
        (Shell::Bash, "crust"),
        (Shell::Zsh, "_crust"),
        (Shell::Fish, "crust.fish"),
    ]
    .into_iter()
    .map(|(shell, file)| {
        let mut cmd = crust::command();
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, "crust", &mut script);
        (shell, file, script)
    })
    .collect()
}

/// Write `man8/*.8` and `completions/{bash,zsh,fish}/…` under `out`.
pub fn write_all(out: &Path) -> std::io::Result<()> {
    let man = out.join("man8");
    std::fs::create_dir_all(&man)?;
    for (name, text) in man_pages() {
        std::fs::write(man.join(name), text)?;
    }
    for (shell, file, script) in completions() {
        let dir = out.join("completions").join(shell.to_string());
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(file), script)?;
    }
    Ok(())
}
