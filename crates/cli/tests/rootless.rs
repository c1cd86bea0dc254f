//! Rootless containers: crust run by an ordinary user, with the config
//! `crust spec --rootless` writes.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::{stderr, stdout};
use serde_json::{json, Value};

const USER: &str = "crust-rootless";
/// The subordinate ids the test user may map with newuidmap/newgidmap.
const SUBIDS: &str = "crust-rootless:300000:65536\n";

/// The test user (created once), as (uid, gid).
fn user() -> (u32, u32) {
    common::require_root();
    if Command::new("id")
        .arg(USER)
        .output()
        .is_ok_and(|o| !o.status.success())
    {
        let _ = Command::new("useradd")
            .args(["-M", "-s", "/usr/sbin/nologin", USER])
            .status();
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if !text.contains(SUBIDS) {
            std::fs::write(file, text + SUBIDS).unwrap();
        }
    }
    let id = |flag: &str| -> u32 {
        String::from_utf8(
            Command::new("id")
                .args([flag, USER])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim()
        .parse()
        .unwrap()
    };
    (id("-u"), id("-g"))
}

/// A bundle the test user can read, with a runtime dir it owns.
struct Rootless {
    dir: tempfile::TempDir,
    uid: u32,
    gid: u32,
}

impl Rootless {
    fn new(script: &str, edit: impl FnOnce(&mut Value, u32, u32)) -> Rootless {
        let (uid, gid) = user();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        let r = Rootless { dir, uid, gid };
        let runtime = r.runtime_dir();
        std::fs::create_dir(&runtime).unwrap();
        std::os::unix::fs::chown(&runtime, Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        // The user writes its own rootless config, as a user would.
        let out = r.as_user(&[
            "spec",
            "--rootless",
            "--bundle",
            r.dir.path().to_str().unwrap(),
        ]);
        assert!(out.status.success(), "spec: {}", stderr(&out));
        let path = r.dir.path().join("config.json");
        let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(["sh", "-c", script]);
        config["root"]["path"] = json!(common::shared_rootfs());
        edit(&mut config, uid, gid);
        std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
        r
    }

    fn runtime_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("xdg")
    }

    /// `crust ARGS…` as the test user, with XDG_RUNTIME_DIR set and no
    /// --root: the default state root must be the user's.
    fn as_user(&self, args: &[&str]) -> Output {
        common::output_via_files(
            Command::new("setpriv")
                .args([
                    format!("--reuid={}", self.uid),
                    format!("--regid={}", self.gid),
                    "--clear-groups".into(),
                ])
                .arg(common::CRUST)
                .args(args)
                .env("XDG_RUNTIME_DIR", self.runtime_dir())
                .current_dir(self.dir.path()),
        )
    }
}

impl Drop for Rootless {
    fn drop(&mut self) {
        let _ = self.as_user(&["delete", "--force", "c1"]);
    }
}

#[test]
fn an_ordinary_user_runs_a_container() {
    let r = Rootless::new("id -u; cat /proc/self/uid_map; cat /proc/self/gid_map; echo x > /dev/shm/y && echo writable", |_, _, _| {});
    let out = r.as_user(&["run", "c1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "0", "{text}");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", &r.uid.to_string(), "1"]
    );
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["0", &r.gid.to_string(), "1"]
    );
    assert_eq!(lines[3], "writable");
}

#[test]
fn rootless_state_lives_in_the_users_runtime_dir() {
    let r = Rootless::new("exec sleep 1000", |_, _, _| {});
    let out = r.as_user(&["run", "-d", "c1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let state_dir = r.runtime_dir().join("crust/c1");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(&state_dir).unwrap().uid(),
        r.uid,
        "{state_dir:?}"
    );
    let state: Value = serde_json::from_slice(&r.as_user(&["state", "c1"]).stdout).unwrap();
    assert_eq!(state["status"], "running");
    assert!(r.as_user(&["delete", "--force", "c1"]).status.success());
    assert!(!state_dir.exists());
    assert!(!Path::new("/run/crust/c1").exists());
}

/// More than the user's own id: newuidmap/newgidmap map the subordinate
/// ranges of /etc/subuid and /etc/subgid.
#[test]
fn subordinate_ids_are_mapped_through_the_helpers() {
    let r = Rootless::new(
        "cat /proc/self/uid_map /proc/self/gid_map",
        |c, uid, gid| {
            c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}, {"containerID": 1, "hostID": 300000, "size": 65536}]);
            c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}, {"containerID": 1, "hostID": 300000, "size": 65536}]);
        },
    );
    let out = r.as_user(&["run", "c1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        text.lines()
            .filter(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "300000", "65536"])
            .count(),
        2,
        "{text}"
    );
}
