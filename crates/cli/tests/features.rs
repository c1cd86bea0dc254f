//! `crust features` tells the truth: every claimed item works in a real
//! container.

mod common;

use common::{stderr, stdout, Bundle};
use serde_json::{json, Value};

fn features() -> Value {
    let out = std::process::Command::new(common::CRUST)
        .arg("features")
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_claimed_mount_option_mounts() {
    let f = features();
    let options: Vec<String> = serde_json::from_value(f["mountOptions"].clone()).unwrap();
    let mut b = Bundle::new("true");
    let host = b.dir.path().join("host");
    std::fs::create_dir(&host).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    for opt in &options {
        let dest = format!("/opts/{opt}");
        mounts.push(match opt.as_str() {
            "bind" | "rbind" => {
                json!({"destination": dest, "type": "none", "source": host, "options": [opt]})
            }
            "idmap" | "ridmap" => {
                let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
                json!({"destination": dest, "type": "bind", "source": host, "options": [opt], "uidMappings": map, "gidMappings": map})
            }
            "remount" => json!({"destination": "/dev", "type": "none", "options": ["remount"]}),
            _ => json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": [opt]}),
        });
    }
    let out = b.run("c1");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn every_claimed_namespace_and_capability_works() {
    let f = features();
    let namespaces: Vec<String> = serde_json::from_value(f["linux"]["namespaces"].clone()).unwrap();
    let mut b = Bundle::new("grep -E '^Cap(Eff|Bnd)' /proc/self/status");
    b.config["linux"]["namespaces"] = json!(namespaces
        .iter()
        .map(|n| json!({"type": n}))
        .collect::<Vec<_>>());
    b.with_user_namespace(100000);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .pop(); // with_user_namespace added a second "user"
    let caps: Vec<String> = serde_json::from_value(f["linux"]["capabilities"].clone()).unwrap();
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set] = json!(caps);
    }
    let out = b.run("c1");
    assert!(out.status.success(), "{}", stderr(&out));
    // Every capability the kernel knows is granted.
    let last_cap: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let all = format!("{:016x}", (1u128 << (last_cap + 1)) - 1);
    assert!(
        stdout(&out).contains(&format!("CapEff:\t{all}")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn every_claimed_hook_kind_runs() {
    let f = features();
    let kinds: Vec<String> = serde_json::from_value(f["hooks"].clone()).unwrap();
    let mut b = Bundle::new("true");
    let out = b.dir.path().join("ran");
    std::fs::create_dir(&out).unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": out, "type": "bind", "source": out, "options": ["bind"]}));
    let mut hooks = json!({});
    for k in &kinds {
        hooks[k] = json!([{"path": "/bin/sh", "args": ["sh", "-c", format!("touch {}/{k}", out.display())]}]);
    }
    b.config["hooks"] = hooks;
    let res = b.run("c1");
    assert!(res.status.success(), "{}", stderr(&res));
    for k in &kinds {
        assert!(out.join(k).exists(), "{k} did not run");
    }
}

#[test]
fn unimplemented_features_are_not_claimed() {
    let f = features();
    for key in ["apparmor", "selinux", "intelRdt"] {
        assert_eq!(f["linux"][key]["enabled"], false, "{key}");
    }
    // The systemd driver is there (tested under a real systemd by
    // scripts/systemd-vm.sh), for the system's manager and a user's.
    assert_eq!(f["linux"]["cgroup"]["systemd"], true);
    assert_eq!(f["linux"]["cgroup"]["systemdUser"], true);
}

/// Both cgroup versions are claimed (tests/cgroups.rs runs on v1, hybrid
/// and v2), and the layout crust found is this host's.
#[test]
fn the_cgroup_layout_is_this_hosts() {
    let f = features();
    assert_eq!(f["linux"]["cgroup"]["v1"], true);
    assert_eq!(f["linux"]["cgroup"]["v2"], true);
    let layout = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "v2"
    } else if std::path::Path::new("/sys/fs/cgroup/unified/cgroup.controllers").exists() {
        "hybrid"
    } else {
        "v1"
    };
    assert_eq!(f["annotations"]["org.crust.cgroup.layout"], layout);
}

#[test]
fn every_claimed_memory_policy_mode_and_flag_applies() {
    let f = features();
    let modes: Vec<String> =
        serde_json::from_value(f["linux"]["memoryPolicy"]["modes"].clone()).unwrap();
    let flags: Vec<String> =
        serde_json::from_value(f["linux"]["memoryPolicy"]["flags"].clone()).unwrap();
    let mut policies: Vec<Value> = modes
        .iter()
        .map(|m| match m.as_str() {
            "MPOL_DEFAULT" | "MPOL_LOCAL" => json!({"mode": m}),
            _ => json!({"mode": m, "nodes": "0"}),
        })
        .collect();
    policies.extend(
        flags
            .iter()
            .map(|fl| json!({"mode": "MPOL_BIND", "nodes": "0", "flags": [fl]})),
    );
    for (i, policy) in policies.into_iter().enumerate() {
        let mut b = Bundle::new("true");
        b.config["linux"]["memoryPolicy"] = policy.clone();
        let out = b.run(&format!("c{i}"));
        assert!(out.status.success(), "{policy}: {}", stderr(&out));
    }
}

/// Every claimed seccomp action, operator, architecture and flag goes into
/// one filter a real container loads (each action on a syscall busybox
/// `true` never makes; SCMP_ACT_NOTIFY, which needs an agent, has its own
/// test in seccomp.rs).
#[test]
fn every_claimed_seccomp_item_loads() {
    let f = features();
    let list = |k: &str| -> Vec<String> {
        serde_json::from_value(f["linux"]["seccomp"][k].clone()).unwrap()
    };
    let rare = [
        "acct",
        "swapoff",
        "syslog",
        "vhangup",
        "pivot_root",
        "quotactl",
        "add_key",
        "request_key",
        "keyctl",
        "uselib",
    ];
    let mut syscalls: Vec<Value> = list("actions")
        .iter()
        .filter(|a| *a != "SCMP_ACT_ALLOW" && *a != "SCMP_ACT_NOTIFY")
        .zip(rare)
        .map(|(a, name)| json!({"names": [name], "action": a}))
        .collect();
    for (i, op) in list("operators").iter().enumerate() {
        let (value, value_two) = if op == "SCMP_CMP_MASKED_EQ" {
            (0xff, 0x7)
        } else {
            (i as u64 + 1000, 0)
        };
        syscalls.push(json!({"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": value, "valueTwo": value_two, "op": op}]}));
    }
    let mut b = Bundle::new("true");
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": list("supportedFlags"),
        "syscalls": syscalls,
    });
    let out = b.run("c1");
    assert!(out.status.success(), "{}", stderr(&out));
    // One filter holds architectures of one byte order only: each claimed
    // one is loaded next to the native one, in a container of its own.
    for (i, arch) in list("archs").iter().enumerate() {
        let mut b = Bundle::new("true");
        b.config["linux"]["seccomp"] =
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", arch]});
        let out = b.run(&format!("a{i}"));
        assert!(out.status.success(), "{arch}: {}", stderr(&out));
    }
}
