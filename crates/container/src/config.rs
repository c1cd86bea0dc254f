//! Loading and validating `config.json`. Every error names the field as a
//! JSON path (`process.args`, `mounts[2].destination`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Error, Result};

use crate::invalid::invalid;
pub use crate::invalid::Invalid;

/// Read `bundle/config.json`, parse it and check it.
pub fn load(bundle: &Path) -> Result<Spec> {
    let file = bundle.join("config.json");
    let text = std::fs::read(&file).map_err(Error::io("read", &file))?;
    parse(&text).map_err(|Invalid { field, detail }| Error::Config {
        file,
        field,
        detail,
    })
}

/// Parse and validate a config from its JSON text.
pub fn parse(text: &[u8]) -> Result<Spec, Invalid> {
    let mut value: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| invalid("(top level)", e.to_string()))?;
    crate::lenient::config(&mut value);
    let spec: Spec = serde_path_to_error::deserialize(value).map_err(|e| {
        let field = match e.path().to_string() {
            p if p == "." => "(top level)".to_string(),
            p => p,
        };
        invalid(field, e.inner().to_string())
    })?;
    validate(&spec)?;
    Ok(spec)
}

/// The namespace types the config asks for, new or joined.
pub fn namespace_types(spec: &Spec) -> HashSet<LinuxNamespaceType> {
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    namespaces.into_iter().flatten().map(|n| n.typ()).collect()
}

/// Checks the schema cannot express, and those runc makes before it
/// creates anything.
pub fn validate(spec: &Spec) -> Result<(), Invalid> {
    let version = spec.version();
    if version.is_empty() {
        return Err(invalid("ociVersion", "is required"));
    }
    if !version.starts_with("1.") {
        return Err(invalid(
            "ociVersion",
            format!("{version:?} is not a 1.x version of the runtime spec"),
        ));
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| invalid("root", "is required"))?;
    if root.path().as_os_str().is_empty() {
        return Err(invalid("root.path", "must not be empty"));
    }
    validate_process(spec)?;
    validate_hooks(spec)?;
    validate_mounts(spec)?;
    validate_linux(spec)?;
    crate::unsupported::check(spec)
}

fn validate_process(spec: &Spec) -> Result<(), Invalid> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| invalid("process", "is required to create a container"))?;
    validate_process_fields(process)
}

/// The checks of `process`, also made on the process of an `exec`.
pub fn validate_process_fields(process: &oci_spec::runtime::Process) -> Result<(), Invalid> {
    // Labels for a security module the host does not run (runc refuses
    // them too).
    if let Some((field, module)) = init::lsm::missing_for_process(process) {
        return Err(invalid(
            field,
            format!("{module} is not enabled on this host"),
        ));
    }
    if let Some(a) = process.exec_cpu_affinity() {
        for (name, list) in [("initial", a.initial()), ("final", a.cpu_affinity_final())] {
            if let Some(list) = list {
                init::parse_cpu_list(list)
                    .map_err(|d| invalid(format!("process.execCPUAffinity.{name}"), d))?;
            }
        }
    }
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(invalid("process.args", "must not be empty"));
    }
    warn_about_unraisable_ambient_caps(process);
    if !process.cwd().is_absolute() {
        return Err(invalid(
            "process.cwd",
            format!("{:?} is not an absolute path", process.cwd()),
        ));
    }
    let mut seen = HashSet::new();
    for (i, rl) in process.rlimits().iter().flatten().enumerate() {
        let name = rl.typ().to_string();
        if !init::is_known_rlimit(&name) {
            return Err(invalid(
                format!("process.rlimits[{i}].type"),
                format!("unknown rlimit {name:?}"),
            ));
        }
        if !seen.insert(name.clone()) {
            return Err(invalid(
                format!("process.rlimits[{i}].type"),
                format!("{name} is set twice"),
            ));
        }
        if rl.soft() > rl.hard() {
            return Err(invalid(
                format!("process.rlimits[{i}]"),
                "soft limit is above the hard limit",
            ));
        }
    }
    for (i, e) in process.env().iter().flatten().enumerate() {
        if !e.contains('=') {
            return Err(invalid(
                format!("process.env[{i}]"),
                format!("{e:?} is not of the form KEY=value"),
            ));
        }
    }
    Ok(())
}

