//! The systemd cgroup driver under a real systemd: these run in the VM of
//! `scripts/systemd-vm.sh` (booted with systemd as PID 1, pure v2 and
//! hybrid), with `CRUST_TEST_CGROUP_DRIVER=systemd`; on a host without
//! systemd they return at once (the cgroup suite covers cgroupfs there).
//! Each unit is looked at from systemd's side (`systemctl show`) and from
//! the container's (`/proc/self/cgroup`, the limits' effects).

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use common::{stderr, stdout, Bundle};
use serde_json::json;

fn under_systemd(test: &str) -> bool {
    let yes = common::systemd_driver() && std::path::Path::new("/run/systemd/private").exists();
    if !yes {
        eprintln!("{test}: needs systemd as PID 1 (scripts/systemd-vm.sh)");
    }
    yes
}

/// A config whose unit is `crust-sd-NAME-PID.scope` in system.slice.
fn bundle(script: &str, name: &str) -> (Bundle, String) {
    let mut b = Bundle::new(script);
    let unit = format!("{name}-{}", std::process::id());
    b.config["linux"]["cgroupsPath"] = json!(format!("system.slice:crust-sd:{unit}"));
    (b, format!("crust-sd-{unit}.scope"))
}

fn show(unit: &str, props: &str) -> String {
    let out = Command::new("systemctl")
        .args(["show", unit, "-p", props])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `systemctl status`' exit code: 0 active, 3 inactive/failed, 4 no such
/// unit.
fn status(unit: &str) -> i32 {
    Command::new("systemctl")
        .args(["status", unit])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .code()
        .unwrap_or(-1)
}

fn ok(out: &std::process::Output) {
    assert!(out.status.success(), "{}", stderr(out));
}

#[test]
fn the_container_runs_in_its_scope_with_the_limits_as_unit_properties() {
    if !under_systemd("scope") {
        return;
    }
    let (mut b, unit) = bundle("cat /proc/self/cgroup; exec sleep 1000", "scope");
    b.config["linux"]["resources"] = json!({
        "memory": {"limit": 67108864},
        "pids": {"limit": 40},
        "cpu": {"quota": 50000, "period": 100000, "shares": 512},
        "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]
    });
    // A node the rules do not allow (runc's defaults allow the usual
    // ones, /dev/urandom included).
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11}]);
    b.config["annotations"] = json!({"org.systemd.property.TimeoutStopSec": "7", "org.systemd.property.CollectMode": "'inactive-or-failed'"});
    ok(&b.crust(&["run", "-d", "c1"]));
    let props = show(
        &unit,
        "ActiveState,Delegate,MemoryMax,MemoryLimit,TasksMax,CPUQuotaPerSecUSec,TimeoutStopUSec,CollectMode,DevicePolicy,Slice",
    );
    for want in [
        "ActiveState=active",
        "Delegate=yes",
        "TasksMax=40",
        "CPUQuotaPerSecUSec=500ms",
        "TimeoutStopUSec=7s",
        "CollectMode=inactive-or-failed",
        "DevicePolicy=strict",
        "Slice=system.slice",
    ] {
        assert!(props.contains(want), "{want} not in {props}");
    }
    assert!(
        props.contains("MemoryMax=67108864") || props.contains("MemoryLimit=67108864"),
        "{props}"
    );
    // The init is in the unit's cgroup (v2 line, or name=systemd / memory
    // on v1), and the limit is in the kernel's file there.
    let st = b.state("c1");
    let pid = st["pid"].as_i64().unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cg.contains(&format!("/system.slice/{unit}")), "{cg}");
    let dirs = b.cgroup_dirs("c1");
    assert!(
        dirs.iter()
            .all(|d| d.ends_with(format!("system.slice/{unit}"))),
        "{dirs:?}"
    );
    let pids_max = dirs
        .iter()
        .map(|d| d.join("pids.max"))
        .find(|p| p.exists())
        .unwrap();
    assert_eq!(std::fs::read_to_string(pids_max).unwrap().trim(), "40");
    // A denied device stays denied; the one allowed opens.
    let denied = b.crust(&["exec", "c1", "sh", "-c", ": </dev/kmsg"]);
    assert!(!denied.status.success(), "/dev/kmsg opened");
    assert!(
        show(&unit, "DeviceAllow").contains("/dev/char/1:3 rwm"),
        "{}",
        show(&unit, "DeviceAllow")
    );
    ok(&b.crust(&["exec", "c1", "sh", "-c", "echo x >/dev/null"]));
    // update goes to systemd too.
    ok(&b.crust(&["update", "--pids-limit", "60", "c1"]));
    assert!(show(&unit, "TasksMax").contains("TasksMax=60"));
    // pause/resume, ps and kill --all through the unit's cgroup.
    ok(&b.crust(&["pause", "c1"]));
    assert_eq!(b.state("c1")["status"], "paused");
    ok(&b.crust(&["resume", "c1"]));
    let ps = stdout(&b.crust(&["ps", "--format", "json", "c1"]));
    assert!(ps.contains(&pid.to_string()), "{ps}");
    ok(&b.crust(&["delete", "--force", "c1"]));
    assert_eq!(status(&unit), 4, "{unit} left after delete");
    assert!(dirs.iter().all(|d| !d.exists()), "{dirs:?} left");
}

