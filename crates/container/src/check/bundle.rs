//! A bundle's findings: what `create` would refuse, found with the same
//! code `create` runs, stopped before anything is made (no state, no
//! cgroup, no process; idmapped trees are built detached and dropped).

use std::os::fd::AsFd;
use std::path::Path;

use oci_spec::runtime::Spec;

use super::{Finding, Status};

/// `create`'s checks for the bundle at `path`, and the filesystems its
/// rootfs and bind sources are on. `systemd`: `--systemd-cgroup`.
pub fn bundle(path: &Path, systemd: bool) -> Vec<Finding> {
    let fail = |name: &str, detail: String, fix: &str| Finding::fail("bundle", name, detail, fix);
    let bundle = match std::fs::canonicalize(path) {
        Ok(b) => b,
        Err(e) => {
            return vec![fail(
                "bundle",
                format!("open {path:?}: {e}"),
                "name the bundle directory",
            )]
        }
    };
    let spec = match crate::config::load(&bundle) {
        Ok(s) => s,
        Err(e) => {
            return vec![fail(
                "config.json",
                e.to_string(),
                "change the field it names",
            )]
        }
    };
    let mut out = vec![Finding::ok(
        "bundle",
        "config.json",
        "valid for this runtime",
    )];
    let rootfs = match crate::create::checked_rootfs(&crate::config::rootfs_path(&spec, &bundle)) {
        Ok(r) => r,
        Err(e) => {
            out.push(fail(
                "root.path",
                e.to_string(),
                "point root.path at the container's root directory",
            ));
            return out;
        }
    };
    out.push(Finding::ok("bundle", "root.path", format!("{rootfs:?}")));
    out.push(namespaces(&spec));
    out.push(cgroup(&spec, systemd));
    out.push(seccomp(&spec));
    out.push(
        match init::idmap::prepare(
            &spec,
            &bundle,
            &rootfs,
            &crate::userns::with_mappings,
            rustix::process::geteuid().is_root(),
        ) {
            Ok(trees) => Finding::ok(
                "bundle",
                "idmapped mounts",
                format!("{} prepared", trees.len()),
            ),
            Err(e) => fail(
                "idmapped mounts",
                e.to_string(),
                "a filesystem that supports idmapped mounts, or no idmap option",
            ),
        },
    );
    out.push(hooks(&spec));
    out.extend(filesystems(&spec, &bundle, &rootfs));
    out
}

fn namespaces(spec: &Spec) -> Finding {
    let types = crate::config::namespace_types(spec);
    let user = types.contains(&oci_spec::runtime::LinuxNamespaceType::User);
    let field = "linux.namespaces";
    if !rustix::process::geteuid().is_root() && !user {
        return Finding::fail(
            "bundle",
            field,
            "crust runs unprivileged and the config has no user namespace: create needs root, or a user namespace to be root in",
            "crust spec --rootless writes such a config; or run as root",
        );
    }
    if let Err(e) = crate::namespaces::Plan::from_spec(spec) {
        return Finding::fail(
            "bundle",
            field,
            e.to_string(),
            "name namespaces that exist, of the right type",
        );
    }
    let new_user = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter().any(|n| {
                n.typ() == oci_spec::runtime::LinuxNamespaceType::User && n.path().is_none()
            })
        });
    if new_user {
        let host = super::host::user_namespaces();
        if host.status != Status::Ok {
            return Finding {
                area: "bundle",
                name: field.into(),
                status: Status::Fail,
                ..host
            };
        }
    }
    Finding::ok("bundle", field, "every namespace can be made or joined")
}

/// The cgroup plan and every resource setting translated for this host's
/// layout, as create does before it writes anything.
fn cgroup(spec: &Spec, systemd: bool) -> Finding {
    let field = "linux.resources";
    let planned = match crate::cgroup::plan(spec, "check", systemd) {
        Ok(c) => c,
        Err(e) => {
            return Finding::fail(
                "bundle",
                "linux.cgroupsPath",
                e.to_string(),
                "change the cgroup path or driver",
            )
        }
    };
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    let Some(r) = resources else {
        return Finding::ok("bundle", field, "none asked");
    };
    // Unprivileged, without a delegated cgroup, the container runs without
    // one, and create refuses limits rather than drop them.
    if !rustix::process::geteuid().is_root() && crate::cgroup::asks_for_limits(spec) {
        if let Ok(layout) = cgroups::Layout::probe() {
            let delegated = super::host::delegation(&layout);
            if delegated.status != Status::Ok {
                return Finding {
                    area: "bundle",
                    name: field.into(),
                    status: Status::Fail,
                    detail: format!("limits asked, and {}", delegated.detail),
                    ..delegated
                };
            }
        }
    }
    let checked = cgroups::settings::settings(r, &|c| planned.version_of(c))
        .map(|list| list.len())
        .and_then(|n| {
            cgroups::devices::rules(r.devices().as_deref().unwrap_or_default()).map(|_| n)
        });
    match checked {
        Ok(n) => Finding::ok("bundle", field, format!("{n} settings, each with its controller on this host")),
        Err(e) => Finding::fail(
            "bundle",
            field,
            e.to_string(),
            "drop the setting, or give the host the controller (crust check lists the missing ones)",
        ),
    }
}