/// `linux.mountLabel` needs SELinux, like the process labels.
/// The kernel raises an ambient capability only if it is permitted and
/// inheritable too; one that is not is skipped, with runc's warning (for
/// any user, root included, as runc warns).
fn warn_about_unraisable_ambient_caps(process: &oci_spec::runtime::Process) {
    let Some(caps) = process.capabilities() else {
        return;
    };
    let has = |set: &Option<oci_spec::runtime::Capabilities>, c| {
        set.as_ref().is_some_and(|s| s.contains(c))
    };
    for c in caps.ambient().iter().flatten() {
        if !has(caps.permitted(), c) || !has(caps.inheritable(), c) {
            log::warn!(
                "can't raise ambient capability CAP_{c}: operation not permitted (process.capabilities.ambient: it is not both permitted and inheritable)"
            );
        }
    }
}

fn validate_mount_label(linux: &oci_spec::runtime::Linux) -> Result<(), Invalid> {
    let label = linux.mount_label().as_deref();
    match init::lsm::missing_for_mount_label(label) {
        Some((field, module)) => Err(invalid(
            field,
            format!("{module} is not enabled on this host"),
        )),
        None => Ok(()),
    }
}

/// A hook's path must be absolute (config.md).
fn validate_hooks(spec: &Spec) -> Result<(), Invalid> {
    use init::hooks::Kind;
    for kind in Kind::ALL {
        for (i, hook) in init::hooks::of_kind(spec, kind).iter().enumerate() {
            if !hook.path().is_absolute() {
                return Err(invalid(
                    format!("hooks.{}[{i}].path", kind.name()),
                    format!("{:?} is not an absolute path", hook.path()),
                ));
            }
        }
    }
    Ok(())
}

fn validate_mounts(spec: &Spec) -> Result<(), Invalid> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let dest = m.destination();
        if !dest.is_absolute() {
            return Err(invalid(
                format!("mounts[{i}].destination"),
                format!("{dest:?} is not an absolute path"),
            ));
        }
        if m.typ().as_deref() == Some("bind") && m.source().is_none() {
            return Err(invalid(
                format!("mounts[{i}].source"),
                "a bind mount needs a source",
            ));
        }
    }
    Ok(())
}

fn validate_linux(spec: &Spec) -> Result<(), Invalid> {
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| invalid("linux", "is required on Linux"))?;
    let types = validate_namespaces(spec, linux)?;
    let has = |t| types.contains(&t);
    validate_user_namespace(spec, has(LinuxNamespaceType::User))?;
    validate_mount_label(linux)?;
    validate_net_devices(linux, has(LinuxNamespaceType::Network))?;
    if linux.time_offsets().is_some() && !has(LinuxNamespaceType::Time) {
        return Err(invalid(
            "linux.timeOffsets",
            "time offsets need a time namespace",
        ));
    }
    if let Some(s) = linux.seccomp() {
        validate_seccomp(s)?;
    }
    for (key, _) in linux.sysctl().iter().flatten() {
        validate_sysctl(key, &types)?;
    }
    validate_container_paths(linux)
}

/// No type twice, absolute paths, and the namespaces other settings need.
fn validate_namespaces(
    spec: &Spec,
    linux: &oci_spec::runtime::Linux,
) -> Result<HashSet<LinuxNamespaceType>, Invalid> {
    let mut types = HashSet::new();
    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        if !types.insert(ns.typ()) {
            return Err(invalid(
                format!("linux.namespaces[{i}]"),
                format!("namespace type {} appears twice", ns.typ()),
            ));
        }
        if let Some(p) = ns.path().as_ref().filter(|p| !p.is_absolute()) {
            return Err(invalid(
                format!("linux.namespaces[{i}].path"),
                format!("{p:?} is not an absolute path"),
            ));
        }
    }
    if !types.contains(&LinuxNamespaceType::Mount) {
        shares_the_mount_namespace(spec, linux)?;
    }
    let uts = types.contains(&LinuxNamespaceType::Uts);
    for (field, value) in [
        ("hostname", spec.hostname()),
        ("domainname", spec.domainname()),
    ] {
        if value.as_ref().is_some_and(|h| !h.is_empty()) && !uts {
            return Err(invalid(
                field,
                format!("setting the {field} needs a uts namespace"),
            ));
        }
    }
    Ok(types)
}

