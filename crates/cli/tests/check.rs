//! `crust check`: the host's findings on this machine (positive cases),
//! the negative ones made real (a user namespace sysctl at 0 in a
//! namespace of the test's own, an ordinary user's undelegated cgroup, a
//! bundle asking for a controller the host lacks), and bundles: what
//! `create` would refuse, reported without creating anything.

mod common;

use std::path::Path;
use std::process::Command;

use common::{stderr, stdout, Bundle};
use serde_json::{json, Value};

/// `crust check --format json ARGS…` through `cmd` (the crust binary is
/// appended); the report and the exit code.
fn report(mut cmd: Command, args: &[&str]) -> (Value, i32) {
    let out = cmd
        .arg("check")
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(&out), stderr(&out)));
    (v, out.status.code().unwrap_or(-1))
}

fn crust() -> Command {
    Command::new(common::CRUST)
}

fn finding<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no finding {name:?} in {v:#}"))
}

fn layout_name() -> &'static str {
    let on = |p: &str, magic: i64| rustix::fs::statfs(p).is_ok_and(|s| s.f_type == magic);
    const CGROUP2: i64 = 0x6367_7270;
    if on("/sys/fs/cgroup", CGROUP2) {
        "cgroup v2"
    } else if on("/sys/fs/cgroup/unified", CGROUP2) {
        "hybrid"
    } else {
        "cgroup v1"
    }
}

#[test]
fn this_hosts_findings() {
    common::require_root();
    let (v, code) = report(crust(), &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["ok"], true);
    for name in ["clone3", "pidfd_open", "openat2", "fsopen", "mount_setattr"] {
        assert_eq!(finding(&v, name)["status"], "ok", "{name}");
    }
    for kind in [
        "cgroup", "ipc", "mount", "network", "pid", "time", "uts", "user",
    ] {
        assert_eq!(
            finding(&v, &format!("{kind} namespaces"))["status"],
            "ok",
            "{kind}"
        );
    }
    let layout = finding(&v, "layout");
    assert_eq!(layout["status"], "ok");
    assert!(
        layout["detail"]
            .as_str()
            .unwrap()
            .starts_with(layout_name()),
        "{layout}"
    );
    assert_eq!(
        finding(&v, "delegation")["status"],
        "ok",
        "root manages cgroups"
    );
    let seccomp = finding(&v, "filters");
    assert_eq!(seccomp["status"], "ok");
    assert!(
        seccomp["detail"].as_str().unwrap().contains("user_notif"),
        "{seccomp}"
    );
    assert_eq!(finding(&v, "overlayfs")["status"], "ok");
    // The root filesystem of the test machines (ext4) takes idmapped mounts.
    let idmap = finding(&v, "idmapped mounts on the root filesystem");
    assert_eq!(idmap["status"], "ok", "{idmap}");
    // CRIU is installed by the test set-up: its version is read over RPC.
    let criu = finding(&v, "checkpoint/restore");
    assert!(
        criu["detail"].as_str().unwrap().starts_with("CRIU 3."),
        "{criu}"
    );
    // Every finding that is not ok says how to change it.
    for f in v["findings"].as_array().unwrap() {
        assert!(f["status"] == "ok" || f["fix"].is_string(), "{f}");
    }
    // The text form: one line per finding, the counts last.
    let out = crust().arg("check").output().unwrap();
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(
        lines.len(),
        v["findings"].as_array().unwrap().len() + 1,
        "{text}"
    );
    assert!(
        lines[0].starts_with("ok    kernel      version: Linux "),
        "{text}"
    );
    assert!(lines.last().unwrap().ends_with(" 0 failures"), "{text}");
}

/// crust, run in a user namespace of the test's own whose limit of user
/// namespaces is set to 0 (the host's stays as it is).
fn without_user_namespaces() -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["--user", "--map-root-user", "sh", "-c"])
        .arg(format!(
            "echo 0 > /proc/sys/user/max_user_namespaces && exec {} \"$@\"",
            common::CRUST
        ))
        .arg("sh");
    cmd
}

fn detail_of(f: &Value) -> &str {
    f["detail"].as_str().unwrap()
}

#[test]
fn a_user_namespace_limit_of_zero_is_found_with_its_sysctl() {
    common::require_root();
    let cmd = without_user_namespaces();
    let (v, code) = report(cmd, &[]);
    assert_eq!(code, 0, "a missing user namespace is a warning: {v:#}");
    let f = finding(&v, "user namespaces");
    assert_eq!(f["status"], "warn", "{f}");
    assert!(
        detail_of(f).contains("user.max_user_namespaces is 0"),
        "{f}"
    );
    assert_eq!(f["fix"], "sysctl -w user.max_user_namespaces=15000");
    // And a bundle that needs one is refused, as create would.
    let mut b = Bundle::new("true");
    b.with_user_namespace(220000);
    b.write();
    let cmd = without_user_namespaces();
    let (v, code) = report(cmd, &["--bundle", b.dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["ok"], false);
    let f = finding(&v, "linux.namespaces");
    assert_eq!(f["status"], "fail", "{f}");
    assert!(
        detail_of(f).contains("user.max_user_namespaces is 0"),
        "{f}"
    );
}

/// crust as uid 1000, without a user session.
fn as_an_ordinary_user() -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=1000",
        "--regid=1000",
        "--clear-groups",
        common::CRUST,
    ]);
    cmd.env_remove("XDG_RUNTIME_DIR").current_dir("/");
    cmd
}

