//! The generated man pages and completions: a page for every command with
//! every flag in it, each rendered by `man -l` without a warning, and the
//! completions completing (`crust ex<TAB>`).

use std::process::Command;

/// `man -l` of `text`, as plain text; panics on any warning.
fn render(name: &str, text: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let out = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(&path)
        .env("MANWIDTH", "200")
        .env("MAN_KEEP_FORMATTING", "")
        .env("PAGER", "cat")
        .env("MANPAGER", "cat")
        .output()
        .expect("man (man-db) is installed by scripts/install-deps.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{name}: {stderr}"
    );
    // Bold and underline as backspace overstrikes: keep the letters.
    let mut plain = String::new();
    for c in String::from_utf8_lossy(&out.stdout).chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    plain
}

#[test]
fn every_command_has_a_page_with_every_flag() {
    let pages = crust_docgen::man_pages();
    let mut cmd = crust::command().disable_help_subcommand(true);
    cmd.build();
    let mut expected = vec![("crust.8".to_string(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        expected.push((format!("crust-{}.8", sub.get_name()), sub.clone()));
    }
    assert_eq!(
        pages.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        expected.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()
    );
    for ((name, text), (_, cmd)) in pages.iter().zip(&expected) {
        let shown = render(name, text);
        let title = name.trim_end_matches(".8");
        assert!(shown.contains(&format!("{title}(8)")), "{name}: {shown}");
        // NAME: the command's own summary (the one `crust --help` lists).
        let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
        assert!(!about.is_empty(), "{name} has no summary");
        assert!(
            shown.contains(&format!("{title} - {about}")),
            "{name}: {shown}"
        );
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = arg.get_long() {
                assert!(
                    shown.contains(&format!("--{long}")),
                    "{name}: --{long} missing"
                );
            }
            if let Some(short) = arg.get_short() {
                assert!(
                    shown.contains(&format!("-{short},")) || shown.contains(&format!("-{short} ")),
                    "{name}: -{short} missing"
                );
            }
            if arg.is_positional() {
                let value = arg
                    .get_value_names()
                    .and_then(|v| v.first())
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
                assert!(shown.contains(&value), "{name}: <{value}> missing");
            }
        }
        // Every page points to the others.
        assert!(shown.contains("SEE ALSO"), "{name}");
    }
}

#[test]
fn the_summaries_are_the_commands_not_their_flag_structs() {
    // Doc comments on the flag structs once became the commands' help.
    let pages = crust_docgen::man_pages();
    let text = |n: &str| {
        let (_, t) = pages.iter().find(|(name, _)| name == n).unwrap();
        render(n, t)
    };
    assert!(text("crust-exec.8").contains("crust-exec - Run a new process inside a container"));
    assert!(text("crust-create.8").contains("crust-create - Create a container"));
    assert!(text("crust-restore.8").contains("crust-restore - Restore a container"));
    assert!(text("crust.8").contains("crust-check(8)"));
}

#[test]
fn bash_completes_subcommands_and_flags() {
    let (_, _, script) = crust_docgen::completions()
        .into_iter()
        .find(|(s, _, _)| *s == clap_complete::Shell::Bash)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crust");
    std::fs::write(&path, script).unwrap();
    let complete = |line: &str| {
        // As bash calls a completion function: the command, the word
        // being completed, the word before it.
        let words: Vec<&str> = line.split(' ').collect();
        let (cur, prev) = (words[words.len() - 1], words[words.len() - 2]);
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {}; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT={}; _crust crust '{cur}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                path.display(),
                words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" "),
                words.len() - 1,
                line.len()
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(complete("crust ex"), ["exec"]);
    assert!(complete("crust che").contains(&"check".to_string()));
    let flags = complete("crust exec --pi");
    assert!(
        flags.contains(&"--pid-file".to_string()) && flags.contains(&"--pidfd-socket".to_string()),
        "{flags:?}"
    );
}

#[test]
fn zsh_and_fish_scripts_know_every_command() {
    let cmd = crust::command();
    for (shell, _, script) in crust_docgen::completions() {
        let script = String::from_utf8(script).unwrap();
        for sub in cmd.get_subcommands() {
            assert!(
                script.contains(sub.get_name()),
                "{shell}: {}",
                sub.get_name()
            );
        }
        assert!(script.contains("pid-file"), "{shell}");
    }
}
