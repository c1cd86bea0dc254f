//! `crust`: an OCI runtime with runc's command line. The binary is
//! `main()`; `command()` is the same command line for the tools that
//! generate the man pages and shell completions from it (crates/docgen).
#![forbid(unsafe_code)]

mod commands;
mod logging;

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "crust",
    about = "Run OCI containers (runc-compatible)",
    disable_version_flag = true
)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    /// Print the version
    #[arg(short = 'v', long = "version")]
    version: bool,
    #[command(subcommand)]
    command: Option<commands::Command>,
}

/// runc's global flags: before the command, as runc takes them (its
/// commands refuse them after their name, and engines put them first).
/// Not clap's `global`, which copies every one into each of the 18
/// commands at every start: 100 µs of each command's start-up here.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// Root directory for container state (default: /run/crust, or
    /// $XDG_RUNTIME_DIR/crust for a user other than root)
    #[arg(long = "root", value_name = "DIR")]
    root_flag: Option<PathBuf>,
    /// The state root in effect: `--root`, or the default.
    #[arg(skip)]
    root: PathBuf,
    /// Log file (default: stderr)
    #[arg(long)]
    log: Option<PathBuf>,
    /// Log format
    #[arg(long = "log-format", value_enum, default_value = "text")]
    log_format: logging::Format,
    /// Log debug messages
    #[arg(long)]
    debug: bool,
    /// Use systemd to manage cgroups: the container's cgroup is a transient
    /// unit (linux.cgroupsPath is slice:prefix:name)
    #[arg(long = "systemd-cgroup")]
    systemd_cgroup: bool,
    /// Path to the criu binary, for checkpoint and restore
    #[arg(long, value_name = "PATH", default_value = "criu")]
    criu: PathBuf,
    /// Ignore cgroup permission errors (true, false or auto); accepted for
    /// compatibility
    #[arg(
        long = "rootless",
        id = "global_rootless",
        value_name = "VALUE",
        default_value = "auto"
    )]
    rootless: String,
}

/// runc's shape: engines (podman) show the first line, and tools read
/// the `key: value` lines after it.
fn version() -> String {
    format!(
        "crust version {}\ncommit: {}\nspec: {SPEC_VERSION}\nlibseccomp: {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("CRUST_COMMIT"),
        container::libseccomp_version(),
        SPEC_VERSION = container::SPEC_VERSION
    )
}

/// runc's default: a system directory for root, the user's runtime
/// directory for anyone else (rootless containers).
fn state_root(flag: Option<PathBuf>) -> PathBuf {
    if let Some(root) = flag {
        return root;
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !rustix::process::geteuid().is_root() => PathBuf::from(dir).join("crust"),
        _ => PathBuf::from("/run/crust"),
    }
}

/// The command line, with the one single-dash spelling engines send:
/// containerd's go-runc passes `-no-subreaper` to `restore` (runc's flag
/// parser takes long flags with one dash).
fn args() -> Vec<std::ffi::OsString> {
    std::env::args_os()
        .map(|a| {
            if a == "-no-subreaper" {
                "--no-subreaper".into()
            } else {
                a
            }
        })
        .collect()
}

/// The whole command line, every subcommand and flag, as `--help` shows it.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// `crust`: parse the command line, run the command, exit with its code.
pub fn main() {
    let args = args();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => usage_error(&args, e),
    };
    if cli.version {
        print!("{}", version());
        return;
    }
    let mut cli = cli;
    cli.global.root = state_root(cli.global.root_flag.take());
    let Some(command) = cli.command else {
        eprintln!("crust: a command is required; see crust --help");
        std::process::exit(2);
    };
    // Before crust opens anything (the log file first): its descriptors
    // must be numbered above those the container inherits.
    if let Err(e) = sys::fd::reserve_preserved_range(command.preserved_fds()) {
        eprintln!("crust: reserve the preserved descriptor range (--preserve-fds): {e}");
        std::process::exit(1);
    }
    let errors_on_stderr = match logging::init(
        cli.global.log.as_deref(),
        cli.global.log_format,
        cli.global.debug,
    ) {
        Ok(to_stderr) => to_stderr,
        Err(e) => {
            eprintln!("crust: {e:#}");
            std::process::exit(1);
        }
    };
    let code = match command.run(&cli.global) {
        Ok(code) => code,
        Err(e) => {
            // One line, root cause last: containerd shows only the last
            // error line of the log, podman shows stderr.
            let msg = format!("{e:#}");
            let code = error_code(&e);
            log::error!(code = code; "{msg}");
            if !errors_on_stderr {
                eprintln!("crust: {msg}");
            }
            e.downcast_ref::<commands::ExitWith>().map_or(1, |x| x.code)
        }
    };
    std::process::exit(code);
}

/// The stable code of the error that ends a command (docs/reliability.md):
/// the runtime's own where one is in the chain, `host.other` otherwise.
fn error_code(e: &anyhow::Error) -> &'static str {
    for cause in e.chain() {
        if let Some(err) = cause.downcast_ref::<container::error::Error>() {
            return err.code();
        }
        if let Some(exit) = cause.downcast_ref::<commands::ExitWith>() {
            return error_code(&exit.error);
        }
    }
    "host.other"
}

/// A command line clap cannot parse: logged where `--log` says too, with
/// the code `cli.usage` (containerd reads only the log file), then clap's
/// own message and exit code. `--help` and `--version` are not errors.
fn usage_error(args: &[std::ffi::OsString], e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if !matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let (log, format) = log_flags(args);
        if let Some(path) = log {
            if logging::init(Some(&path), format, false).is_ok() {
                let text = e.to_string();
                let first = text.lines().next().unwrap_or_default();
                log::error!(code = "cli.usage"; "{}", first.trim_start_matches("error: "));
            }
        }
    }
    e.exit()
}

/// `--log` and `--log-format` picked out of a command line clap refused.
fn log_flags(args: &[std::ffi::OsString]) -> (Option<PathBuf>, logging::Format) {
    let mut log = None;
    let mut format = logging::Format::Text;
    let mut it = args.iter().filter_map(|a| a.to_str());
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (arg, None),
        };
        let mut value = || inline.clone().or_else(|| it.next().map(str::to_string));
        match flag {
            "--log" => log = value().map(PathBuf::from),
            "--log-format" if value().as_deref() == Some("json") => format = logging::Format::Json,
            "--" => break,
            _ => {}
        }
    }
    (log, format)
}
