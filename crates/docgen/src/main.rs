//! `crust-docgen OUT_DIR`: crust's man pages (`OUT_DIR/man8/`) and shell
//! completions (`OUT_DIR/completions/{bash,zsh,fish}/`), for packaging
//! (scripts/make-deb.sh).
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        eprintln!("usage: crust-docgen OUT_DIR");
        return ExitCode::from(2);
    };
    match crust_docgen::write_all(std::path::Path::new(&out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crust-docgen: write into {out:?}: {e}");
            ExitCode::FAILURE
        }
    }
}