/// A container without a mount namespace of its own shares the runtime's
/// (the spec's rule for an unlisted namespace): its mounts are made there,
/// under the rootfs. What would change mounts outside the rootfs, or hide
/// paths only a private namespace can hide, needs a namespace of its own
/// (runc refuses masked and read-only paths likewise).
fn shares_the_mount_namespace(
    spec: &Spec,
    linux: &oci_spec::runtime::Linux,
) -> Result<(), Invalid> {
    let needs = |field: &str| {
        Err(invalid(
            field,
            "needs a mount namespace of the container's own (linux.namespaces has no \"mount\")",
        ))
    };
    if linux.masked_paths().as_ref().is_some_and(|p| !p.is_empty()) {
        return needs("linux.maskedPaths");
    }
    if linux
        .readonly_paths()
        .as_ref()
        .is_some_and(|p| !p.is_empty())
    {
        return needs("linux.readonlyPaths");
    }
    if linux.rootfs_propagation().is_some() {
        return needs("linux.rootfsPropagation");
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        return needs("root.readonly");
    }
    Ok(())
}

fn validate_net_devices(linux: &oci_spec::runtime::Linux, netns: bool) -> Result<(), Invalid> {
    for (host, dev) in linux.net_devices().iter().flatten() {
        let field = format!("linux.netDevices[{host:?}]");
        if !netns {
            return Err(invalid(
                field,
                "moving a device needs a network namespace of the container's own",
            ));
        }
        let name = dev.name().as_deref().unwrap_or(host);
        if name.is_empty()
            || name.len() > 15
            || name.contains('/')
            || name.chars().any(char::is_whitespace)
        {
            return Err(invalid(
                format!("{field}.name"),
                format!("{name:?} is not a network device name"),
            ));
        }
    }
    Ok(())
}

/// Actions crust maps, and a listener where a rule notifies one.
fn validate_seccomp(s: &oci_spec::runtime::LinuxSeccomp) -> Result<(), Invalid> {
    match s.listener_path() {
        None if init::seccomp::uses_notify(s) => {
            return Err(invalid(
                "linux.seccomp.listenerPath",
                "is required when SCMP_ACT_NOTIFY is used",
            ))
        }
        Some(p) if !p.is_absolute() => {
            return Err(invalid(
                "linux.seccomp.listenerPath",
                format!("{p:?} is not an absolute path"),
            ))
        }
        _ => {}
    }
    init::seccomp::action(s.default_action(), s.default_errno_ret())
        .map_err(|d| invalid("linux.seccomp.defaultAction", d))?;
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        init::seccomp::action(rule.action(), rule.errno_ret())
            .map_err(|d| invalid(format!("linux.seccomp.syscalls[{i}].action"), d))?;
    }
    Ok(())
}

/// Paths inside the container must be absolute.
fn validate_container_paths(linux: &oci_spec::runtime::Linux) -> Result<(), Invalid> {
    let devices = linux
        .devices()
        .iter()
        .flatten()
        .map(|d| d.path().to_string_lossy().to_string());
    let lists: [(&str, Vec<String>); 3] = [
        ("devices", devices.collect()),
        (
            "maskedPaths",
            linux.masked_paths().clone().unwrap_or_default(),
        ),
        (
            "readonlyPaths",
            linux.readonly_paths().clone().unwrap_or_default(),
        ),
    ];
    for (field, paths) in lists {
        for (i, p) in paths.iter().enumerate() {
            if !Path::new(p).is_absolute() {
                let field = if field == "devices" {
                    format!("linux.devices[{i}].path")
                } else {
                    format!("linux.{field}[{i}]")
                };
                return Err(invalid(field, format!("{p:?} is not an absolute path")));
            }
        }
    }
    Ok(())
}

