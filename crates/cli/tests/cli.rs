//! The command line: bad input, errors, logs, `spec`, `--version`.

mod common;

use common::{stderr, stdout, Bundle};
use serde_json::{json, Value};

/// A change to a config, for table-driven tests.
type Edit = Box<dyn Fn(&mut Value)>;

#[test]
fn malformed_and_invalid_configs_name_the_field() {
    let b = Bundle::new("true");
    b.write();
    std::fs::write(b.dir.path().join("config.json"), "{").unwrap();
    let out = b.command(&["create", "c1"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("config.json"), "{}", stderr(&out));
    assert_eq!(b.state_dirs(), 0);

    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|c| c["process"]["args"] = json!("sh")),
            "process.args",
        ),
        (
            Box::new(|c| c["process"]["args"] = json!([])),
            "process.args",
        ),
        (
            Box::new(|c| c["process"]["user"]["uid"] = json!("root")),
            "process.user.uid",
        ),
        (
            Box::new(|c| c["linux"]["namespaces"][0]["type"] = json!("nope")),
            "linux.namespaces[0].type",
        ),
        (
            Box::new(|c| c["mounts"][0]["destination"] = json!("proc")),
            "mounts[0].destination",
        ),
        (
            Box::new(|c| c["root"]["path"] = json!("/does/not/exist")),
            "root.path",
        ),
        (
            Box::new(|c| c["process"]["args"] = json!(["/no/such/binary"])),
            "process.args[0]",
        ),
        (
            Box::new(|c| c["process"]["args"] = json!(["no-such-command"])),
            "executable file not found in $PATH",
        ),
        (
            Box::new(|c| c["linux"]["sysctl"] = json!({"vm.swappiness": "1"})),
            "not namespaced",
        ),
    ];
    for (i, (edit, needle)) in cases.into_iter().enumerate() {
        let mut b = Bundle::new("true");
        edit(&mut b.config);
        b.assert_fails_cleanly(&["create", &format!("bad{i}")], &[needle]);
    }
}

#[test]
fn a_rootfs_that_is_a_file_is_refused() {
    let mut b = Bundle::new("true");
    std::fs::write(b.dir.path().join("afile"), "").unwrap();
    b.config["root"]["path"] = json!("afile");
    b.assert_fails_cleanly(&["create", "c1"], &["root.path", "not a directory"]);
}