#[test]
fn create_costs_one_call_on_systemds_socket_and_four_in_one_round_trip_on_the_bus() {
    if !under_systemd("cost") {
        return;
    }
    let (b, _unit) = bundle("true", "cost");
    let out = b.crust(&["--debug", "run", "c1"]);
    ok(&out);
    let err = stderr(&out);
    assert!(err.contains(": 1 D-Bus calls in 1 round trips"), "{err}");
    // With systemd's private socket out of reach (a mount namespace where
    // it is covered), the system bus: Hello, AddMatch, Subscribe and the
    // start, written at once.
    let args = b.command(&["--debug", "run", "c2"]);
    b.write();
    let mut cmd = Command::new("unshare");
    cmd.args([
        "-m",
        "sh",
        "-c",
        "mount --bind /dev/null /run/systemd/private && exec \"$@\"",
        "sh",
    ])
    .arg(args.get_program())
    .args(args.get_args())
    .current_dir(b.dir.path());
    let out = common::output_via_files(&mut cmd);
    ok(&out);
    let err = stderr(&out);
    assert!(err.contains(": 4 D-Bus calls in 1 round trips"), "{err}");
}

#[test]
fn a_failed_create_leaves_no_unit() {
    if !under_systemd("failed") {
        return;
    }
    let (mut b, unit) = bundle("true", "failed");
    b.config["linux"]["resources"] = json!({"cpu": {"cpus": "99"}});
    b.assert_fails_cleanly(&["create", "c1"], &["linux.resources.cpu.cpus"]);
    assert_eq!(status(&unit), 4, "{unit} left after a failed create");
    // systemd refusing: a property it does not know, named in one line.
    let (mut b, unit) = bundle("true", "refused");
    b.config["annotations"] = json!({"org.systemd.property.NoSuchProperty": "true"});
    b.assert_fails_cleanly(
        &["create", "c1"],
        &["systemd StartTransientUnit", "NoSuchProperty"],
    );
    assert_eq!(status(&unit), 4);
}

#[test]
fn a_kill_of_crust_mid_create_leaves_no_unit_after_delete_force() {
    if !under_systemd("fault") {
        return;
    }
    for point in [
        "create:recorded",
        "create:unit",
        "create:spawned",
        "create:saved",
    ] {
        let (b, unit) = bundle("exec sleep 1000", &point.replace(':', "-"));
        b.write();
        let out = common::output_via_files(b.command(&["create", "c1"]).env("CRUST_FAULT", point));
        assert_eq!(out.status.signal(), Some(9), "{point}: {}", stderr(&out));
        ok(&b.crust(&["delete", "--force", "c1"]));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while status(&unit) != 4 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(status(&unit), 4, "{point}: {unit} left");
        assert_eq!(b.state_dirs(), 0, "{point}");
    }
}

#[test]
fn delete_removes_a_unit_systemd_left_failed() {
    if !under_systemd("failed-unit") {
        return;
    }
    // runc's "delete removes failed systemd unit": systemd stops the
    // scope at RuntimeMaxSec and keeps it, failed, until delete.
    let (mut b, unit) = bundle("exec sleep 100", "runtime-max");
    b.config["annotations"] = json!({
        "org.systemd.property.RuntimeMaxSec": "1",
        "org.systemd.property.TimeoutStopSec": "1"
    });
    ok(&b.crust(&["run", "-d", "c1"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while b.state("c1")["status"] != "stopped" {
        assert!(std::time::Instant::now() < deadline, "never stopped");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        status(&unit),
        3,
        "{unit} should be failed: {}",
        show(&unit, "ActiveState,Result")
    );
    ok(&b.crust(&["delete", "c1"]));
    assert_eq!(status(&unit), 4, "{unit} left after delete");
}

#[test]
fn a_slice_and_a_nested_slice_hold_the_scope() {
    if !under_systemd("slices") {
        return;
    }
    let mut b = Bundle::new("cat /proc/self/cgroup");
    let n = std::process::id();
    b.config["linux"]["cgroupsPath"] = json!(format!("crusttest-n{n}.slice:p:c"));
    let out = b.output_of("c1");
    assert!(
        out.contains(&format!("/crusttest.slice/crusttest-n{n}.slice/p-c.scope")),
        "{out}"
    );
    // The scope went with its process.
    assert_eq!(status("p-c.scope"), 4);
}