fn validate_user_namespace(spec: &Spec, userns: bool) -> Result<(), Invalid> {
    let linux = spec.linux().as_ref();
    let uid_maps = linux
        .and_then(|l| l.uid_mappings().as_ref())
        .is_some_and(|m| !m.is_empty());
    let gid_maps = linux
        .and_then(|l| l.gid_mappings().as_ref())
        .is_some_and(|m| !m.is_empty());
    let joined = linux
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
        .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_some());
    if (uid_maps || gid_maps) && !userns {
        return Err(invalid(
            "linux.uidMappings",
            "id mappings need a user namespace",
        ));
    }
    if userns && !joined && !(uid_maps && gid_maps) {
        return Err(invalid(
            "linux.uidMappings",
            "a new user namespace needs both uidMappings and gidMappings",
        ));
    }
    Ok(())
}

/// A sysctl is accepted only if the container has the namespace that makes
/// it private; otherwise writing it would change the host (as runc checks).
fn validate_sysctl(key: &str, types: &HashSet<LinuxNamespaceType>) -> Result<(), Invalid> {
    let field = format!("linux.sysctl[{key:?}]");
    if init::sysctl_key_path(key).is_none() {
        return Err(invalid(field, "not a valid sysctl name"));
    }
    let key = key.replace('/', ".");
    let needs = if key.starts_with("kernel.msg")
        || key.starts_with("kernel.sem")
        || key.starts_with("kernel.shm")
        || key.starts_with("fs.mqueue.")
    {
        Some(LinuxNamespaceType::Ipc)
    } else if key.starts_with("net.") {
        Some(LinuxNamespaceType::Network)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(LinuxNamespaceType::Uts)
    } else {
        None
    };
    match needs {
        Some(ns) if types.contains(&ns) => Ok(()),
        Some(ns) => Err(invalid(
            field,
            format!("needs a {ns} namespace of the container's own"),
        )),
        None => Err(invalid(
            field,
            "is not namespaced: writing it would change the host",
        )),
    }
}