#[test]
fn invalid_and_unknown_ids() {
    let b = Bundle::new("true");
    for id in ["a/b", "..", "../escape", ""] {
        b.assert_fails_cleanly(&["create", id], &["invalid container id"]);
    }
    for cmd in ["state", "start", "kill", "delete"] {
        let out = b.crust(&[cmd, "ghost"]);
        assert!(!out.status.success(), "{cmd}");
        assert!(
            stderr(&out).contains("does not exist"),
            "{cmd}: {}",
            stderr(&out)
        );
    }
    let out = b.crust(&["kill", "..", "KILL"]);
    assert!(
        stderr(&out).contains("invalid container id"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_root_that_is_a_file_and_a_pid_file_in_a_missing_directory() {
    let b = Bundle::new("true");
    b.write();
    let file_root = b.dir.path().join("rootfile");
    std::fs::write(&file_root, "").unwrap();
    let out = std::process::Command::new(common::CRUST)
        .args(["--root", file_root.to_str().unwrap(), "create", "c1"])
        .current_dir(b.dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("state root"), "{}", stderr(&out));
    let missing = b.dir.path().join("missing/dir/pid");
    b.assert_fails_cleanly(
        &["create", "--pid-file", missing.to_str().unwrap(), "c1"],
        &["pid file"],
    );
}

#[test]
fn errors_go_to_the_json_log_as_containerd_reads_them() {
    let mut b = Bundle::new("true");
    b.config["process"]["args"] = json!(["no-such-command"]);
    let log = b.dir.path().join("log.json");
    let out = b.crust(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "c1",
    ]);
    assert!(!out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(
        last["msg"]
            .as_str()
            .unwrap()
            .ends_with("executable file not found in $PATH"),
        "{last}"
    );
    assert!(last["time"].as_str().unwrap().contains('T'));
    assert_eq!(last["code"], "process.not-found", "{last}");
    // With a log file, stderr still gets the plain message (as runc does).
    assert!(
        stderr(&out).contains("executable file not found"),
        "{}",
        stderr(&out)
    );
}

/// The last JSON line `crust --log LOG --log-format json ARGS…` logs, and
/// the command's output.
fn json_error(b: &Bundle, args: &[&str]) -> (Value, std::process::Output) {
    let log = b.dir.path().join("codes.json");
    let _ = std::fs::remove_file(&log);
    let mut all = vec!["--log", log.to_str().unwrap(), "--log-format", "json"];
    all.extend_from_slice(args);
    let out = b.crust(&all);
    assert!(!out.status.success(), "{args:?}");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let last = text
        .lines()
        .last()
        .unwrap_or_else(|| panic!("{args:?}: nothing logged"));
    (serde_json::from_str(last).unwrap(), out)
}

#[test]
fn every_error_carries_its_code_in_the_json_log() {
    let mut b = Bundle::new("exec sleep 100");
    // A usage error clap finds reaches the log too, with clap's exit code.
    let (v, out) = json_error(&b, &["create", "--no-such-flag", "c1"]);
    assert_eq!(v["code"], "cli.usage", "{v}");
    assert!(v["msg"].as_str().unwrap().contains("--no-such-flag"), "{v}");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        json_error(&b, &["state", "nope"]).0["code"],
        "container.not-found"
    );
    assert_eq!(
        json_error(&b, &["kill", "nope", "SIGNOPE"]).0["code"],
        "cli.signal"
    );
    assert_eq!(
        json_error(&b, &["events", "--interval", "0s", "c1"]).0["code"],
        "cli.flag"
    );
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOPE", "hard": 1, "soft": 1}]);
    assert_eq!(
        json_error(&b, &["create", "c1"]).0["code"],
        "config.invalid"
    );
    b.config["process"]
        .as_object_mut()
        .unwrap()
        .remove("rlimits");
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/data", "type": "bind", "source": "/nonexistent/source", "options": ["rbind"]}));
    assert_eq!(json_error(&b, &["create", "c1"]).0["code"], "rootfs.mount");
    b.config["mounts"].as_array_mut().unwrap().pop();
    assert!(b.crust(&["run", "-d", "c1"]).status.success());
    assert_eq!(
        json_error(&b, &["create", "c1"]).0["code"],
        "container.exists"
    );
    assert_eq!(
        json_error(&b, &["start", "c1"]).0["code"],
        "container.wrong-state"
    );
    let (v, out) = json_error(&b, &["exec", "c1", "no-such-program"]);
    assert_eq!(
        (v["code"].as_str(), out.status.code()),
        (Some("process.not-found"), Some(255))
    );
    assert!(b.crust(&["delete", "--force", "c1"]).status.success());
    // The text form is runc's: no code, the message last.
    let out = b.crust(&["state", "nope"]);
    assert!(!stderr(&out).contains("code"), "{}", stderr(&out));
}

/// docs/reliability.md lists every code crust has, and no other: the
/// string literals of the three `code()` functions.
#[test]
fn the_documented_error_codes_are_the_ones_crust_has() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut codes = std::collections::BTreeSet::new();
    for file in [
        "crates/container/src/error.rs",
        "crates/init/src/error.rs",
        "crates/cgroups/src/error.rs",
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let body = &text[text
            .find("pub fn code(&self)")
            .unwrap_or_else(|| panic!("{file}: no code()"))..];
        let body = &body[..body.find("\n    }\n").unwrap()];
        // Every string literal of the match is a code.
        for literal in body.split('"').skip(1).step_by(2) {
            assert!(
                literal.contains('.')
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '.' || c == '-'),
                "{file}: {literal:?} is not a code"
            );
            codes.insert(literal.to_string());
        }
    }
    // main.rs's own.
    codes.extend(["cli.usage".to_string(), "host.other".to_string()]);
    let doc = std::fs::read_to_string(root.join("docs/reliability.md")).unwrap();
    let section = &doc[doc.find("## Error codes").unwrap()..doc.find("## Faults").unwrap()];
    let documented: std::collections::BTreeSet<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    assert_eq!(codes, documented);
}

