//! The six kinds of hooks: when, where, and with what each runs.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{stderr, Bundle};
use serde_json::{json, Value};

/// A hook that appends its name to `out/order` and saves its stdin as
/// `out/<name>.json`. `out` is the path the hook sees.
fn recorder(name: &str, out: &Path) -> Value {
    let script = format!(
        "cat > {o}/{name}.json; echo {name} >> {o}/order",
        o = out.display()
    );
    json!({"path": "/bin/sh", "args": ["sh", "-c", script]})
}

fn wait_for(path: &Path) {
    let end = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < end, "{path:?} never appeared");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn every_kind_runs_in_order_with_the_state() {
    let mut b = Bundle::new("echo process >> /out/order");
    let out = b.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/out", "type": "bind", "source": out, "options": ["rbind"]}));
    b.config["hooks"] = json!({
        "prestart": [recorder("prestart", &out)],
        "createRuntime": [recorder("createRuntime", &out)],
        // Before the pivot: host paths still resolve.
        "createContainer": [recorder("createContainer", &out)],
        // After the pivot, inside the container: /bin/sh is the rootfs's.
        "startContainer": [recorder("startContainer", Path::new("/out"))],
        "poststart": [recorder("poststart", &out)],
        "poststop": [recorder("poststop", &out)],
    });
    let out_create = b.crust(&["create", "c1"]);
    assert!(out_create.status.success(), "{}", stderr(&out_create));
    let pid = b.state("c1")["pid"].as_i64().unwrap();
    let order = || std::fs::read_to_string(out.join("order")).unwrap_or_default();
    assert_eq!(order(), "prestart\ncreateRuntime\ncreateContainer\n");
    let create_runtime: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("createRuntime.json")).unwrap())
            .unwrap();
    assert_eq!(create_runtime["id"], "c1");
    assert_eq!(create_runtime["status"], "creating");
    assert_eq!(
        create_runtime["pid"].as_i64(),
        Some(pid),
        "the runtime's hooks see the host pid"
    );
    assert_eq!(
        create_runtime["bundle"].as_str().unwrap(),
        std::fs::canonicalize(b.dir.path())
            .unwrap()
            .to_str()
            .unwrap()
    );

    assert!(b.crust(&["start", "c1"]).status.success());
    wait_for(&out.join("poststart.json"));
    let poststart: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("poststart.json")).unwrap())
            .unwrap();
    assert_eq!(poststart["status"], "running");
    let end = Instant::now() + Duration::from_secs(10);
    while b.state("c1")["status"] != "stopped" {
        assert!(Instant::now() < end);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(b.crust(&["delete", "c1"]).status.success());
    let order = order();
    let lines: Vec<&str> = order.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer"
        ],
        "{order}"
    );
    // The process and poststart race; poststop comes last.
    assert_eq!(lines.len(), 7, "{order}");
    assert!(
        lines[4..6].contains(&"process") && lines[4..6].contains(&"poststart"),
        "{order}"
    );
    assert_eq!(lines[6], "poststop");
    let start_container: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("startContainer.json")).unwrap())
            .unwrap();
    assert_eq!(
        start_container["pid"], 1,
        "the init's own hooks see its pid in the container"
    );
    let poststop: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("poststop.json")).unwrap()).unwrap();
    assert_eq!(poststop["status"], "stopped");
}

#[test]
fn a_failing_hook_before_start_fails_the_create_and_cleans_up() {
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let mut b = Bundle::new("true");
        b.config["hooks"] =
            json!({kind: [{"path": "/bin/sh", "args": ["sh", "-c", "echo broken >&2; exit 4"]}]});
        let out = b.crust(&["create", "c1"]);
        assert!(!out.status.success(), "{kind}");
        let err = stderr(&out);
        let last = err.trim().lines().last().unwrap();
        assert!(
            last.contains(&format!("hooks.{kind}[0]"))
                && last.contains("broken")
                && last.contains("exit status: 4"),
            "{err}"
        );
        assert_eq!(b.state_dirs(), 0, "{kind}");
    }
}

