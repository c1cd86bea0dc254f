//! The container's cgroup from the host side: made and limited before the
//! init runs, found again from the state by later commands.

use cgroups::systemd::{Manager, Unit};
use cgroups::{Cgroup, Layout};
use oci_spec::runtime::Spec;

use crate::error::Result;

/// Where the container's cgroup goes: decided (and recorded in the state)
/// before anything is made, so that a crash at any later point leaves a
/// record `delete --force` can clean up from.
///
/// With the systemd driver the plan is the unit and where systemd will put
/// its cgroup: below the manager's own (asked of a user's manager, `/` for
/// the system's).
pub(crate) fn plan(spec: &Spec, id: &str, systemd: bool) -> Result<Cgroup> {
    let linux = spec.linux().as_ref();
    let path = linux.and_then(|l| l.cgroups_path().as_deref());
    let layout = Layout::probe()?;
    if !systemd {
        return Ok(Cgroup::for_container(&layout, path, id)?);
    }
    let user = !rustix::process::geteuid().is_root();
    if user && !layout.v1.is_empty() {
        return Err(cgroups::Error::invalid(
            "--systemd-cgroup",
            "a user's systemd manager can delegate only cgroup v2, and this host has v1 \
             hierarchies (runc refuses this too); run as root, or on a cgroup v2 host",
        )
        .into());
    }
    let unit = Unit::from_cgroups_path(path.map(|p| p.to_string_lossy()).as_deref(), id, user)?;
    let root = if user {
        Manager::connect(true)?.root_cgroup()?
    } else {
        std::path::PathBuf::from("/")
    };
    Ok(Cgroup::for_unit(&layout, unit, &root))
}

/// systemd driver: once the init exists (and waits), its unit is started
/// around it and the resources written, as `set_up` does for cgroupfs.
/// On error the caller kills the init; the unit then goes with it.
pub(crate) fn join_unit(spec: &Spec, cgroup: &Cgroup, pid: i32) -> Result<()> {
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    let annotations = spec.annotations().clone().unwrap_or_default();
    cgroup.start_unit(pid, resources, &annotations)?;
    crate::fault::point("create:unit");
    apply(spec, cgroup)
}

/// Make the planned cgroup and apply `linux.resources` to it; false when
/// the container goes without one.
///
/// An unprivileged runtime without a delegated cgroup runs the container
/// without one, as runc does, unless the config asks for limits: those it
/// refuses rather than drop.
pub(crate) fn set_up(spec: &Spec, cgroup: &Cgroup) -> Result<bool> {
    if cgroup.unit.is_some() {
        // Made around the init by `join_unit`.
        return Ok(true);
    }
    if let Err(e) = cgroup.create() {
        if is_permission_error(&e) && !rustix::process::geteuid().is_root() {
            if asks_for_limits(spec) {
                return Err(e.into());
            }
            log::debug!("no cgroup for the container: {e}");
            return Ok(false);
        }
        // `create` removed what it made; the rest is not the container's.
        return Err(e.into());
    }
    match apply(spec, cgroup) {
        Ok(()) => Ok(true),
        Err(e) => {
            if let Err(cleanup) = cgroup.destroy() {
                log::warn!("removing the cgroup after a failed create: {cleanup}");
            }
            Err(e)
        }
    }
}

fn apply(spec: &Spec, cgroup: &Cgroup) -> Result<()> {
    let linux = spec.linux().as_ref();
    let Some(resources) = linux.and_then(|l| l.resources().as_ref()) else {
        return Ok(());
    };
    cgroup.apply(resources)?;
    let config = resources.devices().as_deref().unwrap_or_default();
    if let Some(rules) = cgroups::devices::rules(config)? {
        cgroup.apply_devices(&rules)?;
    }
    Ok(())
}

fn is_permission_error(e: &cgroups::Error) -> bool {
    matches!(
        e,
        cgroups::Error::Io {
            errno: rustix::io::Errno::ACCESS | rustix::io::Errno::PERM | rustix::io::Errno::ROFS,
            ..
        }
    )
}

/// Whether `linux.resources` asks for anything beyond the device rules.
pub(crate) fn asks_for_limits(spec: &Spec) -> bool {
    let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) else {
        return false;
    };
    let mut limits = r.clone();
    limits.set_devices(None);
    limits != oci_spec::runtime::LinuxResources::default()
}

/// The v1 `tasks` files a child of crust moves itself into the container's
/// cgroups with (`init::cgroup`).
pub(crate) fn tasks_files(cgroup: &cgroups::Cgroup) -> Result<Vec<init::cgroup::Tasks>> {
    Ok(cgroup
        .open_v1_tasks()?
        .into_iter()
        .map(|(path, file)| init::cgroup::Tasks { path, file })
        .collect())
}