/// The absolute path of the rootfs: `root.path` relative to the bundle.
pub fn rootfs_path(spec: &Spec, bundle: &Path) -> PathBuf {
    let root = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .unwrap_or_default();
    if root.is_absolute() {
        root
    } else {
        bundle.join(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_util::{edited, Edit};

    fn field_of(edit: impl FnOnce(&mut serde_json::Value)) -> Option<String> {
        let spec: Spec = serde_json::from_value(edited(edit)).unwrap();
        validate(&spec).err().map(|e| e.field)
    }

    #[test]
    fn settings_crust_cannot_honour_are_named() {
        assert_eq!(field_of(|_| {}), None);
        let refused =
            field_of(|v| v["process"]["apparmorProfile"] = serde_json::json!("docker-default"));
        assert_eq!(refused.as_deref(), Some("process.apparmorProfile"));
        assert_eq!(
            field_of(|v| v["hooks"] = serde_json::json!({"prestart": []})),
            None
        );
    }

    fn with(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Spec, Invalid> {
        parse(&serde_json::to_vec(&edited(edit)).unwrap())
    }

    #[test]
    fn the_default_config_is_valid() {
        with(|_| {}).unwrap();
    }

    /// oci-spec checks execCPUAffinity with a regex, served by regex-lite
    /// (crates/regex): ranges and lists pass, anything but ASCII digits is
    /// refused where the config is read — `\d` no longer matches other
    /// Unicode digits, which the runtime could not parse as CPU numbers.
    #[test]
    fn exec_cpu_affinity_is_checked_with_ascii_digits() {
        let affinity = |list: &str| {
            let list = list.to_string();
            with(move |v| v["process"]["execCPUAffinity"] = serde_json::json!({"initial": list}))
                .err()
                .map(|e| e.field)
        };
        assert_eq!(affinity("0-1,3"), None);
        assert_eq!(affinity("7"), None);
        for bad in ["\u{0661}", "0-\u{0663}", "0,,1", "1-", "x"] {
            assert_eq!(
                affinity(bad).as_deref(),
                Some("process.execCPUAffinity.initial"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn errors_name_the_field() {
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|v| v["process"]["args"] = serde_json::json!([])),
                "process.args",
            ),
            (
                Box::new(|v| v["process"]["args"] = serde_json::json!("sh")),
                "process.args",
            ),
            (
                Box::new(|v| v["process"]["user"]["uid"] = serde_json::json!(-1)),
                "process.user.uid",
            ),
            (
                Box::new(|v| v["process"]["cwd"] = serde_json::json!("relative")),
                "process.cwd",
            ),
            (
                Box::new(|v| v["mounts"][1]["destination"] = serde_json::json!("dev")),
                "mounts[1].destination",
            ),
            (
                Box::new(|v| v["linux"]["namespaces"][0]["type"] = serde_json::json!("bogus")),
                "linux.namespaces[0].type",
            ),
            (
                Box::new(|v| v["linux"]["namespaces"][1]["type"] = serde_json::json!("pid")),
                "linux.namespaces[1]",
            ),
            (
                Box::new(|v| v["ociVersion"] = serde_json::json!("")),
                "ociVersion",
            ),
            (
                Box::new(|v| v["ociVersion"] = serde_json::json!("2.0.0")),
                "ociVersion",
            ),
            (
                Box::new(|v| {
                    v["process"]["rlimits"][0]["type"] = serde_json::json!("RLIMIT_BOGUS")
                }),
                "process.rlimits[0].type",
            ),
            (
                Box::new(|v| v["process"]["rlimits"][0]["soft"] = serde_json::json!(4096)),
                "process.rlimits[0]",
            ),
            (
                Box::new(|v| {
                    v["linux"]["sysctl"] = serde_json::json!({"kernel.core_pattern": "x"})
                }),
                "linux.sysctl[\"kernel.core_pattern\"]",
            ),
            (
                Box::new(|v| {
                    v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
                    v["hostname"] = serde_json::Value::Null;
                    v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"});
                }),
                "linux.sysctl[\"net.ipv4.ip_forward\"]",
            ),
            (
                Box::new(|v| v["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}])),
                "hostname",
            ),
            (
                Box::new(|v| {
                    v["linux"]["uidMappings"] =
                        serde_json::json!([{"containerID":0,"hostID":0,"size":1}])
                }),
                "linux.uidMappings",
            ),
            (
                // Sharing the runtime's mount namespace, masks cannot work.
                Box::new(|v| v["linux"]["namespaces"] = serde_json::json!([{"type":"pid"}])),
                "linux.maskedPaths",
            ),
            (Box::new(|v| v["root"] = serde_json::Value::Null), "root"),
            (
                Box::new(|v| {
                    v["process"]["selinuxLabel"] =
                        serde_json::json!("system_u:system_r:container_t:s0")
                }),
                "process.selinuxLabel",
            ),
            (
                Box::new(|v| v["hooks"] = serde_json::json!({"poststop": [{"path": "true"}]})),
                "hooks.poststop[0].path",
            ),
            (
                Box::new(|v| v["linux"]["maskedPaths"][0] = serde_json::json!("proc/kcore")),
                "linux.maskedPaths[0]",
            ),
        ];
        for (edit, field) in cases {
            let err = with(edit).expect_err(field);
            assert_eq!(err.field, field, "{err:?}");
        }
    }

    #[test]
    fn malformed_json_is_an_error_not_a_panic() {
        assert!(parse(b"{").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"[]").is_err());
    }

    #[test]
    fn namespaced_sysctls_are_accepted() {
        with(|v| {
            v["linux"]["sysctl"] =
                serde_json::json!({"kernel.shmmax": "1000", "kernel/msgmax": "8192"});
        })
        .unwrap();
    }
}
