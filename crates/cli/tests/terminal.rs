//! `process.terminal`: the pty master sent over `--console-socket` as
//! engines expect, a foreground `run` relaying it, and runc's rules.

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;

use common::{stderr, stdout, Bundle};
use serde_json::json;

const SCRIPT: &str =
    "tty; stty size; [ -t 0 ] && [ -t 1 ] && echo stdio-is-a-tty; ls -l /dev/console";

fn terminal_bundle() -> Bundle {
    let mut b = Bundle::new(SCRIPT);
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 33, "width": 111});
    b
}

fn read_until_closed(master: &OwnedFd) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = rustix::io::read(master, &mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).to_string()
}

#[test]
fn the_pty_master_goes_to_the_console_socket() {
    let b = terminal_bundle();
    let sock = b.dir.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let engine = std::thread::spawn(move || common::receive_fd(&listener));
    let out = b.crust(&["create", "--console-socket", sock.to_str().unwrap(), "c1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (payload, master) = engine.join().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&payload),
        "/dev/pts/0",
        "the payload is the pty's name"
    );
    assert!(b.crust(&["start", "c1"]).status.success());
    let text = read_until_closed(&master);
    assert!(text.contains("/dev/pts/0"), "{text}");
    assert!(text.contains("33 111"), "consoleSize: {text}");
    assert!(text.contains("stdio-is-a-tty"), "{text}");
    assert!(text.contains("136,"), "/dev/console is the pty: {text}");
}

#[test]
fn a_foreground_run_relays_the_terminal() {
    let b = terminal_bundle();
    let out = b.run("c1");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("/dev/pts/0") && text.contains("stdio-is-a-tty") && text.contains("33 111"),
        "{text}"
    );
}

#[test]
fn runcs_console_rules() {
    let b = terminal_bundle();
    let out = b.crust(&["create", "c1"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--console-socket"),
        "{}",
        stderr(&out)
    );
    let out = b.crust(&["run", "-d", "c2"]);
    assert!(!out.status.success());
    let sock = b.dir.path().join("unused.sock");
    let _listener = UnixListener::bind(&sock).unwrap();
    let out = b.crust(&["run", "--console-socket", sock.to_str().unwrap(), "c3"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("will not detach"), "{}", stderr(&out));
    let plain = Bundle::new("true");
    let out = plain.crust(&["create", "--console-socket", sock.to_str().unwrap(), "c4"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("process.terminal"),
        "{}",
        stderr(&out)
    );
    assert_eq!(b.state_dirs() + plain.state_dirs(), 0);
}

/// Receive the pty master an engine would get for `crust ARGS…`, and read
/// the terminal until the process closes it.
fn through_console_socket(b: &Bundle, args: &[&str]) -> String {
    let sock = b.dir.path().join(format!("console-{}.sock", args.len()));
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).unwrap();
    let engine = std::thread::spawn(move || common::receive_fd(&listener));
    let mut all: Vec<&str> = vec![args[0], "--console-socket", sock.to_str().unwrap()];
    all.extend_from_slice(&args[1..]);
    let out = b.crust(&all);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let (_, master) = engine.join().unwrap();
    read_until_closed(&master)
}

/// runc's "tty owner" tests: the terminal belongs to the process's uid
/// (root, or 1000 here), its group is devpts' tty group (5), for `run`
/// and for `exec -t`; and `exec -t` takes the config's consoleSize.
#[test]
fn the_terminal_belongs_to_the_processs_user() {
    for uid in [0, 1000] {
        let mut b = terminal_bundle();
        b.config["process"]["user"] = json!({"uid": uid, "gid": 100});
        b.config["process"]["args"] = json!(["sh", "-c", "stat -c %u:%g $(tty)"]);
        let text = through_console_socket(&b, &["run", "-d", "c1"]);
        assert_eq!(text.trim(), format!("{uid}:5"), "run as {uid}");

        b.config["process"]["args"] = json!(["sleep", "1000"]);
        b.config["process"]["terminal"] = json!(false);
        assert!(b.crust(&["run", "-d", "c2"]).status.success());
        let text = through_console_socket(
            &b,
            &[
                "exec",
                "-t",
                "-d",
                "--user",
                &format!("{uid}:100"),
                "c2",
                "sh",
                "-c",
                "stat -c %u:%g $(tty); stty size",
            ],
        );
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert_eq!(
            lines,
            [format!("{uid}:5").as_str(), "33 111"],
            "exec as {uid}: {text}"
        );
        b.crust(&["delete", "--force", "c2"]);
        b.crust(&["delete", "--force", "c1"]);
    }
}