#[test]
fn debug_logs_in_text_format() {
    let b = Bundle::new("true");
    let out = b.crust(&["--debug", "run", "c1"]);
    assert!(out.status.success());
    // Each phase of the create path is timed.
    for phase in ["load and validate config.json", "clone3", "until Ready"] {
        assert!(stderr(&out).contains(phase), "{phase}: {}", stderr(&out));
    }
    assert!(
        stderr(&out)
            .lines()
            .any(|l| l.starts_with("time=\"") && l.contains("level=debug")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_systemd_driver_without_systemd_fails_cleanly_naming_the_socket() {
    if std::path::Path::new("/run/systemd/private").exists() {
        return; // a systemd host: scripts/systemd-vm.sh tests the driver there
    }
    let mut b = Bundle::new("true");
    b.config["linux"]["cgroupsPath"] =
        format!("system.slice:crust-test:{}", std::process::id()).into();
    b.assert_fails_cleanly(
        &["--systemd-cgroup", "create", "c1"],
        &["systemd connect", "system_bus_socket", "is systemd running"],
    );
}

#[test]
fn malformed_systemd_cgroups_paths_are_refused_naming_the_field() {
    for path in [
        "/sys/fs/cgroup/x",
        "a:b",
        "system.slice:crust:x:y",
        "a--b.slice:p:n",
    ] {
        let mut b = Bundle::new("true");
        b.config["linux"]["cgroupsPath"] = path.into();
        b.assert_fails_cleanly(
            &["--systemd-cgroup", "create", "c1"],
            &["linux.cgroupsPath"],
        );
    }
    // Without the driver, the unit form says which flag it needs.
    let mut b = Bundle::new("true");
    b.config["linux"]["cgroupsPath"] = "system.slice:crust:x".into();
    b.assert_fails_cleanly(&["create", "c1"], &["--systemd-cgroup"]);
}

#[test]
fn version_has_runcs_shape() {
    let out = std::process::Command::new(common::CRUST)
        .arg("--version")
        .output()
        .unwrap();
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("crust version "), "{text}");
    assert!(lines[1].starts_with("commit: "), "{text}");
    assert_eq!(lines[2], "spec: 1.3.0");
    assert!(lines[3].starts_with("libseccomp: 2."), "{text}");
}

/// The flags of runc 1.5 that crust had not taken: every one parses (and
/// each subcommand answers -h, as runc's does).
#[test]
fn runc_1_5_flags_parse() {
    for args in [
        vec!["--criu", "/usr/sbin/criu", "list"],
        vec!["run", "--no-subreaper", "--help"],
        vec!["run", "--pidfd-socket", "/x", "--help"],
        vec!["create", "--pidfd-socket", "/x", "--help"],
        vec!["exec", "--pidfd-socket", "/x", "--help"],
        vec!["kill", "-h"],
        vec!["update", "-h"],
    ] {
        let out = std::process::Command::new(common::CRUST)
            .args(&args)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", common::stderr(&out));
    }
}

/// runc's grammar: the global flags come before the command (engines put
/// them there); after the command's name they are the command's unknown
/// flags, refused with clap's usage error and exit code, as runc refuses
/// them. Before it, they take effect: the state root here.
#[test]
fn global_flags_go_before_the_command() {
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap();
    let crust = |args: &[&str]| {
        std::process::Command::new(common::CRUST)
            .args(args)
            .output()
            .unwrap()
    };
    let listed = crust(&["--root", root_arg, "--log-format", "json", "list", "-q"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    for flag in [
        &["--root", root_arg][..],
        &["--log", "/dev/null"],
        &["--log-format", "json"],
        &["--debug"],
        &["--systemd-cgroup"],
        &["--criu", "/usr/sbin/criu"],
    ] {
        let mut args = vec!["list"];
        args.extend_from_slice(flag);
        let out = crust(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains(&format!("unexpected argument '{}'", flag[0])),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn spec_writes_runcs_default_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let spec = |extra: &[&str]| {
        std::process::Command::new(common::CRUST)
            .args(["spec", "--bundle", dir.path().to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    assert!(spec(&[]).status.success());
    let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    assert!(
        text.starts_with("{\n\t\"ociVersion\": \"1.3.0\""),
        "tab-indented like runc's"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["process"]["args"], json!(["sh"]));
    assert_eq!(v["process"]["terminal"], json!(true));
    assert_eq!(v["mounts"].as_array().unwrap().len(), 7);
    assert_eq!(v["linux"]["maskedPaths"].as_array().unwrap().len(), 10);
    let again = spec(&[]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("exists"), "{}", stderr(&again));
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    assert!(spec(&["--rootless"]).status.success());
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(v["linux"]["uidMappings"][0]["hostID"], 0);
    assert!(v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!({"type": "user"})));
}

#[test]
fn settings_not_applied_yet_are_refused_not_ignored() {
    let mut b = Bundle::new("true");
    b.config["linux"]["intelRdt"] = json!({"closID": "x"});
    // This machine has no resctrl mounted.
    b.assert_fails_cleanly(
        &["create", "c1"],
        &["linux.intelRdt", "resctrl is not mounted"],
    );
    let mut b = Bundle::new("true");
    b.config["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
    b.assert_fails_cleanly(
        &["create", "c1"],
        &["linux.mountLabel", "SELinux is not enabled"],
    );
}

/// containerd's go-runc calls `restore … -no-subreaper` (one dash, which
/// runc's flag parser accepts): crust takes it, not a usage error.
#[test]
fn restore_takes_go_runcs_single_dash_no_subreaper() {
    let b = Bundle::new("true");
    let out = b.crust(&[
        "restore",
        "-d",
        "-no-subreaper",
        "--image-path",
        "/nonexistent",
        "r1",
    ]);
    assert!(!out.status.success());
    assert_ne!(
        out.status.code(),
        Some(2),
        "a usage error: {}",
        stderr(&out)
    );
    assert!(
        common::last_error_line(&out).contains("--image-path"),
        "{}",
        stderr(&out)
    );
}