/// runtime.md step 9: a failing poststart hook is an error, and the
/// container is stopped (`start` fails, the process is killed; `run`
/// also deletes it).
#[test]
fn a_failing_poststart_hook_fails_start_and_stops_the_container() {
    let mut b = Bundle::new("exec sleep 1000");
    b.config["hooks"] =
        json!({"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "echo no >&2; exit 3"]}]});
    let created = b.crust(&["create", "c1"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let pid = b.state("c1")["pid"].as_i64().unwrap();
    let out = b.crust(&["start", "c1"]);
    assert!(!out.status.success());
    assert!(
        common::last_error_line(&out).contains("hooks.poststart[0]"),
        "{}",
        stderr(&out)
    );
    let end = Instant::now() + Duration::from_secs(10);
    while common::alive(pid) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!common::alive(pid), "the container was not stopped");
    assert_eq!(b.state("c1")["status"], "stopped");
    assert!(b.crust(&["delete", "c1"]).status.success());

    let out = b.run("c2");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("hooks.poststart[0]"));
    assert_eq!(b.state_dirs(), 0);
}

/// runtime.md step 13: a failing poststop hook is a warning; the hooks
/// after it still run and `delete` succeeds.
#[test]
fn a_failing_poststop_hook_warns_and_the_rest_run() {
    let mut b = Bundle::new("true");
    let marker = b.dir.path().join("second-ran");
    b.config["hooks"] = json!({"poststop": [
        {"path": "/bin/false"},
        {"path": "/bin/sh", "args": ["sh", "-c", format!("touch {}", marker.display())]}
    ]});
    let out = b.run("c1");
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("level=warning") && err.contains("hooks.poststop[0]"),
        "{err}"
    );
    assert!(marker.exists(), "the second poststop hook did not run");
    assert_eq!(b.state_dirs(), 0);
}

/// `start` waits for the process's `execve` only when poststart hooks must
/// run after it (runtime.md). Without them it returns once the init has
/// taken its byte, as runc's does: a startContainer hook that takes a
/// second (it runs in the init, between the byte and the `execve`) does
/// not hold `start`. With a poststart hook, `start` returns after that
/// second, and the hook sees the process executed.
#[test]
fn start_waits_for_the_execve_only_for_poststart_hooks() {
    let mut b = Bundle::new("exec sleep 1000");
    let slow_start = json!([{"path": "/bin/sleep", "args": ["sleep", "1"]}]);
    b.config["hooks"] = json!({"startContainer": slow_start});
    b.write();
    let timed_start = |b: &Bundle, id: &str| {
        let created = b.crust(&["create", id]);
        assert!(created.status.success(), "{}", stderr(&created));
        let t = Instant::now();
        let started = b.crust(&["start", id]);
        assert!(started.status.success(), "{}", stderr(&started));
        t.elapsed()
    };
    let without = timed_start(&b, "c1");
    assert!(
        without < Duration::from_millis(800),
        "start took {without:?}"
    );
    let st: Value = serde_json::from_slice(&b.crust(&["state", "c1"]).stdout).unwrap();
    assert_eq!(st["status"], "running");
    let probe = "cat /proc/$(cat state.pid)/cmdline | tr '\\0' ' ' > poststart.cmdline";
    b.config["hooks"] = json!({
        "startContainer": slow_start,
        "poststart": [{"path": "/bin/sh", "args": ["sh", "-c",
            format!("cd {} && sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/' > state.pid && {probe}",
                b.dir.path().display())]}]
    });
    b.write();
    let with = timed_start(&b, "c2");
    assert!(with >= Duration::from_secs(1), "start took {with:?}");
    let cmdline = std::fs::read_to_string(b.dir.path().join("poststart.cmdline")).unwrap();
    assert_eq!(
        cmdline.trim(),
        "sleep 1000",
        "the poststart hook saw {cmdline:?}"
    );
    for id in ["c1", "c2"] {
        assert!(b.crust(&["delete", "--force", id]).status.success());
    }
}

/// runc gives a startContainer hook without `env` the process's
/// environment; one with `env` gets exactly that.
#[test]
fn a_start_container_hook_without_env_inherits_the_processs() {
    let mut b = Bundle::with_own_rootfs("true");
    b.config["process"]["env"] = json!(["PATH=/bin", "FROM_PROCESS=yes"]);
    b.config["hooks"] = json!({"startContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", "env > /tmp/inherited"]},
        {"path": "/bin/sh", "args": ["sh", "-c", "env > /tmp/own"], "env": ["OWN=1"]}
    ]});
    let out = b.run("c1");
    assert!(out.status.success(), "{}", stderr(&out));
    let inherited = std::fs::read_to_string(b.rootfs().join("tmp/inherited")).unwrap();
    assert!(inherited.contains("FROM_PROCESS=yes"), "{inherited}");
    let own = std::fs::read_to_string(b.rootfs().join("tmp/own")).unwrap();
    assert!(
        own.contains("OWN=1") && !own.contains("FROM_PROCESS"),
        "{own}"
    );
}

#[test]
fn a_hook_gets_exactly_its_env_and_args_and_a_timeout() {
    let mut b = Bundle::new("true");
    let out = b.dir.path().join("env");
    let script = format!(
        "env > {}; echo \"$0 $1\" >> {}",
        out.display(),
        out.display()
    );
    b.config["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", script, "zero", "one"], "env": ["ONLY=this"]}]});
    let res = b.run("c1");
    assert!(res.status.success(), "{}", stderr(&res));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("ONLY=this") && text.contains("zero one") && !text.contains("HOME="),
        "{text}"
    );

    let mut b = Bundle::new("true");
    b.config["hooks"] =
        json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "60"], "timeout": 1}]});
    let started = Instant::now();
    b.assert_fails_cleanly(&["run", "c2"], &["timed out"]);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(b.state_dirs(), 0);
}