fn seccomp(spec: &Spec) -> Finding {
    let field = "linux.seccomp";
    let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Finding::ok("bundle", field, "none");
    };
    if init::seccomp::uses_notify(s) && init::seccomp::api_level() < 5 {
        return Finding::fail(
            "bundle",
            field,
            "SCMP_ACT_NOTIFY needs seccomp user notifications, which this kernel lacks",
            "a Linux 5.0 or newer kernel",
        );
    }
    match init::seccomp::compile(s) {
        Ok(_) => Finding::ok("bundle", field, "compiles"),
        Err(e) => Finding::fail("bundle", field, e.to_string(), "change the rule it names"),
    }
}

/// Hooks run during create: each path must be an executable file.
fn hooks(spec: &Spec) -> Finding {
    let field = "hooks";
    for kind in init::hooks::Kind::ALL {
        for (i, hook) in init::hooks::of_kind(spec, kind).iter().enumerate() {
            let path = hook.path();
            let executable =
                rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok() && path.is_file();
            if !executable {
                return Finding::fail(
                    "bundle",
                    format!("hooks.{}[{i}]", kind.name()),
                    format!("{path:?} is not an executable file"),
                    "install the hook, or remove it from the config",
                );
            }
        }
    }
    Finding::ok("bundle", field, "every hook is an executable file")
}

/// Idmapped-mount support of the filesystem holding the rootfs and of each
/// bind source (one finding per filesystem).
fn filesystems(spec: &Spec, bundle: &Path, rootfs: &Path) -> Vec<Finding> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    let binds = spec
        .mounts()
        .iter()
        .flatten()
        .filter(|m| init::is_bind_mount(m))
        .filter_map(|m| {
            let source = m.source().as_ref()?;
            Some(if source.is_absolute() {
                source.clone()
            } else {
                bundle.join(source)
            })
        });
    for (path, what) in
        std::iter::once((rootfs.to_path_buf(), "the rootfs".to_string())).chain(binds.map(|p| {
            let w = format!("bind source {p:?}");
            (p, w)
        }))
    {
        let Ok(st) = rustix::fs::stat(&path) else {
            continue;
        };
        if seen.contains(&st.st_dev) {
            continue;
        }
        seen.push(st.st_dev);
        out.push(idmapped(&path, &what));
    }
    out
}

/// Whether the filesystem at `path` takes idmapped mounts: a detached
/// clone of it is idmapped for real (never attached anywhere).
pub(super) fn idmapped(path: &Path, what: &str) -> Finding {
    let name = format!("idmapped mounts on {what}");
    let kind = fs_name(path);
    if !rustix::process::geteuid().is_root() {
        return Finding::warn(
            "mounts",
            name,
            format!("{kind} at {path:?}: not checked (cloning a mount needs root)"),
            "run crust check as root",
        );
    }
    let maps = [oci_spec::runtime::LinuxIdMappingBuilder::default()
        .container_id(0u32)
        .host_id(100000u32)
        .size(1u32)
        .build()
        .expect("complete")];
    let tried = crate::userns::with_mappings(&init::idmap::Mappings {
        uid: &maps,
        gid: &maps,
    })
    .map_err(|e| e.to_string())
    .and_then(|userns| {
        let tree = rustix::mount::open_tree(
            rustix::fs::CWD,
            path,
            rustix::mount::OpenTreeFlags::OPEN_TREE_CLONE
                | rustix::mount::OpenTreeFlags::OPEN_TREE_CLOEXEC,
        )
        .map_err(|e| format!("open_tree: {e}"))?;
        let attr = sys::mount::MountAttr {
            attr_set: libc::MOUNT_ATTR_IDMAP,
            userns_fd: u64::try_from(std::os::fd::AsRawFd::as_raw_fd(&userns.as_fd()))
                .unwrap_or_default(),
            ..Default::default()
        };
        sys::mount::mount_setattr(tree.as_fd(), c"", false, &attr)
            .map_err(|e| format!("mount_setattr(MOUNT_ATTR_IDMAP): {e}"))
    });
    match tried {
        Ok(()) => Finding::ok("mounts", name, format!("{kind} at {path:?} takes them")),
        Err(e) => Finding::warn(
            "mounts",
            name,
            format!("{kind} at {path:?} does not take them ({e}): mounts with uidMappings or idmap from there are refused"),
            "keep idmapped sources on a filesystem that supports them (ext4, xfs, btrfs, tmpfs 6.3+, overlayfs 5.19+)",
        ),
    }
}

/// The filesystem type of `path`, by its magic number.
fn fs_name(path: &Path) -> String {
    let Ok(st) = rustix::fs::statfs(path) else {
        return "a filesystem".into();
    };
    let name = match st.f_type as u64 {
        0xEF53 => "ext4",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x794C_7630 => "overlayfs",
        0x2FC1_2FC1 => "zfs",
        0x6969 => "nfs",
        0x6573_5546 => "fuse",
        0x0102_1997 => "9p",
        other => return format!("filesystem 0x{other:x}"),
    };
    name.to_string()
}