#[test]
fn an_ordinary_users_cgroup_is_not_delegated() {
    common::require_root();
    let (v, code) = report(as_an_ordinary_user(), &[]);
    assert_eq!(code, 0, "{v:#}");
    let f = finding(&v, "delegation");
    assert_eq!(f["status"], "warn", "{f}");
    let detail = f["detail"].as_str().unwrap();
    assert!(detail.contains("uid 1000"), "{f}");
    assert!(
        detail.contains("cannot be delegated") || detail.contains("is not delegated"),
        "{f}"
    );
    // Cloning a mount needs root: said, not guessed.
    let idmap = finding(&v, "idmapped mounts on the root filesystem");
    assert!(
        idmap["detail"].as_str().unwrap().contains("not checked"),
        "{idmap}"
    );
    // A rootless bundle asking for a limit: create would refuse it there.
    let mut b = Bundle::new("true");
    b.with_user_namespace(1000);
    b.config["linux"]["resources"]["pids"] = json!({"limit": 10});
    b.write();
    std::fs::set_permissions(
        b.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (v, code) = report(
        as_an_ordinary_user(),
        &["--bundle", b.dir.path().to_str().unwrap()],
    );
    assert_eq!(code, 1, "{v:#}");
    let f = finding(&v, "linux.resources");
    assert_eq!(f["status"], "fail", "{f}");
    assert!(detail_of(f).starts_with("limits asked, and "), "{f}");
}

/// A controller this host has no hierarchy for (`None`: it has them all),
/// and the resources that ask for it.
fn missing_controller() -> Option<(&'static str, Value)> {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let v2 = [
        "/sys/fs/cgroup/cgroup.controllers",
        "/sys/fs/cgroup/unified/cgroup.controllers",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .collect::<Vec<_>>()
    .join(" ");
    let has = |c: &str| {
        text.lines().any(|l| {
            l.split(':')
                .nth(1)
                .is_some_and(|cs| cs.split(',').any(|x| x == c))
        }) || v2.split_whitespace().any(|x| x == c)
    };
    if !has("rdma") {
        return Some(("rdma", json!({"rdma": {"mlx5_0": {"hcaHandles": 3}}})));
    }
    if !has("hugetlb") {
        return Some((
            "hugetlb",
            json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}]}),
        ));
    }
    None
}

#[test]
fn a_bundle_asking_for_a_missing_controller_is_refused_and_nothing_is_made() {
    let Some((controller, resources)) = missing_controller() else {
        // Every controller is there: the same bundle passes, as create does.
        let mut b = Bundle::new("true");
        b.config["linux"]["resources"]["hugepageLimits"] =
            json!([{"pageSize": "2MB", "limit": 2097152}]);
        b.write();
        let (v, code) = report(crust(), &["--bundle", b.dir.path().to_str().unwrap()]);
        assert_eq!(
            (code, &finding(&v, "linux.resources")["status"]),
            (0, &json!("ok"))
        );
        return;
    };
    let mut b = Bundle::new("true");
    for (k, val) in resources.as_object().unwrap() {
        b.config["linux"]["resources"][k] = val.clone();
    }
    b.write();
    let root = b.root.to_str().unwrap().to_string();
    let (v, code) = report(crust(), &["--bundle", b.dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{v:#}");
    let f = finding(&v, "linux.resources");
    assert_eq!(f["status"], "fail", "{f}");
    let detail = f["detail"].as_str().unwrap();
    assert!(detail.contains(controller), "{f}");
    // Nothing made: no state root, no cgroup named after the check.
    assert!(!Path::new(&root).exists());
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        assert!(!h.path().join("check").exists(), "{:?}", h.path());
    }
    // create says the same and refuses.
    let out = b.crust(&["create", "c1"]);
    assert!(!out.status.success());
    assert!(
        common::last_error_line(&out).contains(detail),
        "{} vs {detail}",
        stderr(&out)
    );
}

#[test]
fn a_bundle_create_would_take_passes_and_broken_ones_name_their_field() {
    let b = Bundle::new("true");
    b.write();
    let (v, code) = report(crust(), &["--bundle", b.dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{v:#}");
    for f in v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["area"] == "bundle")
    {
        assert_eq!(f["status"], "ok", "{f}");
    }
    let idmap = finding(&v, "idmapped mounts on the rootfs");
    assert_eq!(idmap["status"], "ok", "{idmap}");
    // A hook that is not there, a namespace path that is not one, a
    // seccomp rule libseccomp refuses: each fails under its own field.
    let mut hook = Bundle::new("true");
    hook.config["hooks"] = json!({"createRuntime": [{"path": "/nonexistent/hook"}]});
    let mut ns = Bundle::new("true");
    ns.join_namespace("network", "/proc/self/status");
    let mut filter = Bundle::new("true");
    // As written, also in the strict seccomp lane.
    filter.as_configured = true;
    filter.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]});
    for (b, field) in [
        (hook, "hooks.createRuntime[0]"),
        (ns, "linux.namespaces"),
        (filter, "linux.seccomp"),
    ] {
        b.write();
        let (v, code) = report(crust(), &["--bundle", b.dir.path().to_str().unwrap()]);
        assert_eq!(code, 1, "{field}: {v:#}");
        assert_eq!(finding(&v, field)["status"], "fail", "{v:#}");
        assert!(!b.root.exists());
    }
    // Not a bundle at all.
    let (v, code) = report(crust(), &["--bundle", "/nonexistent"]);
    assert_eq!(
        (code, &finding(&v, "bundle")["status"]),
        (1, &json!("fail"))
    );
}
